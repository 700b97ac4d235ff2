import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { duplicates, fullHistory, ProcessNode } from './support/process-node.ts';
import type { TestUser } from './support/server.ts';
import { waitFor } from './support/wait.ts';
import { TestSocket } from './support/ws-client.ts';

/**
 * The embedded default keeps everything on disk: a real `npm start` process on a data directory,
 * killed and started again, still knows its accounts, tokens, rooms, history and read positions.
 */
describe('an embedded node restarted on its data directory', { timeout: 180_000 }, () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'flametalk-restart-'));
  // No JWT_SECRET: the key must come from the data directory, or the old tokens would fail.
  const env = { DATA_DIR: dataDir, HTTP_PORT: '0', WS_PORT: '0', LOG_LEVEL: 'info', LOG_PRETTY: 'false', RATE_LIMIT_PER_SECOND: '100000', RATE_LIMIT_BURST: '100000' };
  const nodes: ProcessNode[] = [];
  const start = async (): Promise<ProcessNode> => {
    const node = await ProcessNode.start(env, { name: `embedded-${nodes.length}` });
    nodes.push(node);
    return node;
  };
  after(async () => {
    for (const node of nodes) await node.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  let ann: TestUser;
  let bob: TestUser;
  let roomId: string;
  let acked: string[] = [];

  it('survives kill -9: sign-in, old tokens, history in order, read positions and unread counts, since recovery', async () => {
    const first = await start();
    assert.ok(first.logs().some((l) => l.source === 'generated'), 'the first start generates the key');
    [ann, bob] = [await first.signUp('Ann'), await first.signUp('Bob')];
    roomId = await first.createRoom(ann, [bob]);
    const annSocket = await TestSocket.connect(first.wsUrl, ann.accessToken);
    await annSocket.join(roomId);
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => annSocket.sendText(roomId, `m${i}`, `c${i}`)));
    assert.ok(replies.every((r) => r.type === 'ack'));
    acked = replies.map((r) => r.messageId as string);
    const bobRead = acked[149]!;
    const bobReading = await TestSocket.connect(first.wsUrl, bob.accessToken);
    await bobReading.join(roomId);
    bobReading.send({ type: 'read', roomId, messageId: acked[149] });
    await waitFor(async () => {
      const rooms = (await first.request('GET', '/api/chatroom', { token: bob.accessToken })).body.data;
      return rooms.find((r: any) => r.roomId === roomId)?.unreadCount === 50;
    }, 'Bob\'s read position');

    first.kill('SIGKILL');
    await first.exited;
    const second = await start();
    assert.ok(second.logs().some((l) => l.source === 'data-dir'), 'the key comes from the data directory');

    const rooms = await second.request('GET', '/api/chatroom', { token: bob.accessToken });
    assert.equal(rooms.status, 200, 'the old access token works');
    assert.equal(rooms.body.data.find((r: any) => r.roomId === roomId)?.unreadCount, 50, 'unread count as before');
    const refreshed = await second.request('POST', '/api/auth/token', { body: { refreshToken: ann.refreshToken } });
    assert.equal(refreshed.status, 200, 'the old refresh token works');
    ann = { ...ann, accessToken: refreshed.body.data.accessToken, refreshToken: refreshed.body.data.refreshToken };
    assert.equal((await second.request('POST', '/api/auth/signin', { body: { email: bob.email, password: bob.password, deviceId: 'laptop' } })).status, 200, 'sign-in works');

    const history = (await fullHistory(second, ann, roomId)).map((m) => m.messageId as string).reverse();
    assert.deepEqual(history, acked, 'exactly the 200 acked messages, in order');
    const bobSocket = await TestSocket.connect(second.wsUrl, bob.accessToken);
    const joined = await bobSocket.join(roomId, acked[179]);
    assert.equal(joined.recovered, true);
    assert.deepEqual(joined.missed.map((m: any) => m.messageId), acked.slice(180), 'since recovers exactly what came after it');
    await bobSocket.close();
  });

  it('keeps every acked message once when SIGTERM arrives during a burst of sends', async () => {
    const node = nodes.at(-1)!;
    const socket = await TestSocket.connect(node.wsUrl, ann.accessToken);
    await socket.join(roomId);
    const answers: Array<Promise<Record<string, any> | undefined>> = [];
    for (let i = 0; i < 300; i++) answers.push(socket.sendText(roomId, `burst ${i}`, `b${i}`).catch(() => undefined));
    setTimeout(() => node.kill('SIGTERM'), 20);
    const burstAcks = (await Promise.all(answers)).filter((a) => a?.type === 'ack').map((a) => a!.messageId as string);
    assert.equal((await node.exited).code, 0);
    const restarted = await start();
    const ids = (await fullHistory(restarted, ann, roomId)).map((m) => m.messageId as string);
    assert.deepEqual(duplicates(ids), [], 'none twice');
    const stored = new Set(ids);
    assert.deepEqual(burstAcks.filter((id) => !stored.has(id)), [], `every one of the ${burstAcks.length} acked burst messages is there`);
  });

  it('refuses a second process on the same data directory, naming the lock', async () => {
    const holder = nodes.at(-1)!;
    assert.ok(holder.alive);
    await assert.rejects(ProcessNode.start(env, { name: 'intruder', startTimeoutMs: 30_000 }), (error: Error) => {
      assert.match(error.message, /lock/i);
      assert.match(error.message, new RegExp(String(holder.pid)));
      return true;
    });
  });
});
