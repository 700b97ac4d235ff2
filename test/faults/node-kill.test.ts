import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ContinuousSender, ProcessCluster, duplicates, historyHolding, type ProcessNode } from '../support/process-node.ts';
import type { TestUser } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';

/**
 * `kill -9` of one node of two while clients on both send: nothing acknowledged is lost, the dead
 * node's clients move to the survivor and recover exactly what they missed, and the dead node's
 * presence goes away within the configured lease.
 */
describe('a node killed with SIGKILL mid-traffic', { timeout: 240_000 }, () => {
  const LEASE_MS = 3_000;
  let cluster: ProcessCluster;
  let a: ProcessNode;
  let b: ProcessNode;
  /** ann only on A (sending), bob only on B (sending), dan on both A and B (idle). */
  let ann: TestUser;
  let bob: TestUser;
  let dan: TestUser;
  let roomId: string;
  const connect = (node: ProcessNode, user: TestUser) => cluster.connect(node, user);

  before(async () => {
    cluster = new ProcessCluster({
      PRESENCE_LEASE_MS: String(LEASE_MS), RECOVERY_LIMIT: '1000',
    });
    [a, b] = await cluster.startAll(['A', 'B']);
    [ann, bob, dan] = await Promise.all([b.signUp('Ann'), b.signUp('Bob'), b.signUp('Dan')]);
    roomId = await b.createRoom(ann, [bob, dan]);
  });

  after(async () => {
    await cluster?.cleanup();
  });

  it('loses no acked message; the killed node\'s client recovers exactly what it missed on the other node; presence of the dead node vanishes within the lease', async (t) => {
    const annOnA = await connect(a, ann);
    const danOnA = await connect(a, dan);
    const bobOnB = await connect(b, bob);
    const danOnB = await connect(b, dan);
    for (const socket of [annOnA, danOnA, bobOnB, danOnB]) await socket.join(roomId);
    const presenceViaB = async () => ((await b.request('GET', `/api/presence/${roomId}`, { token: bob.accessToken })).body.data.userIds as string[]).sort();
    assert.deepEqual(await presenceViaB(), [ann.userId, bob.userId, dan.userId].sort());

    const annSends = new ContinuousSender(annOnA, roomId, 'ann', { everyMs: 10 }).start();
    const bobSends = new ContinuousSender(bobOnB, roomId, 'bob', { everyMs: 10 }).start();
    await waitFor(() => annSends.acks.size >= 50 && bobSends.acks.size >= 50 && annOnA.of('message', roomId).length >= 50, 'traffic both ways', 30_000);

    a.kill('SIGKILL');
    const killedAt = performance.now();
    const bobAckedBeforeKill = bobSends.acks.size;
    const exit = await a.exited;
    assert.equal(exit.signal, 'SIGKILL');
    assert.notEqual((await annOnA.closed).code, 4200, 'a killed node says nothing');
    // The last message ann saw arrive is where she resumes (her own sends came back as acks).
    const seenByAnn = annOnA.of('message', roomId).map((f) => f.message.messageId as string);
    const since = seenByAnn.at(-1)!;

    // Presence: users only A held (ann) leave, users also on B (dan) stay; B's members hear it.
    const gone = await waitFor(async () => ((await presenceViaB()).includes(ann.userId) ? undefined : performance.now()), 'ann to leave presence', 20_000, 25);
    const vanishedAfter = gone - killedAt;
    t.diagnostic(`presence of the dead node gone ${vanishedAfter.toFixed(0)} ms after the kill (PRESENCE_LEASE_MS ${LEASE_MS})`);
    assert.deepEqual(await presenceViaB(), [bob.userId, dan.userId].sort());
    assert.ok(vanishedAfter <= LEASE_MS, `presence vanished ${vanishedAfter.toFixed(0)} ms after the kill, over the ${LEASE_MS} ms lease`);
    await bobOnB.next((f) => f.type === 'presence' && f.event === 'exit' && f.userId === ann.userId, 10_000, 'ann\'s exit at bob', true);
    // A typing event from dan on B comes after any exit the sweep published: once bob has it, he has them all.
    danOnB.send({ type: 'typing', roomId });
    await bobOnB.next((f) => f.type === 'typing' && f.userId === dan.userId, 10_000, 'dan typing at bob', true);
    assert.deepEqual(
      bobOnB.of('presence', roomId).filter((f) => f.event === 'exit').map((f) => f.userId),
      [ann.userId],
      'one exit, for ann only: dan is still here through B',
    );

    // Bob kept sending on B all along.
    await waitFor(() => bobSends.acks.size >= bobAckedBeforeKill + 200, 'bob sending on after the kill', 30_000);
    await bobSends.stop();
    assert.equal(bobSends.inFlight, 0, 'every send on B answered');
    assert.deepEqual([...bobSends.errors.values()], [], 'B kept accepting sends');

    // Everything acknowledged is in history, once, even the part the dead node was persisting.
    const acked = [...annSends.ackedIds(), ...bobSends.ackedIds()];
    t.diagnostic(`${annSends.acks.size} acked on A before the kill (${annSends.inFlight} unanswered), ${bobSends.acks.size} acked on B`);
    const history = await historyHolding(b, bob, roomId, acked, 60_000);
    const ids = history.map((m) => m.messageId as string);
    assert.deepEqual(duplicates(ids), [], 'each message once');

    // Ann reconnects to B and asks for what came after the last message she saw.
    const annOnB = await connect(b, ann);
    const rejoined = await annOnB.join(roomId, since);
    assert.equal(rejoined.recovered, true);
    const missed = (rejoined.missed as Array<Record<string, any>>).map((m) => m.messageId as string);
    const expected = [...ids].filter((id) => BigInt(id) > BigInt(since)).sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1));
    assert.deepEqual(missed, expected, 'exactly the messages after the last one she saw, oldest first');
    const known = new Set([...seenByAnn, ...missed]);
    assert.deepEqual(bobSends.ackedIds().filter((id) => !known.has(id)), [], 'ann now has every message bob got acked');
    t.diagnostic(`ann recovered ${missed.length} messages on B`);
  });
});
