import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, describe, it } from 'node:test';
import type { ChatMessage, RoomSignal, UserSignal } from '../../src/chat/model.ts';
import { SnowflakeGenerator, compareIds, idParts } from '../../src/chat/snowflake.ts';
import type { FeedEntry, FeedHandler, RoomFeed } from '../../src/infra/ports/feed.ts';
import { sleep, waitFor } from '../support/wait.ts';

/** Several nodes sharing one feed backend (one Redis, one in-process hub). */
export interface FeedCluster {
  /** A node's feed; `window` = committed positions kept per room. */
  node(options?: { window?: number }): Promise<RoomFeed>;
  close(): Promise<void>;
}

/** What one subscription received. */
class Recorder implements FeedHandler {
  readonly received: FeedEntry[] = [];
  readonly signals: Array<RoomSignal | UserSignal> = [];
  interruptions = 0;
  entries(_roomId: string, entries: FeedEntry[]): void {
    this.received.push(...entries);
  }
  signal(signal: RoomSignal | UserSignal): void {
    this.signals.push(signal);
  }
  interrupted(): void {
    this.interruptions++;
  }
  messages(): string[] {
    return this.received.flatMap((e) => ('message' in e ? [e.message.contents] : []));
  }
}

function message(roomId: string, messageId: string, contents: string): ChatMessage {
  return { messageId, roomId, senderId: 'u1', nickname: 'Ann 🔥', messageType: 'TALK', contents, fileUrl: null, createdAt: 1_700_000_000_000 };
}

/** Reserves one position for a message of `ids` and commits it; resolves the entry. */
async function post(feed: RoomFeed, roomId: string, ids: SnowflakeGenerator, contents: string): Promise<FeedEntry> {
  const [reservation] = await feed.reserve(roomId, [{ messageId: ids.next() }], { leaseMs: 30_000, raisedAt: (ms) => ids.raisedAt(ms) });
  const entry = { seq: reservation!.seq, message: message(roomId, reservation!.messageId, contents) };
  await feed.commit(roomId, [entry]);
  return entry;
}

const raise = (ids: SnowflakeGenerator) => ({ leaseMs: 30_000, raisedAt: (ms: number) => ids.raisedAt(ms) });

