import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ContinuousSender, ProcessCluster, duplicates, historyHolding, type ProcessNode } from '../support/process-node.ts';
import type { TestUser } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

/**
 * SIGTERM to a node holding 1,000 sockets, some of them sending: every client is told 4200
 * (reconnect elsewhere), everything acked is in the store, and the process exits 0 within
 * SHUTDOWN_TIMEOUT_MS. History is read through the other node of the cluster.
 */
describe('SIGTERM to a node with 1,000 connected clients', { timeout: 300_000 }, () => {
  const CLIENTS = 1_000;
  const USERS = 5;
  const SENDERS = 10;
  const LISTENERS = 40;
  const SHUTDOWN_TIMEOUT_MS = 10_000;
  let cluster: ProcessCluster;
  let a: ProcessNode;
  let b: ProcessNode;
  let users: TestUser[];
  let roomId: string;
  const sockets: TestSocket[] = [];

  before(async () => {
    cluster = new ProcessCluster({
      SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      // 200 sockets per user, beyond the default cap of 50.
      WS_MAX_CONNECTIONS_PER_USER: String(CLIENTS),
    });
    [a, b] = await cluster.startAll(['A', 'B']);
    // Sign-up costs a scrypt hash each: a handful of users, many sockets per user.
    users = await Promise.all(Array.from({ length: USERS }, (_, i) => b.signUp(`User ${i}`)));
    roomId = await b.createRoom(users[0]!, users.slice(1));
  });

  after(async () => {
    await cluster?.cleanup();
  });

  it('closes all 1,000 with 4200, keeps every acked message, and exits 0 within the bound', async (t) => {
    let next = 0;
    const opening = async (): Promise<void> => {
      while (next < CLIENTS) {
        const i = next++;
        sockets[i] = await cluster.connect(a, users[i % USERS]!);
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 50 }, opening));
    t.diagnostic(`${CLIENTS} sockets open on A in ${(performance.now() - t0).toFixed(0)} ms`);
    // Connected means admitted: every socket answers a ping.
    await Promise.all(sockets.map((s) => s.call({ type: 'ping' }, 30_000)));

    const joined = sockets.slice(0, SENDERS + LISTENERS);
    await Promise.all(joined.map((s) => s.join(roomId)));
    const senders = joined.slice(0, SENDERS).map((s, i) => new ContinuousSender(s, roomId, `s${i}`, { everyMs: 100 }).start());
    await waitFor(() => senders.every((s) => s.acks.size >= 20), 'every sender acked a few times', 30_000);

    a.kill('SIGTERM');
    const signalled = performance.now();
    const closes = await Promise.all(sockets.map((s) => s.closed));
    const allClosedAfter = performance.now();
    const exit = await a.exited;
    const codes = new Map<number, number>();
    for (const { code } of closes) codes.set(code, (codes.get(code) ?? 0) + 1);
    assert.deepEqual([...codes], [[4200, CLIENTS]], 'every client is told to reconnect elsewhere');
    t.diagnostic(`all ${CLIENTS} closed with 4200 within ${(allClosedAfter - signalled).toFixed(0)} ms of SIGTERM; exit ${exit.code} after ${exit.afterSignalMs!.toFixed(0)} ms`);
    assert.equal(exit.code, 0, `exit code\n${a.tail(20)}`);
    assert.ok(exit.afterSignalMs! < SHUTDOWN_TIMEOUT_MS, `exited ${exit.afterSignalMs!.toFixed(0)} ms after SIGTERM, bound ${SHUTDOWN_TIMEOUT_MS} ms`);
    assert.ok(a.logs().some((line) => line.msg === 'flametalk stopped'), 'a graceful stop, not the bound\'s forced exit');

    // Everything A acked reaches the store: history through B.
    const acked = senders.flatMap((s) => s.ackedIds());
    t.diagnostic(`${acked.length} sends acked before the shutdown, ${senders.reduce((n, s) => n + s.inFlight, 0)} unanswered`);
    const history = await historyHolding(b, users[0]!, roomId, acked, 60_000);
    assert.deepEqual(duplicates(history.map((m) => m.messageId as string)), [], 'each message once');
  });
});
