import type { RoomId } from '../chat/model.ts';
import type { ActorRef, ActorRuntime } from './runtime.ts';
import type { RoomMessage } from './room.ts';

/**
 * The room actors alive on this node, by room id. A room actor is spawned by the first message
 * for its room and removes itself from here when it goes idle.
 */
export class RoomDirectory {
  private readonly rooms = new Map<RoomId, ActorRef<RoomMessage>>();

  constructor(private readonly runtime: ActorRuntime, private readonly spawnRoom: (roomId: RoomId) => ActorRef<RoomMessage>) {}

  tell(roomId: RoomId, message: RoomMessage): void {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = this.spawnRoom(roomId);
      this.rooms.set(roomId, room);
    }
    this.runtime.tell(room, message);
  }

  /** Called by a room actor that is stopping, so the next message for the room starts a fresh one. */
  forget(roomId: RoomId, room: ActorRef<RoomMessage>): void {
    if (this.rooms.get(roomId) === room) this.rooms.delete(roomId);
  }

  broadcast(message: RoomMessage): void {
    for (const room of this.rooms.values()) this.runtime.tell(room, message);
  }

  get size(): number {
    return this.rooms.size;
  }
}
