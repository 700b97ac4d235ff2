import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { MessageEvent } from '../../src/chat/model.ts';
import type { RoomEventBus } from '../../src/infra/ports/bus.ts';
import { byRoom, numbered, seq } from '../support/bus-traffic.ts';
import { waitFor } from '../support/wait.ts';

/** Several nodes sharing one bus backend (one Kafka topic, one in-process hub). */
export interface BusCluster {
  node(name: string): Promise<RoomEventBus>;
  close(): Promise<void>;
}


const ascending = (list: number[]): boolean => list.every((v, i) => i === 0 || v > list[i - 1]!);

async function publishInterleaved(bus: RoomEventBus, rooms: string[], perRoom: number): Promise<void> {
  const sends: Promise<void>[] = [];
  for (let i = 0; i < perRoom; i++) for (const room of rooms) sends.push(bus.publish(numbered(room, i)));
  await Promise.all(sends);
}

export function busConformance(driver: string, makeCluster: () => Promise<BusCluster>, timeoutMs = 20_000): void {
  describe(`RoomEventBus conformance: ${driver}`, { timeout: timeoutMs * 4 }, () => {
    let cluster: BusCluster | undefined;
    const start = async (): Promise<BusCluster> => (cluster = await makeCluster());
    afterEach(async () => {
      await cluster?.close();
      cluster = undefined;
    });

    it('carries a message unchanged, and says whether a publish is durable', async () => {
      const c = await start();
      const bus = await c.node('a');
      const seen: MessageEvent[] = [];
      await bus.consume('persister', async (events) => void seen.push(...events));
      const event: MessageEvent = {
        kind: 'message', roomId: 'r', origin: { nodeId: 'n1', connectionId: 'c1' },
        message: {
          messageId: '123456789012345678', roomId: 'r', senderId: 'u1', nickname: 'Ann 🔥', messageType: 'FILE',
          contents: 'hello "world"\n', fileUrl: 'https://files.example/1', createdAt: 1_700_000_000_123,
        },
      };
      await bus.publish(event);
      await waitFor(() => seen.length >= 1, 'the event', timeoutMs);
      assert.deepEqual(seen, [event]);
      assert.equal(typeof bus.durable, 'boolean');
    });

    it('shares a consumer group: each event handled once across nodes, in order per room', async () => {
      const c = await start();
      const a = await c.node('a');
      const b = await c.node('b');
      const handledA: MessageEvent[] = [];
      const handledB: MessageEvent[] = [];
      await a.consume('persister', async (events) => void handledA.push(...events));
      await b.consume('persister', async (events) => void handledB.push(...events));
      const rooms = Array.from({ length: 16 }, (_, i) => `room-${i}`);
      await publishInterleaved(a, rooms, 50);
      await waitFor(() => handledA.length + handledB.length >= 800, '800 handled events', timeoutMs);
      await new Promise((r) => setTimeout(r, 200));
      const all = [...handledA, ...handledB];
      assert.equal(all.length, 800, 'no event handled twice');
      for (const room of rooms) {
        const inA = byRoom(handledA).get(room) ?? [];
        const inB = byRoom(handledB).get(room) ?? [];
        assert.ok(inA.length === 0 || inB.length === 0, `${room} is handled by one node only`);
        assert.deepEqual([...inA, ...inB], Array.from({ length: 50 }, (_, i) => i), `${room} in order`);
      }
    });

    it('gives each group its own copy of every event', async () => {
      const c = await start();
      const a = await c.node('a');
      const persisted: MessageEvent[] = [];
      const notified: MessageEvent[] = [];
      await a.consume('persister', async (events) => void persisted.push(...events));
      await a.consume('notifier', async (events) => void notified.push(...events));
      await publishInterleaved(a, ['r1', 'r2'], 25);
      await waitFor(() => persisted.length >= 50 && notified.length >= 50, 'both groups', timeoutMs);
      assert.equal(persisted.length, 50);
      assert.equal(notified.length, 50);
    });

    it('redelivers a failed batch, in order, without losing or skipping events', async () => {
      const c = await start();
      const a = await c.node('a');
      const handled: MessageEvent[] = [];
      let failures = 0;
      await a.consume('persister', async (events) => {
        if (events.some((e) => seq(e) === 10) && failures < 3) {
          failures++;
          throw new Error('store unavailable');
        }
        handled.push(...events);
      });
      await publishInterleaved(a, ['r1'], 30);
      await waitFor(() => byRoom(handled).get('r1')?.includes(29), 'event 29 after retries', timeoutMs);
      assert.equal(failures, 3);
      const order = byRoom(handled).get('r1')!;
      const unique = [...new Set(order)];
      assert.deepEqual(unique, Array.from({ length: 30 }, (_, i) => i), 'every event, in order');
      assert.ok(order.indexOf(10) < order.indexOf(11), 'event 11 never handled before 10 succeeded');
    });

    it('keeps a group\'s events while no member runs, for the next member to handle', async () => {
      const c = await start();
      const a = await c.node('a');
      const first: MessageEvent[] = [];
      const sub = await a.consume('persister', async (events) => void first.push(...events));
      await publishInterleaved(a, ['r1'], 10);
      await waitFor(() => first.length >= 10, 'first ten', timeoutMs);
      await sub.stop();
      for (let i = 10; i < 20; i++) await a.publish(numbered('r1', i));
      const b = await c.node('b');
      const second: MessageEvent[] = [];
      await b.consume('persister', async (events) => void second.push(...events));
      await waitFor(() => second.length >= 10, 'the ten published while nobody consumed', timeoutMs);
      assert.deepEqual(second.map(seq), Array.from({ length: 10 }, (_, i) => i + 10));
    });

    it('reports a group\'s backlog per room: what it has not handled of the room\'s partition', async () => {
      const c = await start();
      const a = await c.node('a');
      let release: () => void = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      const handled: MessageEvent[] = [];
      await a.consume('persister', async (events) => {
        await gate;
        handled.push(...events);
      });
      for (let i = 0; i < 5; i++) await a.publish(numbered('held-room', i));
      assert.ok((await a.backlog('persister', 'held-room')) >= 1, 'events the held group has not handled');
      assert.ok((await a.lag()) >= 1);
      release();
      await waitFor(() => handled.length >= 5, 'the five', timeoutMs);
      await waitFor(async () => (await a.backlog('persister', 'held-room')) === 0, 'backlog 0 once handled', timeoutMs);
      await waitFor(async () => (await a.lag()) === 0, 'lag 0', timeoutMs);
    });

    it('stops delivering to a stopped group member', async () => {
      const c = await start();
      const a = await c.node('a');
      const seen: MessageEvent[] = [];
      const sub = await a.consume('persister', async (events) => void seen.push(...events));
      await a.publish(numbered('r1', 1));
      await waitFor(() => seen.length === 1, 'first event', timeoutMs);
      await sub.stop();
      await a.publish(numbered('r1', 2));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(seen.length, 1);
    });
  });
}
