import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

describe('history over HTTP', () => {
  let node: TestNode;
  let ann: TestUser;
  let bob: TestUser;
  let roomId: string;
  const posted: string[] = [];

  before(async () => {
    node = await startNode();
    [ann, bob] = await Promise.all([node.signUp('Ann'), node.signUp('Bob')]);
    roomId = await node.createRoom(ann, [bob]);
    for (let i = 0; i < 250; i++) {
      const sender = i % 2 ? { userId: bob.userId, deviceId: 'phone', nickname: 'Bob' } : { userId: ann.userId, deviceId: 'phone', nickname: 'Ann' };
      const result = await node.server.chat.messages.post(sender, { roomId, messageType: 'TALK', contents: `message ${i}` });
      posted.push(result.messageId);
    }
    await waitFor(async () => (await node.server.ports.store.countAfter(roomId, undefined, 1000)) === 251, 'all 250 and the INVITE persisted');
  });
  after(() => node.stop());

  const history = (query: string, token = ann.accessToken) => node.request('GET', `/api/chat/history/${roomId}${query}`, { token });

  it('pages 250 messages newest first, 50 at a time, with no gap or repeat', async () => {
    const seen: any[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await history(`?limit=50${cursor ? `&before=${cursor}` : ''}`);
      assert.equal(response.status, 200);
      const { messages, nextCursor } = response.body.data;
      assert.ok(messages.length <= 50);
      seen.push(...messages);
      cursor = nextCursor;
      pages++;
    } while (cursor);
    assert.equal(pages, 6, 'five full pages and the last with the room\'s INVITE');
    assert.deepEqual(seen.slice(0, 250).map((m) => m.messageId), [...posted].reverse());
    assert.deepEqual(seen.slice(0, 2).map((m) => m.contents), ['message 249', 'message 248']);
    const invite = seen.at(-1);
    assert.equal(invite.messageType, 'INVITE');
    assert.deepEqual(invite.userIds, [bob.userId]);
    assert.equal(invite.senderId, ann.userId);
    const first = seen.at(-2);
    assert.deepEqual(Object.keys(first).sort(), ['contents', 'createdAt', 'fileUrl', 'messageId', 'messageType', 'nickname', 'roomId', 'senderId']);
    assert.equal(first.nickname, 'Ann');
    assert.ok(!Number.isNaN(Date.parse(first.createdAt)));
  });

  it('returns exactly the messages after lastReadMessageId', async () => {
    const lastRead = posted[199]!;
    const response = await history(`?lastReadMessageId=${lastRead}&limit=100`);
    assert.deepEqual(response.body.data.messages.map((m: any) => m.messageId), posted.slice(200).reverse());
    assert.equal(response.body.data.nextCursor, null);
    const paged = await history(`?lastReadMessageId=${posted[99]}&limit=100`);
    assert.equal(paged.body.data.messages.length, 100);
    const rest = await history(`?lastReadMessageId=${posted[99]}&limit=100&before=${paged.body.data.nextCursor}`);
    assert.deepEqual([...paged.body.data.messages, ...rest.body.data.messages].map((m: any) => m.messageId), posted.slice(100).reverse());
  });

  it('counts unread messages from the reader\'s position, as the room list shows', async () => {
    const unread = async (user: TestUser) => {
      const rooms = (await node.request('GET', '/api/chatroom', { token: user.accessToken })).body.data as any[];
      return rooms.find((r) => r.roomId === roomId).unreadCount as number;
    };
    assert.equal(await unread(bob), 251, 'the INVITE counts like any message');
    await node.server.chat.messages.markRead(bob.userId, roomId, posted[179]!);
    assert.equal(await unread(bob), 70);
    const after = await history(`?lastReadMessageId=${posted[179]}&limit=100`, bob.accessToken);
    assert.equal(after.body.data.messages.length, 70, 'history agrees with the count');
    await node.server.chat.messages.markRead(bob.userId, roomId, posted[10]!);
    assert.equal(await unread(bob), 70, 'a read position never moves back');
  });

  it('rejects bad paging parameters, naming them', async () => {
    for (const [query, field] of [['?limit=0', 'limit'], ['?limit=101', 'limit'], ['?limit=abc', 'limit'], ['?before=xyz', 'before'], ['?lastReadMessageId=-1', 'lastReadMessageId'], ['?page=2', 'additional']] as const) {
      const response = await history(query);
      assert.equal(response.status, 400, query);
      assert.match(response.body.message, new RegExp(field), query);
    }
  });
});
