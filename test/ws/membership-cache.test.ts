import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { sleep } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

/**
 * Sockets check membership from the node's store cache (so a store outage does not stop members
 * who were here before): a removal is still seen within STORE_CACHE_TTL_MS, even one that never
 * got past the store (no signal told the node), and an addition at once.
 */
describe('membership checks of sockets from the store cache', () => {
  const TTL_MS = 300;
  let node: TestNode;
  let ann: TestUser;
  let bob: TestUser;
  const sockets: TestSocket[] = [];

  before(async () => {
    node = await startNode({ config: { storeCacheTtlMs: TTL_MS } });
    [ann, bob] = [await node.signUp('Ann'), await node.signUp('Bob')];
  });

  after(async () => {
    for (const socket of sockets) socket.ws.terminate();
    await node.stop();
  });

  const connect = async (user: TestUser): Promise<TestSocket> => {
    const socket = await TestSocket.connect(node.wsUrl, user.accessToken);
    sockets.push(socket);
    return socket;
  };

  it('refuses the sends of a member whose removal stopped after the store, once the copy is older than the TTL', async () => {
    const roomId = await node.createRoom(ann, [bob]);
    const [annSocket, bobSocket] = [await connect(ann), await connect(bob)];
    await annSocket.join(roomId);
    await bobSocket.join(roomId);
    assert.equal((await annSocket.sendText(roomId, 'still here')).type, 'ack');

    // The first step of a leave, and nothing after it: no presence update, no signal to the sockets.
    await node.server.ports.store.removeMember(roomId, ann.userId);
    await sleep(TTL_MS + 100);
    const refused = await annSocket.sendText(roomId, 'after the removal');
    assert.equal(refused.type, 'error');
    assert.equal(refused.code, 'not_member');
    assert.equal((await bobSocket.sendText(roomId, 'a member still sends')).type, 'ack');

    const history = await node.request('GET', `/api/chat/history/${roomId}`, { token: bob.accessToken });
    const talk = history.body.data.messages.filter((m: any) => m.messageType === 'TALK').map((m: any) => m.contents);
    assert.deepEqual(talk, ['a member still sends', 'still here'], 'the refused send is not stored');
  });

  it('lets a user just added to a room join at once (an absence is never cached)', async () => {
    const roomId = await node.createRoom(bob, []);
    const annSocket = await connect(ann);
    const refused = await annSocket.call({ type: 'join', roomId });
    assert.equal(refused.code, 'not_member');
    const invited = await node.request('POST', `/api/chatroom/${roomId}/invite`, { token: bob.accessToken, body: { users: [ann.userId] } });
    assert.equal(invited.status, 200);
    assert.equal((await annSocket.join(roomId)).type, 'joined');
    assert.equal((await annSocket.sendText(roomId, 'hello')).type, 'ack');
  });
});
