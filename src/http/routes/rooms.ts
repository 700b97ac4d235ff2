import type { FastifyInstance } from 'fastify';
import { iso, messageDto } from '../../chat/dto.ts';
import type { RoomDetail, RoomSummary } from '../../chat/rooms.ts';
import { requireAuth } from '../authentication.ts';
import type { HttpDeps } from '../deps.ts';
import { ok, send } from '../envelope.ts';
import { body, roomParams, snowflakeId, userId } from '../schemas.ts';
import { fileDto, originOf } from './files.ts';

const title = { type: 'string', minLength: 1, maxLength: 100 } as const;

const detailDto = (room: RoomDetail) => ({
  ...room,
  createdAt: iso(room.createdAt),
  members: room.members.map((m) => ({ ...m, joinedAt: iso(m.joinedAt) })),
});

const summaryDto = (room: RoomSummary) => ({
  ...room,
  createdAt: iso(room.createdAt),
  lastMessage: room.lastMessage && messageDto(room.lastMessage),
});

export async function roomRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const { rooms } = deps;
  requireAuth(app, deps.authenticate);

  app.post<{ Body: { users: string[]; title?: string; isOpen?: boolean; openProfileId?: string } }>('/api/chatroom', {
    schema: {
      body: body({ users: { type: 'array', items: userId, maxItems: 500 }, title, isOpen: { type: 'boolean' }, openProfileId: snowflakeId }, ['users']),
    },
  }, async (request, reply) => {
    const { users, title: name, isOpen, openProfileId } = request.body;
    return send(reply, 201, 'room created', detailDto(await rooms.create(request.identity.userId, users, name, isOpen, openProfileId)));
  });

  app.post<{ Body: { chatroomId: string; openProfileId?: string } }>('/api/chatroom/join', {
    schema: { body: body({ chatroomId: snowflakeId, openProfileId: snowflakeId }, ['chatroomId']) },
  }, async (request, reply) => {
    const { chatroomId, openProfileId } = request.body;
    const me = request.identity.userId;
    const room = openProfileId ? await rooms.joinOpenRoom(me, chatroomId, openProfileId) : await rooms.join(me, chatroomId);
    return ok(reply, 'joined the room', detailDto(room));
  });

  app.get('/api/chatroom', async (request, reply) =>
    ok(reply, 'my rooms', (await rooms.listMine(request.identity.userId)).map(summaryDto)));

  app.get<{ Params: { id: string } }>('/api/chatroom/:id', { schema: { params: roomParams('id') } }, async (request, reply) => {
    const room = detailDto(await rooms.detail(request.identity.userId, request.params.id));
    const name = await rooms.namingOf(room.roomId);
    // The latest files of the room, as FlameTalk's room screen shows them.
    const files = deps.files ? (await deps.files.latest(room.roomId)).map((f) => fileDto(f, originOf(request, deps.config.filesPublicUrl), name)) : undefined;
    // An open room's link code, for members to share.
    const code = room.isOpen && deps.openChat ? (await deps.openChat.entry(room.roomId))?.code : undefined;
    return ok(reply, 'room', { ...room, ...(files ? { files } : {}), ...(code ? { code } : {}) });
  });

  app.put<{ Params: { id: string }; Body: { title?: string | null; inputLock?: boolean; muted?: boolean } }>('/api/chatroom/:id', {
    schema: {
      params: roomParams('id'),
      body: {
        ...body({ title: { anyOf: [title, { type: 'null' }] }, inputLock: { type: 'boolean' }, muted: { type: 'boolean' } }),
        minProperties: 1,
      },
    },
  }, async (request, reply) => {
    const room = await rooms.updateMine(request.identity.userId, request.params.id, request.body);
    return ok(reply, 'room settings saved', detailDto(room));
  });

  app.delete<{ Params: { id: string } }>('/api/chatroom/:id', { schema: { params: roomParams('id') } }, async (request, reply) => {
    await rooms.leave(request.identity.userId, request.params.id);
    return ok(reply, 'left the room', null);
  });

  app.post<{ Params: { id: string }; Body: { users: string[] } }>('/api/chatroom/:id/invite', {
    schema: {
      params: roomParams('id'),
      body: body({ users: { type: 'array', items: userId, minItems: 1, maxItems: 500 } }, ['users']),
    },
  }, async (request, reply) => ok(reply, 'invited', detailDto(await rooms.invite(request.identity.userId, request.params.id, request.body.users))));

  app.get<{ Params: { id: string } }>('/api/chatroom/:id/users', { schema: { params: roomParams('id') } },
    async (request, reply) => ok(reply, 'member ids', { userIds: await rooms.memberIds(request.identity.userId, request.params.id) }));
}
