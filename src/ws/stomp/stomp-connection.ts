import { randomUUID } from 'node:crypto';
import type { SessionIdentity } from '../../actors/session.ts';
import type { AuthRequest } from '../../auth/authenticator.ts';
import { ChatError } from '../../chat/errors.ts';
import { roomTopic } from '../../actors/socket-handle.ts';
import { Connection, utf8, type ConnectionContext } from '../connection.ts';
import { CLOSE, parseCommand, type ClientCommand, type ServerFrame } from '../native-protocol.ts';
import { encodeFrame, StompSyntaxError, StompParser, type StompFrame } from './frame.ts';
import { stompTopic, type StompFanout } from './fanout.ts';

/** WebSocket subprotocols of STOMP, best first. */
export const STOMP_SUBPROTOCOLS = ['v12.stomp', 'v11.stomp', 'v10.stomp'] as const;
const VERSIONS = ['1.2', '1.1', '1.0'] as const;
const SUBSCRIBE_DESTINATION = /^\/sub\/chat\/room\/([0-9]{1,19})$/;
const SEND_DESTINATION = '/pub/chat/message';
/** A socket must send CONNECT within this long. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Close code after an ERROR frame (STOMP closes the connection after every ERROR). */
const CLOSE_PROTOCOL_ERROR = 1002;
const ROOM_TOPIC_PREFIX = roomTopic('');

type Pending =
  | { kind: 'subscribe'; receipt?: string; roomId: string; subscriptionId: string }
  | { kind: 'unsubscribe'; receipt?: string }
  | { kind: 'send'; receipt?: string };

/** A header by name regardless of case: FlameTalk's apps send `Authorization` as well as `authorization`. */
function headerAnyCase(frame: StompFrame, name: string): string | undefined {
  const exact = frame.headers.get(name);
  if (exact !== undefined) return exact;
  for (const [key, value] of frame.headers) if (key.toLowerCase() === name) return value;
  return undefined;
}

