import type { FastifyInstance } from 'fastify';
import { messageDto } from '../../chat/dto.ts';
import { namedMessage } from '../../chat/member-ids.ts';
import { requireAuth } from '../authentication.ts';
import type { HttpDeps } from '../deps.ts';
import { ok } from '../envelope.ts';
import { roomParams, snowflakeId } from '../schemas.ts';

interface HistoryQuery { lastReadMessageId?: string; before?: string; limit: number }

export async function historyRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  requireAuth(app, deps.authenticate);

  app.get<{ Params: { roomId: string }; Querystring: HistoryQuery }>('/api/chat/history/:roomId', {
    schema: {
      params: roomParams('roomId'),
      querystring: {
        type: 'object', additionalProperties: false,
        properties: { lastReadMessageId: snowflakeId, before: snowflakeId, limit: { type: 'integer', minimum: 1, maximum: 100, default: 50 } },
      },
    },
  }, async (request, reply) => {
    const { roomId } = request.params;
    await deps.rooms.requireMember(request.identity.userId, roomId);
    const { lastReadMessageId, before, limit } = request.query;
    const page = await deps.messages.history(roomId, { before, after: lastReadMessageId, limit });
    const name = await deps.rooms.namingOf(roomId);
    // FILE messages outlive their URL's signature: history hands out fresh ones.
    const { files } = deps;
    const fresh = files ? page.messages.map((m) => (m.messageType === 'FILE' && m.fileUrl ? { ...m, fileUrl: files.refreshUrl(m.fileUrl) } : m)) : page.messages;
    return ok(reply, 'history, newest first', { messages: fresh.map((m) => messageDto(namedMessage(m, name))), nextCursor: page.nextCursor });
  });
}
