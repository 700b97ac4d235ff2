import type { MessageDto } from '../../chat/dto.ts';
import type { RoomId } from '../../chat/model.ts';
import { encodeFrame } from './frame.ts';

export const roomDestination = (roomId: RoomId): string => `/sub/chat/room/${roomId}`;
export const stompTopic = (roomId: RoomId, subscriptionId: string): string => `stomp:${roomId}:${subscriptionId}`;

/** FlameTalk's broadcast body (snake_case, as its Spring server sent it). */
export function broadcastBody(message: MessageDto): string {
  return JSON.stringify({
    message_id: message.messageId,
    message_type: message.messageType,
    sender_id: message.senderId,
    nickname: message.nickname,
    room_id: message.roomId,
    contents: message.contents,
    file_url: message.fileUrl,
    created_at: message.createdAt,
    ...(message.userIds ? { user_ids: message.userIds } : {}),
  });
}

/**
 * STOMP delivery of a room's messages on this node. A MESSAGE frame must carry the receiving
 * client's own `subscription` id, so sockets are grouped by (room, subscription id) into one uWS
 * topic each: a message costs one body serialisation and one publish per distinct subscription id
 * among the room's local STOMP subscribers, not one per socket. Clients number their subscriptions
 * alike (@stomp/stompjs and FlameTalk's apps use `sub-0`, `sub-1`, …), so that is one or a few
 * publishes per message whatever the number of sockets.
 */
export class StompFanout {
  /** Room → subscription id → local sockets subscribed under it. */
  private readonly rooms = new Map<RoomId, Map<string, number>>();

  constructor(private readonly publish: (topic: string, frame: string) => void) {}

  add(roomId: RoomId, subscriptionId: string): void {
    let ids = this.rooms.get(roomId);
    if (!ids) this.rooms.set(roomId, (ids = new Map()));
    ids.set(subscriptionId, (ids.get(subscriptionId) ?? 0) + 1);
  }

  remove(roomId: RoomId, subscriptionId: string): void {
    const ids = this.rooms.get(roomId);
    const count = ids?.get(subscriptionId);
    if (!ids || count === undefined) return;
    if (count > 1) ids.set(subscriptionId, count - 1);
    else {
      ids.delete(subscriptionId);
      if (ids.size === 0) this.rooms.delete(roomId);
    }
  }

  /** Distinct (room, subscription id) topics, for tests and metrics. */
  topics(roomId: RoomId): number {
    return this.rooms.get(roomId)?.size ?? 0;
  }

  message(roomId: RoomId, message: MessageDto): void {
    const ids = this.rooms.get(roomId);
    if (!ids) return;
    const body = broadcastBody(message);
    const destination = roomDestination(roomId);
    for (const subscriptionId of ids.keys()) {
      this.publish(stompTopic(roomId, subscriptionId), encodeFrame('MESSAGE', {
        destination, 'content-type': 'application/json', subscription: subscriptionId, 'message-id': message.messageId,
      }, body));
    }
  }
}