function parseHeartBeat(value: string | undefined): [number, number] | undefined {
  if (value === undefined) return [0, 0];
  const match = /^\s*([0-9]{1,9})\s*,\s*([0-9]{1,9})\s*$/.exec(value);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

/**
 * FlameTalk's STOMP 1.2 chat socket (SPEC §5.2) as an adapter over the same session actor as the
 * native protocol: SUBSCRIBE is a join, UNSUBSCRIBE a leave, SEND a send; the session's replies
 * become RECEIPT and ERROR frames. Messages reach the socket through its (room, subscription id)
 * uWS topic (see StompFanout), never through this object.
 */
export class StompConnection extends Connection {
  private state: 'awaiting-connect' | 'connecting' | 'connected' | 'closing' = 'awaiting-connect';
  private readonly parser: StompParser;
  private readonly openedAt = Date.now();
  /** Heart-beat periods negotiated in CONNECT, ms (0: none). */
  private sendEveryMs = 0;
  private expectEveryMs = 0;
  private lastReceived = Date.now();
  private lastSent = Date.now();
  /** Subscription id → room, as the client asked. */
  private readonly subscriptions = new Map<string, string>();
  /** Room → subscription id, for rooms whose socket the room actor subscribed (the topic is live). */
  private readonly live = new Map<string, string>();
  private readonly requested = new Map<string, string>();
  private readonly pending = new Map<string, Pending>();
  /**
   * SENDs to a room whose SUBSCRIBE is still being joined wait for it: the room subscribes the
   * socket to its topic only then, and a client that sends right after subscribing (as FlameTalk's
   * apps do) expects its own message back.
   */
  private readonly held = new Map<string, Array<() => void>>();
  private refs = 0;
  private sendsInFlight = 0;
  private disconnectReceipt: string | undefined | null = null;

  constructor(context: ConnectionContext, private readonly fanout: StompFanout) {
    super(context);
    this.parser = new StompParser(context.deps.limits.maxFrameBytes);
  }

  override get tokenOnUpgrade(): boolean {
    return false;
  }

  /** Picks the best STOMP subprotocol the client offered ('' when it offered none). */
  negotiate(offered: string): string {
    const names = offered.split(',').map((p) => p.trim());
    return STOMP_SUBPROTOCOLS.find((p) => names.includes(p)) ?? '';
  }

  /** The session starts with CONNECT, not with the socket. */
  override opened(): void {}

  override closed(): void {
    for (const [roomId, subscriptionId] of this.live) this.fanout.remove(roomId, subscriptionId);
    this.live.clear();
  }

  override send(frame: string): void {
    this.lastSent = Date.now();
    super.send(frame);
  }

  /** Every close the server decides (revocation, expiry, draining, a rate limit) is told as an ERROR first. */
  override end(code: number, reason: string): void {
    if (this.isOpen && this.state !== 'closing') {
      this.state = 'closing';
      this.send(encodeFrame('ERROR', { message: reason, 'content-type': 'text/plain' }, reason));
    }
    super.end(code, reason);
  }

  override subscribe(topic: string): void {
    // Room events (the user's topic) are a native-protocol feature.
    if (!topic.startsWith(ROOM_TOPIC_PREFIX)) return;
    const roomId = topic.slice(ROOM_TOPIC_PREFIX.length);
    const subscriptionId = this.requested.get(roomId);
    if (subscriptionId === undefined || this.live.has(roomId)) return;
    this.live.set(roomId, subscriptionId);
    this.fanout.add(roomId, subscriptionId);
    super.subscribe(stompTopic(roomId, subscriptionId));
  }

  override unsubscribe(topic: string): void {
    if (!topic.startsWith(ROOM_TOPIC_PREFIX)) return;
    const roomId = topic.slice(ROOM_TOPIC_PREFIX.length);
    const subscriptionId = this.live.get(roomId);
    if (subscriptionId === undefined) return;
    this.live.delete(roomId);
    this.fanout.remove(roomId, subscriptionId);
    super.unsubscribe(stompTopic(roomId, subscriptionId));
  }

  override publishToOthers(topic: string, frame: string): void {
    // Not subscribed to native topics: publish as the app (this socket is not a subscriber anyway).
    this.context.publish(topic, frame);
  }

  override tick(now: number): void {
    if (this.state === 'awaiting-connect') {
      if (now - this.openedAt > CONNECT_TIMEOUT_MS) this.fail('no CONNECT frame within 10 s', CLOSE_PROTOCOL_ERROR);
      return;
    }
    if (this.state !== 'connected') return;
    if (this.expectEveryMs > 0 && now - this.lastReceived > this.expectEveryMs + Math.max(1_000, this.expectEveryMs / 2)) {
      this.fail(`no heart-beat for ${now - this.lastReceived} ms`, CLOSE_PROTOCOL_ERROR);
      return;
    }
    if (this.sendEveryMs > 0 && now - this.lastSent >= this.sendEveryMs * 0.9) this.send('\n');
  }

  receive(data: ArrayBuffer, _isBinary: boolean, receivedAt: number): void {
    if (this.state === 'closing') return;
    this.lastReceived = Date.now();
    let frames: StompFrame[];
    try {
      ({ frames } = this.parser.push(new Uint8Array(data)));
    } catch (error) {
      if (error instanceof StompSyntaxError) return this.fail(error.message, CLOSE_PROTOCOL_ERROR, 'bad_frame');
      throw error;
    }
    // One token per frame, and one for a message that completes none (a frame sent in pieces).
    if (frames.length === 0 && this.parser.buffered > 0 && !this.takeToken()) return;
    for (const frame of frames) {
      if ((this.state as string) === 'closing' || !this.takeToken()) return;
      this.handle(frame, receivedAt);
    }
  }

  private handle(frame: StompFrame, receivedAt: number): void {
    const receipt = frame.headers.get('receipt');
    if (this.state === 'awaiting-connect') {
      if (frame.command !== 'CONNECT' && frame.command !== 'STOMP') return this.fail('the first frame must be CONNECT', CLOSE_PROTOCOL_ERROR);
      return this.connect(frame);
    }
    if (frame.command === 'CONNECT' || frame.command === 'STOMP') return this.fail('already connected', CLOSE_PROTOCOL_ERROR, 'bad_frame', receipt);
    if (this.disconnectReceipt !== null) return;
    switch (frame.command) {
      case 'SUBSCRIBE':
        return this.onSubscribe(frame, receipt);
      case 'UNSUBSCRIBE': {
        const id = frame.headers.get('id');
        const roomId = id === undefined ? undefined : this.subscriptions.get(id);
        if (id === undefined || roomId === undefined) return this.fail(`no subscription with id ${JSON.stringify(id ?? null)}`, CLOSE_PROTOCOL_ERROR, 'bad_frame', receipt);
        this.subscriptions.delete(id);
        this.requested.delete(roomId);
        this.command({ type: 'leave', roomId }, { kind: 'unsubscribe', receipt }, receivedAt);
        return;
      }
      case 'SEND':
        return this.onSend(frame, receipt, receivedAt);
      case 'ACK':
      case 'NACK':
        // Subscriptions are ack:auto; acknowledging is harmless.
        if (receipt !== undefined) this.receipt(receipt);
        return;
      case 'DISCONNECT':
        this.disconnectReceipt = receipt;
        return this.maybeFinishDisconnect();
      default:
        return this.fail(`${frame.command} is not supported (no transactions)`, CLOSE_PROTOCOL_ERROR, 'unsupported', receipt);
    }
  }

  private connect(frame: StompFrame): void {
    const accepted = (frame.headers.get('accept-version') ?? '1.0').split(',').map((v) => v.trim());
    const version = VERSIONS.find((v) => accepted.includes(v));
    if (!version) return this.fail(`supported versions are ${VERSIONS.join(',')}`, CLOSE_PROTOCOL_ERROR, 'bad_version');
    const heartBeat = parseHeartBeat(frame.headers.get('heart-beat'));
    if (!heartBeat) return this.fail('heart-beat must be two numbers: "cx,cy"', CLOSE_PROTOCOL_ERROR, 'bad_frame');
    const authorization = headerAnyCase(frame, 'authorization');
    const accessToken = headerAnyCase(frame, 'access-token');
    if (authorization !== undefined || accessToken !== undefined || this.admission === undefined) {
      const request: AuthRequest = { headers: { authorization, 'access-token': accessToken }, query: new URLSearchParams() };
      try {
        this.authenticated(this.context.deps.authenticate(request));
      } catch (error) {
        if (error instanceof ChatError && error.status === 401) return this.fail(error.message, CLOSE.tokenInvalid, error.code);
        this.context.deps.logger.error({ err: error }, 'STOMP authentication failed');
        return this.fail('try again', CLOSE.internal, 'unavailable');
      }
    }
    this.state = 'connecting';
    const ours = this.context.deps.limits.stompHeartbeatMs ?? 0;
    const [clientSends, clientWants] = heartBeat;
    this.sendEveryMs = ours > 0 && clientWants > 0 ? Math.max(ours, clientWants) : 0;
    this.expectEveryMs = ours > 0 && clientSends > 0 ? Math.max(ours, clientSends) : 0;
    // A refused admission (revoked, unknown account) is closed by the session with an ERROR (see end).
    this.admission.then((identity: SessionIdentity) => {
      if (this.state !== 'connecting' || !this.isOpen) return;
      this.state = 'connected';
      this.lastReceived = Date.now();
      this.send(encodeFrame('CONNECTED', {
        version, 'heart-beat': `${ours},${ours}`, server: 'flametalk', 'user-name': identity.userId,
      }));
    }, () => undefined);
    this.session = this.context.deps.openSession(this, this.admission);
  }

  private onSubscribe(frame: StompFrame, receipt: string | undefined): void {
    const destination = frame.headers.get('destination') ?? '';
    const id = frame.headers.get('id') ?? destination;
    const match = SUBSCRIBE_DESTINATION.exec(destination);
    if (!match) return this.fail(`unknown destination ${JSON.stringify(destination)}: subscribe to /sub/chat/room/{roomId}`, CLOSE_PROTOCOL_ERROR, 'unknown_destination', receipt);
    const roomId = match[1]!;
    if (this.subscriptions.has(id)) return this.fail(`subscription id ${JSON.stringify(id)} is already in use`, CLOSE_PROTOCOL_ERROR, 'bad_frame', receipt);
    if (this.requested.has(roomId)) return this.fail('this connection already subscribes to that room', CLOSE_PROTOCOL_ERROR, 'bad_frame', receipt);
    this.subscriptions.set(id, roomId);
    this.requested.set(roomId, id);
    this.held.set(roomId, []);
    this.command({ type: 'join', roomId }, { kind: 'subscribe', receipt, roomId, subscriptionId: id }, performance.now());
  }

  private onSend(frame: StompFrame, receipt: string | undefined, receivedAt: number): void {
    const destination = frame.headers.get('destination') ?? '';
    if (destination !== SEND_DESTINATION) return this.fail(`unknown destination ${JSON.stringify(destination)}: send to ${SEND_DESTINATION}`, CLOSE_PROTOCOL_ERROR, 'unknown_destination', receipt);
    let body: Record<string, unknown>;
    try {
      const value: unknown = JSON.parse(utf8.decode(frame.body));
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
      body = value as Record<string, unknown>;
    } catch {
      return this.fail('the body must be one JSON object', CLOSE_PROTOCOL_ERROR, 'bad_json', receipt);
    }
    const type = body['type'];
    const roomId = typeof body['room_id'] === 'number' ? String(body['room_id']) : body['room_id'];
    if (type !== 'TALK' && type !== 'FILE' && type !== 'ENTER' && type !== 'INVITE') {
      return this.fail('type must be TALK, FILE, ENTER or INVITE', CLOSE_PROTOCOL_ERROR, 'bad_frame', receipt);
    }
    if (typeof roomId !== 'string' || !/^[0-9]{1,19}$/.test(roomId)) return this.fail('room_id must be a room id', CLOSE_PROTOCOL_ERROR, 'bad_frame', receipt);
    // FlameTalk's apps announced ENTER and INVITE themselves; here the server posts those system
    // messages when membership really changes, so a client cannot fake them: accepted, not stored.
    if (type === 'ENTER' || type === 'INVITE') {
      if (receipt !== undefined) this.receipt(receipt);
      return;
    }
    if (!this.requested.has(roomId)) return this.fail(`subscribe to /sub/chat/room/${roomId} before sending to it`, CLOSE_PROTOCOL_ERROR, 'not_joined', receipt);
    // sender_id and nickname in the body are ignored: the session sends as the authenticated user.
    const fileUrl = body['file_url'];
    const command = {
      type: 'send', roomId, messageType: type,
      clientMsgId: frame.headers.get('client-msg-id') ?? randomUUID(),
      contents: typeof body['contents'] === 'string' ? body['contents'] : '',
      ...(typeof fileUrl === 'string' && fileUrl !== '' ? { fileUrl } : {}),
    };
    // The native protocol's validation, so both protocols accept exactly the same messages.
    const parsed = parseCommand(JSON.stringify(command));
    if ('error' in parsed) return this.fail(parsed.error.message, CLOSE_PROTOCOL_ERROR, parsed.error.code, receipt);
    this.sendsInFlight++;
    const post = (): void => this.command(parsed.command, { kind: 'send', receipt }, receivedAt);
    const waiting = this.held.get(roomId);
    if (waiting) waiting.push(post);
    else post();
  }

  private command(command: ClientCommand, pending: Pending, receivedAt: number): void {
    const ref = `s${++this.refs}`;
    this.pending.set(ref, pending);
    this.tell({ type: 'command', command: { ...command, ref } as ClientCommand, receivedAt });
  }

  reply(frame: ServerFrame): void {
    if (this.state === 'closing') return;
    // This adapter's own refs are strings; the session echoes them back as it got them.
    const ref = 'ref' in frame && frame.ref !== undefined ? String(frame.ref) : undefined;
    const pending = ref === undefined ? undefined : this.pending.get(ref);
    if (ref !== undefined) this.pending.delete(ref);
    switch (frame.type) {
      case 'joined':
      case 'left':
      case 'ack':
        if (pending?.kind === 'send') this.sendsInFlight--;
        if (pending?.receipt !== undefined) this.receipt(pending.receipt);
        if (pending?.kind === 'subscribe') this.release(pending.roomId);
        // Removed from the room elsewhere (the user left it on another device): forget the subscription.
        if (frame.type === 'left' && !pending) this.forgetRoom(frame.roomId);
        this.maybeFinishDisconnect();
        return;
      case 'error':
        if (pending?.kind === 'subscribe') this.forgetRoom(pending.roomId);
        if (pending?.kind === 'send') this.sendsInFlight--;
        this.held.clear();
        return this.fail(frame.message, CLOSE_PROTOCOL_ERROR, frame.code, pending?.receipt);
      default:
        // Typing, read and presence are not part of FlameTalk's STOMP socket; messages come by topic.
        return;
    }
  }

  private release(roomId: string): void {
    const waiting = this.held.get(roomId);
    this.held.delete(roomId);
    for (const post of waiting ?? []) post();
  }

  private forgetRoom(roomId: string): void {
    this.held.delete(roomId);
    const id = this.requested.get(roomId);
    if (id !== undefined) this.subscriptions.delete(id);
    this.requested.delete(roomId);
  }

  private receipt(id: string): void {
    this.send(encodeFrame('RECEIPT', { 'receipt-id': id }));
  }

  /** DISCONNECT's receipt comes once every earlier SEND is durable (STOMP 1.2 graceful disconnect). */
  private maybeFinishDisconnect(): void {
    if (this.disconnectReceipt === null || this.sendsInFlight > 0) return;
    if (this.disconnectReceipt !== undefined) this.receipt(this.disconnectReceipt);
    this.state = 'closing';
    super.end(1000, 'disconnected');
  }

  /** ERROR, then close: STOMP 1.2 ends the connection after every ERROR frame. */
  private fail(message: string, closeCode: number, code = 'bad_frame', receipt?: string): void {
    if (this.state === 'closing' || !this.isOpen) return;
    this.context.deps.metrics.framesRejected.labels(code).inc();
    this.state = 'closing';
    this.send(encodeFrame('ERROR', { message, code, 'content-type': 'text/plain', 'receipt-id': receipt }, message));
    super.end(closeCode, message.slice(0, 120));
  }
}
