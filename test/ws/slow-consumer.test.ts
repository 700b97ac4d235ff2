import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Socket } from 'node:net';
import { startNode, type TestNode } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

const CAP = 256 * 1024;

describe('a client that stops reading', () => {
  let node: TestNode;
  before(async () => {
    node = await startNode({ config: { maxBufferedBytes: CAP } });
  });
  after(() => node.stop());

  const gauge = async (name: string): Promise<number> => {
    const text = await (await fetch(`${node.baseUrl}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  };

  it('is disconnected once its buffer passes the cap, while the others get everything and memory stays bounded', { timeout: 60_000 }, async () => {
    const [ann, bob, cat] = await Promise.all([node.signUp('Ann'), node.signUp('Bob'), node.signUp('Cat')]);
    const roomId = await node.createRoom(ann, [bob, cat]);
    const slow = await TestSocket.connect(node.wsUrl, bob.accessToken);
    const fast = await TestSocket.connect(node.wsUrl, cat.accessToken);
    await slow.join(roomId);
    await fast.join(roomId);
    // The slow client's TCP socket stops reading: the kernel buffers fill, then uWS buffers.
    ((slow.ws as unknown as { _socket: Socket })._socket).pause();

    const contents = 'x'.repeat(3_900);
    const sender = { userId: ann.userId, deviceId: 'phone', nickname: 'Ann' };
    let maxBuffered = 0;
    let posted = 0;
    const sampler = setInterval(() => {
      gauge('flametalk_outbound_buffered_bytes').then((value) => (maxBuffered = Math.max(maxBuffered, value)), () => undefined);
    }, 10);
    try {
      while ((await gauge('flametalk_connections')) === 2) {
        assert.ok(posted < 20_000, 'the slow client was never cut off (80 MB sent)');
        await Promise.all(Array.from({ length: 100 }, () => node.server.chat.messages.post(sender, { roomId, messageType: 'TALK', contents })));
        posted += 100;
        // Pace the flood by the fast reader, so what piles up is the slow one's backlog alone.
        await waitFor(() => fast.of('message', roomId).length >= posted, 'the fast client to keep up');
      }
    } finally {
      clearInterval(sampler);
    }
    assert.ok(posted * contents.length > CAP, 'more than the cap was sent before the cut');
    assert.ok(maxBuffered <= CAP + 64 * 1024, `buffered bytes stayed near the cap: max ${maxBuffered}`);
    await waitFor(() => fast.of('message', roomId).length >= posted, `the fast client to get all ${posted}`, 30_000);
    assert.equal((await fast.call({ type: 'ping' })).type, 'pong');
    ((slow.ws as unknown as { _socket: Socket })._socket).resume();
    const { code } = await slow.closed;
    assert.notEqual(code, 1000, 'the slow client did not leave on its own');
    assert.ok(slow.of('message', roomId).length < posted, 'the slow client missed what overflowed');
    console.log(`slow consumer cut after ${posted} messages (${(posted * contents.length / 1e6).toFixed(1)} MB), max buffered ${maxBuffered} bytes, close code ${code}`);
    await fast.close();
  });
});
