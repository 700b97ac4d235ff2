import type { FastifyInstance } from 'fastify';
import { requireAuth } from '../authentication.ts';
import type { HttpDeps } from '../deps.ts';
import { ok } from '../envelope.ts';
import { roomParams } from '../schemas.ts';

export async function presenceRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  requireAuth(app, deps.authenticate);

  app.get<{ Params: { roomId: string } }>('/api/presence/:roomId', { schema: { params: roomParams('roomId') } }, async (request, reply) => {
    const { roomId } = request.params;
    await deps.rooms.requireMember(request.identity.userId, roomId);
    const name = await deps.rooms.namingOf(roomId);
    return ok(reply, 'users present in the room', { roomId, userIds: (await deps.presence.present(roomId)).map(name) });
  });
}
