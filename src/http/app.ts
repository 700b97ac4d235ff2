import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { withoutAccessToken } from '../auth/authenticator.ts';
import { ChatError } from '../chat/errors.ts';
import { corsFor } from './cors.ts';
import type { HttpDeps } from './deps.ts';
import { send } from './envelope.ts';
import { abuseLimits } from './limits/abuse-limits.ts';
import { openApi } from './openapi.ts';
import { validatorCompiler } from './validation.ts';
import { authRoutes } from './routes/auth.ts';
import { deviceRoutes } from './routes/devices.ts';
import { historyRoutes } from './routes/history.ts';
import { opsRoutes } from './routes/ops.ts';
import { peopleRoutes } from './routes/people.ts';
import { fileRoutes } from './routes/files.ts';
import { openChatRoutes } from './routes/open-chat.ts';
import { presenceRoutes } from './routes/presence.ts';
import { roomRoutes } from './routes/rooms.ts';
import { webAppRoutes } from './routes/web-app.ts';

/** The FlameTalk HTTP API: original paths, the `{status, message, data}` envelope, real status codes. */
export async function buildHttpApp(deps: HttpDeps): Promise<FastifyInstance> {
  const log = deps.logger.child({ component: 'http' });
  const app = Fastify({
    // fastify's own per-request lines would dominate the output at chat rates: requests are logged
    // at debug below, failures by the error handler. A request is logged without its access token.
    loggerInstance: deps.logger.child({ component: 'http' }, {
      level: 'warn',
      serializers: { req: (request: FastifyRequest) => ({ method: request.method, url: withoutAccessToken(request.url), remoteAddress: request.ip }) },
    }) as FastifyBaseLogger,
    bodyLimit: deps.config.maxBodyBytes,
    // Behind a proxy every request comes from the proxy; per-address limits need the client's address.
    ...(deps.config.trustedProxies ? { trustProxy: deps.config.trustedProxies } : {}),
  });
  app.setValidatorCompiler(validatorCompiler());

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ChatError) {
      // Only the password-hashing queue says "busy"; it drains within a second or two.
      if (error.status === 503) reply.header('retry-after', '1');
      return send(reply, error.status, error.message, { code: error.code });
    }
    if (error.validation) return send(reply, 400, error.message, { code: 'bad_request' });
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const limit = deps.config.maxBodyBytes;
      return send(reply, 413, `the request body is larger than the limit of ${limit} bytes (MAX_BODY_BYTES)`, { code: 'body_too_large', limitBytes: limit });
    }
    const status = error.statusCode ?? 500;
    if (status < 500) return send(reply, status, error.message, { code: error.code ?? 'bad_request' });
    request.log.error({ err: error, url: withoutAccessToken(request.url) }, 'request failed');
    return send(reply, 500, 'internal server error', { code: 'internal' });
  });

  app.setNotFoundHandler((request, reply) => send(reply, 404, `no route ${request.method} ${request.url.split('?')[0]}`, { code: 'no_route' }));

  app.addHook('onResponse', async (request, reply) => {
    if (log.isLevelEnabled('debug')) {
      log.debug({ method: request.method, url: withoutAccessToken(request.url), statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'HTTP request');
    }
    deps.metrics.httpLatency
      .labels(request.method, request.routeOptions.url ?? 'unmatched', String(reply.statusCode))
      .observe(reply.elapsedTime / 1000);
  });

  await corsFor(app, deps.config.corsOrigins);
  const limits = await abuseLimits(app, deps.config, deps.logger);
  await openApi(app);

  await app.register(opsRoutes, deps);
  await app.register(authRoutes, { ...deps, limits });
  await app.register(deviceRoutes, deps);
  await app.register(roomRoutes, deps);
  await app.register(historyRoutes, deps);
  await app.register(presenceRoutes, deps);
  if (deps.people) await app.register(peopleRoutes, { ...deps, people: deps.people });
  if (deps.files) await app.register(fileRoutes, { ...deps, files: deps.files });
  if (deps.openChat) await app.register(openChatRoutes, { ...deps, openChat: deps.openChat });
  if (deps.webApp) await app.register(webAppRoutes, deps.webApp);
  return app;
}
