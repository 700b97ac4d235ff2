import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startNode } from '../support/server.ts';
import { TestSocket } from '../support/ws-client.ts';

describe('graceful stop in embedded mode', () => {
  it('tells every client 4200, refuses new ones, and persists every acked message', async () => {
    // 60 sockets of one user, beyond the default cap of 50.
    const node = await startNode({ config: { drainBatchSize: 7, rateLimitPerSecond: 1000, rateLimitBurst: 1000, maxConnectionsPerUser: 100 } });
    const ann = await node.signUp('Ann');
    const roomId = await node.createRoom(ann, []);
    const clients = await Promise.all(Array.from({ length: 60 }, () => TestSocket.connect(node.wsUrl, ann.accessToken)));
    await Promise.all(clients.map((c) => c.join(roomId)));
    const acked: string[] = [];
    let sending = true;
    const senders = clients.slice(0, 5).map(async (client) => {
      while (sending) {
        const reply = await client.sendText(roomId, 'during shutdown').catch(() => undefined);
        if (reply?.type === 'ack') acked.push(reply.messageId);
        else break;
      }
    });
    await new Promise((r) => setTimeout(r, 100));
    const store = node.server.ports.store;
    const stopping = node.stop();
    const codes = await Promise.all(clients.map((c) => c.closed.then((e) => e.code)));
    sending = false;
    await stopping;
    await Promise.all(senders);
    assert.deepEqual([...new Set(codes)], [4200]);
    await assert.rejects(TestSocket.connect(node.wsUrl, ann.accessToken));
    assert.ok(acked.length > 0, 'messages were acked before the stop');
    const stored = new Set((await store.history(roomId, { limit: 10_000 })).map((m) => m.messageId));
    assert.deepEqual(acked.filter((id) => !stored.has(id)), [], 'every acked message is in the store');
  });
});
