import { Emitter } from './emitter.ts';
import type { FlametalkError } from './errors.ts';
import { RecentIds, compareIds } from './ids.ts';
import type { MessageDto } from './protocol.ts';
import type { Ack, SendOptions } from './types.ts';

export interface PresenceEvent {
  event: 'enter' | 'exit';
  userId: string;
}

export interface RoomEvents {
  /** Every message of the room once, in order: others' as they arrive, mine when acknowledged. */
  message: [MessageDto];
  presence: [PresenceEvent];
  typing: [{ userId: string }];
  read: [{ userId: string; messageId: string }];
  /** The room is no longer joined: left from another device, removed, or refused on a rejoin. */
  left: [{ reason: FlametalkError | undefined }];
}

/** What the app holds for a joined room. */
export interface RoomHandle {
  readonly roomId: string;
  /** The id that names me in this room's messages and events: my user id, or in an open room my id there. */
  readonly myId: string;
  /** Who is in the room right now (kept up to date from presence events). */
  readonly present: ReadonlySet<string>;
  /** Messages a join with `since` recovered (oldest first); they are not emitted as events. */
  readonly missed: readonly MessageDto[];
  on<K extends keyof RoomEvents>(event: K, listener: (...args: RoomEvents[K]) => void): () => void;
  send(contents: string, options?: SendOptions): Promise<Ack>;
  typing(): void;
  markRead(messageId: string): void;
  leave(): Promise<void>;
}

/**
 * The client's state of one joined room: which messages it has delivered (to keep exactly one of
 * each, whichever socket or recovery path brings it), where to resume from, who is present.
 */
export class RoomFeed {
  readonly events = new Emitter<RoomEvents>();
  readonly present = new Set<string>();
  missed: MessageDto[] = [];
  /** Settles when the first join is answered. */
  readonly firstJoin: Promise<void>;
  /** Set when a join without `since` needs the room's newest id as the point to resume from. */
  baseline: Promise<void> | undefined;
  joinedOnce = false;
  /** From the first `joined` reply on (the handle exists only after it). */
  myId = '';
  private lastSeen: string | undefined;
  private readonly seen = new RecentIds();
  private settleFirst!: { resolve(): void; reject(error: FlametalkError): void };

  constructor(readonly roomId: string, since: string | undefined) {
    this.lastSeen = since;
    this.firstJoin = new Promise((resolve, reject) => {
      this.settleFirst = { resolve, reject };
    });
    this.firstJoin.catch(() => undefined);
  }

  /** The `since` of the next join: the newest message delivered (undefined before any is known). */
  get since(): string | undefined {
    return this.lastSeen;
  }

  /** Where to resume from when the first join had no `since`: the newest message at that time ("0" for none). */
  noteBaseline(messageId: string | undefined): void {
    if (this.lastSeen === undefined) this.lastSeen = messageId ?? '0';
  }

  /** Applies a `joined` reply: the present set and the messages missed (merged with those that came live meanwhile). */
  joined(myId: string, present: string[], messages: MessageDto[]): void {
    const first = !this.joinedOnce;
    this.joinedOnce = true;
    this.myId = myId;
    const before = new Set(this.present);
    this.present.clear();
    for (const userId of present) this.present.add(userId);
    const fresh = this.accept(messages);
    if (first) {
      this.missed = fresh;
      this.settleFirst.resolve();
      return;
    }
    // A rejoin: tell the app how presence changed while it was away, then what it missed.
    for (const userId of before) if (!this.present.has(userId)) this.events.emit('presence', { event: 'exit', userId });
    for (const userId of this.present) if (!before.has(userId)) this.events.emit('presence', { event: 'enter', userId });
    for (const message of fresh) this.events.emit('message', message);
  }

  /** A live message. */
  deliver(message: MessageDto): void {
    for (const fresh of this.accept([message])) this.events.emit('message', fresh);
  }

  /**
   * My own message, on its ack. It does not move the resume point: a message of someone else with
   * a lower id may still be on its way, and a reconnect must not skip it.
   */
  deliverOwn(message: MessageDto): void {
    for (const fresh of this.accept([message], false)) this.events.emit('message', fresh);
  }

  presence(event: PresenceEvent): void {
    if (event.event === 'enter') this.present.add(event.userId);
    else this.present.delete(event.userId);
    this.events.emit('presence', event);
  }

  /** The room is gone for this client. */
  end(reason: FlametalkError | undefined): void {
    if (!this.joinedOnce && reason) this.settleFirst.reject(reason);
    else this.events.emit('left', { reason });
  }

  /** Oldest first, without what was already delivered; advances the resume point. */
  private accept(messages: MessageDto[], advance = true): MessageDto[] {
    const fresh: MessageDto[] = [];
    const sorted = [...messages].sort((a, b) => compareIds(a.messageId, b.messageId));
    for (const message of sorted) {
      if (this.seen.has(message.messageId)) continue;
      this.seen.add(message.messageId);
      fresh.push(message);
      if (advance && (this.lastSeen === undefined || compareIds(message.messageId, this.lastSeen) > 0)) this.lastSeen = message.messageId;
    }
    return fresh;
  }
}
