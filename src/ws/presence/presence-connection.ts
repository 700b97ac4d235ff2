import { roomTopic } from '../../actors/socket-handle.ts';
import { Connection, utf8 } from '../connection.ts';
import type { ServerFrame } from '../native-protocol.ts';

/**
 * FlameTalk's presence socket (SPEC §5.2) at /presence: `{"type":"ENTER"|"EXIT", userId, roomId,
 * deviceId}` enters or leaves a room's presence, through the same session and room actors as a
 * native join, so native and STOMP clients see it; closing the socket exits every room.
 * Replies use FlameTalk's envelope `{status, message, data}`; presence changes of others in the
 * rooms this socket entered arrive as `{type:"ENTER"|"EXIT", userId, roomId}`.
 */

export const presenceTopic = (roomId: string): string => `presence:${roomId}`;
const ROOM_TOPIC_PREFIX = roomTopic('');

/** What presence sockets in a room receive when someone enters or leaves it (encoded once per event). */
export function presenceFrame(roomId: string, event: 'enter' | 'exit', userId: string): string {
  return JSON.stringify({ type: event === 'enter' ? 'ENTER' : 'EXIT', userId, roomId });
}

type Request = {
  type: 'ENTER' | 'EXIT';
  userId: string;
  roomId: string;
  deviceId: string | null;
};

const id = (value: unknown): string | undefined => {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : value;
  return typeof text === 'string' && /^[0-9]{1,19}$/.test(text) ? text : undefined;
};

export class PresenceConnection extends Connection {
  private readonly pending = new Map<string, Request>();
  private refs = 0;

  override subscribe(topic: string): void {
    // Room events (the user's topic) are a native-protocol feature.
    if (!topic.startsWith(ROOM_TOPIC_PREFIX)) return;
    super.subscribe(presenceTopic(topic.slice(ROOM_TOPIC_PREFIX.length)));
  }

  override unsubscribe(topic: string): void {
    if (!topic.startsWith(ROOM_TOPIC_PREFIX)) return;
    super.unsubscribe(presenceTopic(topic.slice(ROOM_TOPIC_PREFIX.length)));
  }

  override publishToOthers(topic: string, frame: string): void {
    this.context.publish(topic, frame);
  }

  private answer(status: number, message: string, data: Record<string, unknown>): void {
    this.send(JSON.stringify({ status, message, data }));
  }

  private reject(status: number, code: string, message: string, request?: Partial<Request>): void {
    this.context.deps.metrics.framesRejected.labels(code).inc();
    this.answer(status, message, { code, ...request });
  }

  receive(data: ArrayBuffer, isBinary: boolean, receivedAt: number): void {
    if (!this.takeToken()) return;
    if (isBinary) return this.reject(400, 'bad_frame', 'frames must be text (JSON)');
    let value: unknown;
    try {
      value = JSON.parse(utf8.decode(data));
    } catch {
      return this.reject(400, 'bad_json', 'a frame must be one JSON object');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return this.reject(400, 'bad_json', 'a frame must be one JSON object');
    const frame = value as Record<string, unknown>;
    const type = frame['type'];
    if (type !== 'ENTER' && type !== 'EXIT') return this.reject(400, 'unknown_type', 'type must be "ENTER" or "EXIT"');
    // A host's own authentication may use any user ids; flametalk's are snowflakes (sent as numbers by some apps).
    const rawUser = typeof frame['userId'] === 'number' && Number.isSafeInteger(frame['userId']) ? String(frame['userId']) : frame['userId'];
    const userId = typeof rawUser === 'string' && rawUser.length > 0 && rawUser.length <= 128 ? rawUser : undefined;
    const roomId = id(frame['roomId']);
    const deviceId = typeof frame['deviceId'] === 'string' ? frame['deviceId'].slice(0, 128) : null;
    if (userId === undefined) return this.reject(400, 'bad_frame', 'userId must be a user id', { type });
    if (roomId === undefined) return this.reject(400, 'bad_frame', 'roomId must be a room id', { type, userId });
    const request: Request = { type, userId, roomId, deviceId };
    // The token decides who this is (by user id, or in an open room by the id there); a frame cannot
    // speak for someone else. A host's asynchronous
    // authentication may still be deciding: frames wait for it, in order.
    const decide = (identity: { userId: string }): void => {
      const me = userId === identity.userId || userId === this.context.deps.openRoomIdOf?.(roomId, identity.userId);
      if (!me) return this.reject(403, 'wrong_user', 'userId is not the signed-in user', request);
      const ref = `p${++this.refs}`;
      this.pending.set(ref, request);
      this.tell({ type: 'command', command: type === 'ENTER' ? { type: 'join', ref, roomId } : { type: 'leave', ref, roomId }, receivedAt });
    };
    if (this.identity && this.ordered === undefined) decide(this.identity);
    else this.ordered = (this.ordered ?? Promise.resolve()).then(() => this.admission.then(decide, () => undefined));
  }

  /** Frames waiting for an asynchronous admission, in the order they came. */
  private ordered: Promise<void> | undefined;

  reply(frame: ServerFrame): void {
    // This adapter's own refs are strings; the session echoes them back as it got them.
    const ref = 'ref' in frame && frame.ref !== undefined ? String(frame.ref) : undefined;
    const request = ref === undefined ? undefined : this.pending.get(ref);
    if (ref !== undefined) this.pending.delete(ref);
    switch (frame.type) {
      case 'joined':
        if (request) this.answer(200, 'OK', { ...request, present: frame.present });
        return;
      case 'left':
        // Unprompted: the user left the room (on any device), so this socket is out of it.
        this.answer(200, 'OK', request ?? { type: 'EXIT', userId: this.identity?.userId ?? null, roomId: frame.roomId, deviceId: null });
        return;
      case 'error': {
        const status = frame.code === 'not_member' ? 403 : frame.code === 'room_not_found' ? 404 : frame.code === 'unavailable' ? 503 : 400;
        this.answer(status, frame.message, { code: frame.code, ...request });
        return;
      }
      default:
        return;
    }
  }
}
