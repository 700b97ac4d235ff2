import type { RoomId, UserId } from '../chat/model.ts';
import type { PeopleStore } from '../infra/ports/people.ts';
import type { ChatStore } from '../infra/ports/store.ts';

/** How long a looked-up block or room size is trusted: a new block stops pushes within this. */
const TTL_MS = 5_000;
const MAX_ENTRIES = 50_000;

/**
 * Who blocked whom, for the hot paths (the notifier on every message, room creation): reads of the
 * friend row and of a room's size, cached briefly, and only for 1:1 rooms, the only ones a block
 * silences.
 */
export class BlockList {
  private readonly blocks = new Map<string, { blocked: boolean; at: number }>();
  private readonly sizes = new Map<RoomId, { size: number; at: number }>();

  constructor(private readonly store: ChatStore, private readonly people: PeopleStore, private readonly now: () => number = Date.now) {}

  /** This node changed the row: read it afresh next time. */
  forget(blockerId: UserId, otherId: UserId): void {
    this.blocks.delete(`${blockerId}\t${otherId}`);
  }

  async hasBlocked(blockerId: UserId, otherId: UserId): Promise<boolean> {
    const key = `${blockerId}\t${otherId}`;
    const cached = this.blocks.get(key);
    if (cached && this.now() - cached.at < TTL_MS) return cached.blocked;
    const blocked = (await this.people.getFriend(blockerId, otherId))?.blocked === true;
    remember(this.blocks, key, { blocked, at: this.now() });
    return blocked;
  }

  /** The recipients of a sender's message who blocked the sender, when the room is a 1:1 room. */
  async blockedRecipients(roomId: RoomId, senderId: UserId, recipients: UserId[]): Promise<Set<UserId>> {
    if (recipients.length !== 1 || (await this.roomSize(roomId)) !== 2) return new Set();
    return (await this.hasBlocked(recipients[0]!, senderId)) ? new Set(recipients) : new Set();
  }

  private async roomSize(roomId: RoomId): Promise<number> {
    const cached = this.sizes.get(roomId);
    if (cached && this.now() - cached.at < TTL_MS) return cached.size;
    const size = (await this.store.members(roomId)).length;
    remember(this.sizes, roomId, { size, at: this.now() });
    return size;
  }
}

function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_ENTRIES) map.delete(map.keys().next().value!);
}
