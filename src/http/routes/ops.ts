import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../deps.ts';
import { ok, send } from '../envelope.ts';

export async function opsRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/healthz', async (_request, reply) => ok(reply, 'alive', null));

  app.get('/readyz', async (_request, reply) => {
    const backends = await deps.readiness();
    const ready = Object.values(backends).every((state) => state === 'ok');
    return send(reply, ready ? 200 : 503, ready ? 'ready' : 'a backend is not reachable', backends);
  });

  // With METRICS_PORT set, metrics live on their own port only (see metrics-server.ts).
  if (deps.config.metricsPort !== undefined) return;
  app.get('/metrics', async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });
}
