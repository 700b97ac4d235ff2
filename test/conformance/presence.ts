import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { PresenceStore } from '../../src/infra/ports/presence.ts';
import { sleep } from '../support/wait.ts';

/** Several nodes sharing one presence backend. */
export interface PresenceCluster {
  node(nodeId: string, leaseMs?: number): Promise<PresenceStore>;
  close(): Promise<void>;
}

const sorted = (values: string[]): string[] => [...values].sort();

export function presenceConformance(driver: string, makeCluster: () => Promise<PresenceCluster>): void {
  describe(`PresenceStore conformance: ${driver}`, () => {
    let cluster: PresenceCluster | undefined;
    const start = async (): Promise<PresenceCluster> => (cluster = await makeCluster());
    afterEach(async () => {
      await cluster?.close();
      cluster = undefined;
    });

    it('reports a user present once, however many connections they have', async () => {
      const a = await (await start()).node('a');
      assert.equal(await a.enter('r1', 'u1', 'c1'), true, 'first connection makes the user present');
      assert.equal(await a.enter('r1', 'u1', 'c2'), false, 'second connection is not a new arrival');
      assert.equal(await a.enter('r1', 'u2', 'c3'), true);
      assert.deepEqual(sorted(await a.present('r1')), ['u1', 'u2']);
      assert.deepEqual(await a.present('r2'), [], 'rooms are independent');
    });

    it('keeps a user present until their last connection leaves', async () => {
      const a = await (await start()).node('a');
      await a.enter('r1', 'u1', 'c1');
      await a.enter('r1', 'u1', 'c2');
      assert.equal(await a.exit('r1', 'u1', 'c1'), false);
      assert.deepEqual(await a.present('r1'), ['u1']);
      assert.equal(await a.exit('r1', 'u1', 'c2'), true, 'last connection gone: the user left');
      assert.deepEqual(await a.present('r1'), []);
      assert.equal(await a.exit('r1', 'u1', 'c2'), false, 'a second exit is not another departure');
    });

    it('ignores the exit of a connection it never saw', async () => {
      const a = await (await start()).node('a');
      await a.enter('r1', 'u1', 'c1');
      assert.equal(await a.exit('r1', 'u1', 'nope'), false);
      assert.equal(await a.exit('r1', 'u9', 'c1'), false);
      assert.deepEqual(await a.present('r1'), ['u1']);
    });

    it('counts connections across nodes', async () => {
      const c = await start();
      const a = await c.node('a');
      const b = await c.node('b');
      assert.equal(await a.enter('r1', 'u1', 'c1'), true);
      assert.equal(await b.enter('r1', 'u1', 'c1'), false, 'same user on another node (even with the same connection id)');
      assert.equal(await a.exit('r1', 'u1', 'c1'), false, 'still connected on node b');
      assert.deepEqual(await b.present('r1'), ['u1']);
      assert.equal(await b.exit('r1', 'u1', 'c1'), true);
      assert.deepEqual(await a.present('r1'), []);
    });

    it('finds the members who are not present, leaving out the sender', async () => {
      const a = await (await start()).node('a');
      await a.setMembers('r1', ['u1', 'u2', 'u3', 'u4']);
      assert.equal(await a.hasMembers('r1'), true);
      assert.equal(await a.hasMembers('r2'), false);
      await a.enter('r1', 'u1', 'c1');
      await a.enter('r1', 'u2', 'c2');
      assert.deepEqual(sorted(await a.absentMembers('r1', 'u1')), ['u3', 'u4']);
      assert.deepEqual(sorted(await a.absentMembers('r1', 'u3')), ['u4']);
      assert.deepEqual(sorted(await a.absentMembers('r1')), ['u3', 'u4']);
      await a.addMember('r1', 'u5');
      await a.removeMember('r1', 'u4');
      assert.deepEqual(sorted(await a.absentMembers('r1', 'u1')), ['u3', 'u5']);
      await a.setMembers('r1', ['u1', 'u9']);
      assert.deepEqual(await a.absentMembers('r1', 'u1'), ['u9'], 'setMembers replaces the mirror');
      assert.deepEqual(await a.absentMembers('r2', 'u1'), [], 'unknown room has no members');
    });

    it('a present user who is not a member is never reported absent', async () => {
      const a = await (await start()).node('a');
      await a.setMembers('r1', ['u1']);
      await a.enter('r1', 'stranger', 'c1');
      assert.deepEqual(await a.absentMembers('r1'), ['u1']);
    });

    it('sweeps the entries of a node whose lease ran out, once', async () => {
      const c = await start();
      const dead = await c.node('dead', 300);
      const live = await c.node('live', 300);
      await dead.enter('r1', 'u1', 'c1');
      await dead.enter('r2', 'u1', 'c2');
      await dead.enter('r1', 'u3', 'c3');
      await live.enter('r1', 'u2', 'c9');
      await live.enter('r1', 'u3', 'c8');
      assert.deepEqual(await live.sweep(100), { exits: [], more: false }, 'nothing expired yet');
      for (let i = 0; i < 4; i++) {
        await sleep(120);
        assert.equal(await live.heartbeat(), true, 'the live node keeps its lease');
      }
      const { exits, more } = await live.sweep(100);
      assert.equal(more, false);
      assert.deepEqual(
        exits.map((e) => `${e.roomId}/${e.userId}`).sort(),
        ['r1/u1', 'r2/u1'],
        'u3 is still connected through the live node, so only u1 left',
      );
      assert.deepEqual(sorted(await live.present('r1')), ['u2', 'u3']);
      assert.deepEqual(await live.present('r2'), []);
      assert.deepEqual(await live.sweep(100), { exits: [], more: false }, 'a second sweep finds nothing');
    });

    it('sweeps a large dead node in chunks of at most the limit, each exit once across concurrent sweepers', async () => {
      const c = await start();
      const dead = await c.node('dead', 200);
      const a = await c.node('a', 60_000);
      const b = await c.node('b', 60_000);
      for (let i = 0; i < 25; i++) await dead.enter(`r${i % 3}`, `u${i}`, `c${i}`);
      await a.enter('r0', 'u0', 'elsewhere');
      await a.heartbeat();
      await b.heartbeat();
      await sleep(300);
      const first = await a.sweep(10);
      assert.ok(first.exits.length <= 10, 'no more exits than the limit');
      assert.equal(first.more, true, 'fifteen entries are left');
      const exits = [...first.exits];
      for (;;) {
        const [x, y] = await Promise.all([a.sweep(4), b.sweep(4)]);
        assert.ok(x.exits.length <= 4 && y.exits.length <= 4, 'no chunk over its limit');
        exits.push(...x.exits, ...y.exits);
        if (!x.more && !y.more) break;
      }
      const seen = exits.map((e) => `${e.roomId}/${e.userId}`);
      assert.equal(new Set(seen).size, seen.length, 'no exit twice');
      assert.deepEqual(seen.sort(), Array.from({ length: 24 }, (_, i) => `r${(i + 1) % 3}/u${i + 1}`).sort(),
        'everyone left but u0, who is still connected through node a');
      assert.deepEqual(await a.present('r0'), ['u0']);
      assert.deepEqual(await a.sweep(10), { exits: [], more: false }, 'nothing left');
    });

    it('tells a node that lost its lease to enter its connections again', async () => {
      const c = await start();
      const slow = await c.node('slow', 200);
      const other = await c.node('other', 200);
      await slow.enter('r1', 'u1', 'c1');
      assert.equal(await slow.heartbeat(), true);
      await sleep(300);
      await other.heartbeat();
      await other.sweep(100);
      assert.deepEqual(await other.present('r1'), []);
      assert.equal(await slow.heartbeat(), false, 'the lease had run out');
      assert.equal(await slow.enter('r1', 'u1', 'c1'), true);
      assert.deepEqual(await other.present('r1'), ['u1']);
    });

    it('still reports a lapsed lease when the node entered again before its next heartbeat', async () => {
      const c = await start();
      const slow = await c.node('slow', 200);
      const other = await c.node('other', 200);
      await slow.enter('r1', 'u1', 'c1');
      await sleep(300);
      await other.heartbeat();
      await other.sweep(100);
      await slow.enter('r2', 'u2', 'c2');
      assert.equal(await slow.heartbeat(), false, 'u1 was swept and must be entered again');
      assert.equal(await slow.heartbeat(), true);
    });

    it('removes its own entries on close', async () => {
      const c = await start();
      const a = await c.node('a');
      const b = await c.node('b');
      await a.enter('r1', 'u1', 'c1');
      await a.enter('r2', 'u2', 'c2');
      await b.enter('r1', 'u3', 'c3');
      await a.close();
      assert.deepEqual(await b.present('r1'), ['u3']);
      assert.deepEqual(await b.present('r2'), []);
    });
  });
}
