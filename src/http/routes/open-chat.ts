import type { FastifyInstance } from 'fastify';
import { iso } from '../../chat/dto.ts';
import { CODE_PATTERN, type OpenChat, type OpenRoomView } from '../../people/open-chat.ts';
import { requireAuth } from '../authentication.ts';
import type { HttpDeps } from '../deps.ts';
import { ok } from '../envelope.ts';
import { arrayOf, isoTime, object, replies } from '../response-schemas.ts';

const openRoomSchema = object({
  roomId: { type: 'string' }, code: { type: 'string', description: 'link code: share it, resolve it with GET /api/chatroom/open/{code}' },
  title: { type: 'string' }, memberCount: { type: 'integer' }, createdAt: isoTime,
});
const openRoomDto = (r: OpenRoomView) => ({ roomId: r.roomId, code: r.code, title: r.title, memberCount: r.memberCount, createdAt: iso(r.createdAt) });

/** The open room directory: search by title, resolve a link code. Joining is POST /api/chatroom/join with an openProfileId. */
export async function openChatRoutes(app: FastifyInstance, deps: HttpDeps & { openChat: OpenChat }): Promise<void> {
  const { openChat } = deps;
  requireAuth(app, deps.authenticate);

  app.get<{ Querystring: { query: string } }>('/api/chatroom/open', {
    schema: {
      summary: 'Find open rooms whose title contains the query (case-insensitive), newest first',
      querystring: { type: 'object', required: ['query'], additionalProperties: false, properties: { query: { type: 'string', minLength: 1, maxLength: 100 } } },
      response: replies(200, 'Open rooms', object({ rooms: arrayOf(openRoomSchema) })),
    },
  }, async (request, reply) => ok(reply, 'open rooms', { rooms: (await openChat.search(request.query.query)).map(openRoomDto) }));

  app.get<{ Params: { code: string } }>('/api/chatroom/open/:code', {
    schema: {
      summary: "Resolve an open room's link code",
      params: { type: 'object', required: ['code'], additionalProperties: false, properties: { code: { type: 'string', pattern: CODE_PATTERN } } },
      response: replies(200, 'The open room', openRoomSchema),
    },
  }, async (request, reply) => ok(reply, 'open room', openRoomDto(await openChat.byCode(request.params.code))));
}