export function feedConformance(driver: string, makeCluster: () => Promise<FeedCluster>): void {
  describe(`RoomFeed conformance: ${driver}`, { timeout: 60_000 }, () => {
    let cluster: FeedCluster | undefined;
    const start = async (): Promise<FeedCluster> => (cluster = await makeCluster());
    afterEach(async () => {
      await cluster?.close();
      cluster = undefined;
    });

    it('hands out consecutive positions and ids that rise with them, across nodes whose clocks disagree', async () => {
      const c = await start();
      const [a, b] = [await c.node(), await c.node()];
      const room = randomUUID();
      // Node B's clock is a minute behind: its candidates are lower than A's, and must be raised.
      const idsA = new SnowflakeGenerator(1);
      const idsB = new SnowflakeGenerator(2, () => Date.now() - 60_000);
      const first = await a.reserve(room, [{ messageId: idsA.next() }], raise(idsA));
      const reservations = await Promise.all(Array.from({ length: 49 }, (_, i) =>
        i % 2 === 0
          ? a.reserve(room, [{ messageId: idsA.next() }, { messageId: idsA.next() }], raise(idsA))
          : b.reserve(room, [{ messageId: idsB.next() }], raise(idsB))));
      const all = [...first, ...reservations.flat()].sort((x, y) => x.seq - y.seq);
      assert.deepEqual(all.map((r) => r.seq), Array.from({ length: 75 }, (_, i) => i + 1), 'seq 1…75, no gap, no repeat');
      for (let i = 1; i < all.length; i++) {
        assert.ok(compareIds(all[i]!.messageId, all[i - 1]!.messageId) > 0, `id of seq ${i + 1} is above the id of seq ${i}`);
      }
      assert.equal(new Set(all.map((r) => r.messageId)).size, 75, 'ids are unique');
      const raised = all.filter((r) => idParts(r.messageId).rest % 4096 >= 2048);
      assert.ok(raised.length >= 24, `node B's ids were raised above A's (${raised.length} raised)`);
    });

    it('keeps a fixed id as it is, while later positions still rise above the highest', async () => {
      const c = await start();
      const feed = await c.node();
      const room = randomUUID();
      const ids = new SnowflakeGenerator(3);
      const old = ids.next();
      await sleep(2);
      const newer = ids.next();
      const [first] = await feed.reserve(room, [{ messageId: newer }], raise(ids));
      const [resumed] = await feed.reserve(room, [{ messageId: old, fixed: true }], raise(ids));
      const [next] = await feed.reserve(room, [{ messageId: ids.next() }], raise(ids));
      assert.equal(first!.messageId, newer);
      assert.equal(resumed!.messageId, old, 'the resumed message keeps its id');
      assert.equal(resumed!.seq, 2);
      assert.ok(compareIds(next!.messageId, newer) > 0);
    });

    it('delivers a room\'s entries to the nodes subscribed to it and to no other node', async () => {
      const c = await start();
      const [a, b, other] = [await c.node(), await c.node(), await c.node()];
      const [room, elsewhere] = [randomUUID(), randomUUID()];
      const [onA, onB, onOther] = [new Recorder(), new Recorder(), new Recorder()];
      await a.subscribe({ room }, onA);
      await b.subscribe({ room }, onB);
      await other.subscribe({ room: elsewhere }, onOther);
      const ids = new SnowflakeGenerator(4);
      for (let i = 0; i < 20; i++) await post(i % 2 ? a : b, room, ids, `m${i}`);
      await a.signal({ kind: 'typing', roomId: room, userId: 'u1' });
      await waitFor(() => onA.received.length === 20 && onB.received.length === 20 && onA.signals.length === 1 && onB.signals.length === 1, 'both subscribers');
      await sleep(100);
      for (const seen of [onA, onB]) {
        assert.deepEqual(seen.received.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => i + 1));
        assert.deepEqual(seen.messages(), Array.from({ length: 20 }, (_, i) => `m${i}`));
      }
      assert.deepEqual(onOther.received, [], 'a node without the room receives none of its entries');
      assert.deepEqual(onOther.signals, [], '… and none of its signals');
    });

    it('carries a message unchanged, and signals of every kind to the right topic', async () => {
      const c = await start();
      const feed = await c.node();
      const room = randomUUID();
      const [user, otherUser] = [randomUUID(), randomUUID()];
      const [roomSide, userSide, otherUserSide] = [new Recorder(), new Recorder(), new Recorder()];
      await feed.subscribe({ room }, roomSide);
      await feed.subscribe({ user }, userSide);
      await feed.subscribe({ user: otherUser }, otherUserSide);
      const ids = new SnowflakeGenerator(5);
      const [r] = await feed.reserve(room, [{ messageId: ids.next() }], raise(ids));
      const entry: FeedEntry = {
        seq: r!.seq, origin: { nodeId: 'n1', connectionId: 'c1' },
        message: { ...message(room, r!.messageId, 'hello "world"\n\u0000 🔥'), messageType: 'FILE', fileUrl: 'https://files.example/a b' },
      };
      await feed.commit(room, [entry]);
      const signals: Array<RoomSignal | UserSignal> = [
        { kind: 'typing', roomId: room, userId: 'u1', origin: { nodeId: 'n1', connectionId: 'c1' } },
        { kind: 'read', roomId: room, userId: 'u1', messageId: r!.messageId },
        { kind: 'presence', roomId: room, userId: 'u2', event: 'exit' },
        { kind: 'membership', roomId: room, userId: 'u3', change: 'left' },
      ];
      for (const signal of signals) await feed.signal(signal);
      const roomEvent: UserSignal = { kind: 'room', userId: user, event: 'added', roomId: room };
      await feed.signal(roomEvent);
      await waitFor(() => roomSide.signals.length === 4 && userSide.signals.length === 1 && roomSide.received.length === 1, 'everything');
      assert.deepEqual(roomSide.received, [entry]);
      assert.deepEqual(roomSide.signals, signals);
      assert.deepEqual(userSide.signals, [roomEvent]);
      assert.deepEqual(otherUserSide.signals, []);
    });

    it('reports through below a position that is still reserved, and moves it once the position is final', async () => {
      const c = await start();
      const feed = await c.node();
      const room = randomUUID();
      const ids = new SnowflakeGenerator(6);
      await post(feed, room, ids, 'one');
      const [held] = await feed.reserve(room, [{ messageId: ids.next() }], raise(ids));
      const third = await post(feed, room, ids, 'three');
      const recorder = new Recorder();
      const subscription = await feed.subscribe({ room }, recorder);
      assert.equal(subscription.through, 1, 'position 2 is reserved, not final');
      assert.equal((await feed.replay(room, 1)).through, 1);
      await feed.commit(room, [{ seq: held!.seq, message: message(room, held!.messageId, 'two') }]);
      await waitFor(() => recorder.received.length === 1, 'the late commit');
      assert.equal(recorder.received[0]!.seq, 2, 'a commit reaches subscribers out of seq order as it happens');
      const replay = await feed.replay(room, 1);
      assert.equal(replay.through, 3);
      assert.equal(replay.head, 3);
      assert.deepEqual(replay.entries.map((e) => e.seq), [1, 2, 3]);
      assert.deepEqual(replay.entries[2], third);
      assert.equal(replay.floor, 1);
    });

    it('voids a reservation whose lease ran out, and still delivers it if it commits late', async () => {
      const c = await start();
      const feed = await c.node();
      const room = randomUUID();
      const ids = new SnowflakeGenerator(7);
      const [dead] = await feed.reserve(room, [{ messageId: ids.next() }], { leaseMs: 50, raisedAt: (ms) => ids.raisedAt(ms) });
      await post(feed, room, ids, 'after');
      assert.equal((await feed.replay(room, 1)).through, 0, 'within the lease the position is open');
      await sleep(120);
      const replay = await feed.replay(room, 1);
      assert.equal(replay.through, 2, 'the expired reservation is final now');
      assert.deepEqual(replay.entries[0], { seq: dead!.seq, void: true });
      const recorder = new Recorder();
      await feed.subscribe({ room }, recorder);
      await feed.commit(room, [{ seq: dead!.seq, message: message(room, dead!.messageId, 'late') }]);
      await waitFor(() => recorder.received.length === 1, 'the late message');
      assert.deepEqual(recorder.messages(), ['late']);
      assert.equal(((await feed.replay(room, 1)).entries[0] as { message: ChatMessage }).message.contents, 'late', 'it replaced the void');
      await feed.commit(room, [{ seq: dead!.seq, void: true }]);
      assert.ok('message' in (await feed.replay(room, 1)).entries[0]!, 'a void never replaces a message');
    });

    it('keeps a renewed reservation open past its first lease, and voids it once the renewals stop', async () => {
      const c = await start();
      const [a, b] = [await c.node(), await c.node()];
      const room = randomUUID();
      const ids = new SnowflakeGenerator(11);
      const [held] = await a.reserve(room, [{ messageId: ids.next() }], { leaseMs: 1_000, raisedAt: (ms) => ids.raisedAt(ms) });
      await post(a, room, ids, 'after');
      for (let i = 0; i < 5; i++) {
        await sleep(300);
        await a.renew(room, [held!.seq], 1_000);
      }
      assert.equal((await b.replay(room, 1)).through, 0, 'open 1.5 s into a 1 s lease: it was renewed');
      await sleep(1_300);
      const replay = await b.replay(room, 1);
      assert.equal(replay.through, 2, 'no renewal for a lease: voided (its node died)');
      assert.deepEqual(replay.entries[0], { seq: held!.seq, void: true });
      await a.renew(room, [held!.seq, 2], 60_000);
      await a.renew(randomUUID(), [1], 60_000);
      assert.deepEqual((await b.replay(room, 1)).entries.map((e) => 'void' in e), [true, false], 'a renewal changes no final position');
    });

    it('commits a message once even when it is committed again under another position', async () => {
      const c = await start();
      const feed = await c.node();
      const room = randomUUID();
      const ids = new SnowflakeGenerator(8);
      const recorder = new Recorder();
      await feed.subscribe({ room }, recorder);
      const first = await post(feed, room, ids, 'once');
      const [again] = await feed.reserve(room, [{ messageId: (first as { message: ChatMessage }).message.messageId, fixed: true }], raise(ids));
      await feed.commit(room, [{ seq: again!.seq, message: (first as { message: ChatMessage }).message }]);
      await feed.commit(room, [first]);
      await post(feed, room, ids, 'next');
      await waitFor(() => recorder.received.length >= 2, 'two entries');
      await sleep(100);
      assert.deepEqual(recorder.messages(), ['once', 'next']);
      const replay = await feed.replay(room, 1);
      assert.equal(replay.entries.filter((e) => 'message' in e && e.message.contents === 'once').length, 1);
      assert.deepEqual(replay.entries.find((e) => e.seq === again!.seq), { seq: again!.seq, void: true },
        'the position the message could not take again is voided, not left open until its lease ends');
      assert.equal(replay.through, replay.head, 'nothing holds the room');
    });

    it('keeps a bounded window: the floor rises and replay returns what is left', async () => {
      const c = await start();
      const feed = await c.node({ window: 10 });
      const room = randomUUID();
      const ids = new SnowflakeGenerator(9);
      for (let i = 0; i < 25; i++) await post(feed, room, ids, `m${i}`);
      const replay = await feed.replay(room, 1);
      assert.equal(replay.floor, 16);
      assert.deepEqual(replay.entries.map((e) => e.seq), Array.from({ length: 10 }, (_, i) => 16 + i));
      assert.deepEqual((await feed.replay(room, 20, 22)).entries.map((e) => e.seq), [20, 21, 22]);
      const unknown = await feed.replay(randomUUID(), 1);
      assert.deepEqual({ ...unknown, epoch: '' }, { entries: [], through: 0, floor: 1, head: 0, epoch: '' });
    });

    it('stops delivering to a subscription that stopped, and keeps delivering to the others', async () => {
      const c = await start();
      const [a, b] = [await c.node(), await c.node()];
      const room = randomUUID();
      const [onA, onB] = [new Recorder(), new Recorder()];
      const subscription = await a.subscribe({ room }, onA);
      await b.subscribe({ room }, onB);
      const ids = new SnowflakeGenerator(10);
      await post(a, room, ids, 'before');
      await waitFor(() => onA.received.length === 1 && onB.received.length === 1, 'the first');
      await subscription.stop();
      await post(a, room, ids, 'after');
      await waitFor(() => onB.received.length === 2, 'the second on B');
      await sleep(100);
      assert.deepEqual(onA.messages(), ['before']);
    });
  });
}
