import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNode, type TestNode } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

describe('room actors', () => {
  let node: TestNode;
  before(async () => {
    node = await startNode({ config: { roomIdleMs: 150 } });
  });
  after(() => node.stop());

  const activeRooms = async (): Promise<number> => {
    const text = await (await fetch(`${node.baseUrl}/metrics`)).text();
    return Number(/^flametalk_active_rooms (\S+)$/m.exec(text)?.[1]);
  };

  it('live while the room has local sessions, stop when idle, and come back on the next join', async () => {
    const [ann, bob] = await Promise.all([node.signUp('Ann'), node.signUp('Bob')]);
    const roomId = await node.createRoom(ann, [bob]);
    const a = await TestSocket.connect(node.wsUrl, ann.accessToken);
    await a.join(roomId);
    assert.equal(await activeRooms(), 1);
    await a.call({ type: 'leave', roomId });
    await waitFor(async () => (await activeRooms()) === 0, 'the idle room actor to stop', 3_000);

    const b = await TestSocket.connect(node.wsUrl, bob.accessToken);
    await a.join(roomId);
    await b.join(roomId);
    assert.equal(await activeRooms(), 1);
    const ack = await a.sendText(roomId, 'after the restart');
    assert.equal((await b.next((f) => f.type === 'message')).message.messageId, ack.messageId);
    await a.close();
    await b.close();
    await waitFor(async () => (await activeRooms()) === 0, 'the room to go idle after both disconnect', 3_000);
  });
});
