import assert from 'node:assert/strict';
import type { MessageEvent } from '../../src/chat/model.ts';
import type { RoomEventBus } from '../../src/infra/ports/bus.ts';

/** Numbered messages: easy to check for order and loss (the number is the contents). */
export const numbered = (roomId: string, n: number): MessageEvent => ({
  kind: 'message', roomId,
  message: { messageId: String(n + 1), roomId, senderId: 'u1', nickname: 'n', messageType: 'TALK', contents: String(n), fileUrl: null, createdAt: 1_700_000_000_000 },
});
export const seq = (event: MessageEvent): number => Number(event.message.contents);
export const key = (event: MessageEvent): string => `${event.roomId}/${seq(event)}`;

/** Per room, the sequence numbers in the order they arrived. */
export function byRoom(events: MessageEvent[]): Map<string, number[]> {
  const rooms = new Map<string, number[]>();
  for (const event of events) rooms.set(event.roomId, [...(rooms.get(event.roomId) ?? []), seq(event)]);
  return rooms;
}

/** Publishes one event every `everyMs` until stopped; remembers which publishes resolved and which failed. */
export function publishContinuously(bus: RoomEventBus, rooms: string[], everyMs: number) {
  const resolved: MessageEvent[] = [];
  const rejected: Array<{ event: MessageEvent; error: unknown }> = [];
  const pending = new Set<Promise<void>>();
  let n = 0;
  const timer = setInterval(() => {
    const event = numbered(rooms[n % rooms.length]!, n);
    n++;
    const p = bus.publish(event).then(
      () => void resolved.push(event),
      (error: unknown) => void rejected.push({ event, error }),
    );
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }, everyMs);
  return {
    resolved,
    rejected,
    issued: () => n,
    /** Stops publishing and waits until every publish has settled. */
    stop: async () => {
      clearInterval(timer);
      while (pending.size > 0) await Promise.all([...pending]);
    },
  };
}

/** Every resolved publish reaches `seen` (extra copies allowed: delivery is at least once), first copies in order per room. */
export function assertDelivered(resolved: MessageEvent[], seen: MessageEvent[], who: string): void {
  const got = new Set(seen.map(key));
  const missing = resolved.filter((e) => !got.has(key(e)));
  assert.deepEqual(missing.map(key), [], `${who}: every acknowledged publish is delivered`);
  const firstSeen: MessageEvent[] = [];
  const already = new Set<string>();
  for (const e of seen) {
    if (already.has(key(e))) continue;
    already.add(key(e));
    firstSeen.push(e);
  }
  for (const [room, order] of byRoom(firstSeen)) {
    assert.ok(order.every((v, i) => i === 0 || v > order[i - 1]!), `${who}: ${room} in publish order`);
  }
}
