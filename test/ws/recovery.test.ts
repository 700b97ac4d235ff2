import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

describe('recovery after a disconnect', () => {
  let node: TestNode;
  let ann: TestUser;
  let bob: TestUser;
  let roomId: string;

  before(async () => {
    node = await startNode({ config: { recoveryLimit: 50, rateLimitPerSecond: 1000, rateLimitBurst: 1000 } });
    [ann, bob] = await Promise.all([node.signUp('Ann'), node.signUp('Bob')]);
    roomId = await node.createRoom(ann, [bob]);
  });
  after(() => node.stop());

  async function missWhileAway(count: number): Promise<{ since: string; sent: string[] }> {
    const a = await TestSocket.connect(node.wsUrl, ann.accessToken);
    const b = await TestSocket.connect(node.wsUrl, bob.accessToken);
    await a.join(roomId);
    await b.join(roomId);
    const last = await a.sendText(roomId, 'before the disconnect');
    await b.next((f) => f.type === 'message' && f.message.messageId === last.messageId, 5000, 'the last message before leaving', true);
    await b.close();
    const sent: string[] = [];
    for (let i = 0; i < count; i++) sent.push((await a.sendText(roomId, `missed ${i}`)).messageId);
    await a.close();
    return { since: last.messageId, sent };
  }

  it('gives back exactly the 30 messages missed, in order, recovered', async () => {
    const { since, sent } = await missWhileAway(30);
    const b = await TestSocket.connect(node.wsUrl, bob.accessToken);
    const joined = await b.join(roomId, since);
    assert.equal(joined.recovered, true);
    assert.deepEqual(joined.missed.map((m: any) => m.messageId), sent);
    assert.deepEqual(joined.missed.map((m: any) => m.contents), sent.map((_, i) => `missed ${i}`));
    await b.close();
  });

  it('says recovered:false past one page and lets history serve the rest', async () => {
    const { since, sent } = await missWhileAway(80);
    await waitFor(async () => (await node.server.ports.store.lastMessage(roomId))?.messageId === sent.at(-1), 'persisted');
    const b = await TestSocket.connect(node.wsUrl, bob.accessToken);
    const joined = await b.join(roomId, since);
    assert.equal(joined.recovered, false);
    assert.deepEqual(joined.missed.map((m: any) => m.messageId), sent.slice(-50), 'the newest page, oldest first');
    const oldestMissed = joined.missed[0].messageId;
    const rest = await node.request('GET', `/api/chat/history/${roomId}?lastReadMessageId=${since}&before=${oldestMissed}&limit=100`, { token: bob.accessToken });
    assert.deepEqual(rest.body.data.messages.map((m: any) => m.messageId).reverse(), sent.slice(0, 30));
    await b.close();
  });

  it('recovers nothing when nothing was missed', async () => {
    const a = await TestSocket.connect(node.wsUrl, ann.accessToken);
    await a.join(roomId);
    const last = await a.sendText(roomId, 'latest');
    await waitFor(async () => (await node.server.ports.store.lastMessage(roomId))?.messageId === last.messageId, 'persisted');
    const b = await TestSocket.connect(node.wsUrl, bob.accessToken);
    const joined = await b.join(roomId, last.messageId);
    assert.deepEqual([joined.missed, joined.recovered], [[], true]);
    await a.close();
    await b.close();
  });
});
