import { randomUUID } from 'node:crypto';
import type { Agent } from 'node:https';
import { cert, deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getMessaging, type Message, type Messaging, type SendResponse } from 'firebase-admin/messaging';
import type { PushNotification, PushOutcome, Pusher } from '../ports/push.ts';

export interface FcmPusherOptions {
  /** Path to the Firebase service-account JSON (the file form is the one whose OAuth calls honour `httpAgent`). */
  serviceAccountPath: string;
  /** Agent for every call to Google (OAuth and FCM), e.g. the local fake's or a proxy's. It switches
   *  sends to HTTP/1.1 (see the constructor), where a batch is as concurrent as the agent's
   *  maxSockets allows: ~100 keeps pace with HTTP/2 against the real FCM. */
  httpAgent?: Agent;
  /** firebase-admin app name; unique by default so several pushers can live in one process. */
  appName?: string;
  /** Also send a notification block (title, body), which the phone's OS shows by itself when the app
   *  is in the background. Default false: a data message only, which FlameTalk's Android app reads
   *  and renders itself (`title`, `body`, `roomId`, `messageId`, `senderId` in `data`). */
  notificationBlock?: boolean;
}

/** FCM rejects a message over 4,096 bytes. We bound the whole serialized request (token included),
 *  which is stricter than FCM's payload count, so nothing we send is refused for its size. */
const FCM_MESSAGE_LIMIT = 4096;
const ELLIPSIS = '…';

/**
 * Cluster-mode pusher: FCM HTTP v1 through firebase-admin's `sendEach`, one result per token in
 * input order. Per-token failures are outcomes, never exceptions; the call throws only when nothing
 * reached FCM at all (bad credentials, FCM unreachable), because then no outcome means anything.
 */
export class FcmPusher implements Pusher {
  readonly maxBatch = 500;
  private readonly app: App;
  private readonly messaging: Messaging;
  private readonly notificationBlock: boolean;

  constructor(options: FcmPusherOptions) {
    this.notificationBlock = options.notificationBlock ?? false;
    this.app = initializeApp(
      { credential: cert(options.serviceAccountPath, options.httpAgent), httpAgent: options.httpAgent },
      options.appName ?? `flametalk-fcm-${randomUUID()}`,
    );
    this.messaging = getMessaging(this.app);
    // Transport (firebase-admin 13.10, measured): the default HTTP/2 path of sendEach opens its own
    // session with http2.connect('https://fcm.googleapis.com') and ignores httpAgent. With the fake's
    // agent it rejected the whole batch ("Session error ... ENOTFOUND fcm.googleapis.com") and the
    // fake saw no request; with internet access it would have reached the real Google. So an agent
    // forces the legacy HTTP/1.1 transport, the only one that honours it.
    // Without an agent we keep HTTP/2. Over local TLS with 50 ms per FCM answer, a 500-message batch
    // took ~330 ms on HTTP/2 (100 streams on one connection per call) against ~310 ms on HTTP/1.1
    // with 100 pooled sockets, ~890 ms with 32, and ~675 ms through Node's default unbounded agent
    // (2,209 TLS handshakes for 8 batches). HTTP/2 is as fast, with one connection per call.
    if (options.httpAgent) this.messaging.enableLegacyHttpTransport();
  }

  async send(notifications: PushNotification[]): Promise<PushOutcome[]> {
    if (notifications.length > this.maxBatch) throw new RangeError(`at most ${this.maxBatch} notifications per batch`);
    // sendEach refuses an empty array; an empty batch simply has no outcomes.
    if (notifications.length === 0) return [];
    const { responses } = await this.messaging.sendEach(notifications.map((n) => toMessage(n, this.notificationBlock)));
    // The legacy transport turns a failed OAuth token fetch or a dead network into one rejected
    // request per message, so the batch "succeeds" with every message failed by an `app/` error.
    // Only FCM's own answers carry a `messaging/` code; if not one message got an answer, the call failed.
    const firstError = responses[0]?.error;
    if (firstError && responses.every((r) => !r.success && !r.error?.code.startsWith('messaging/'))) throw firstError;
    return responses.map(outcome);
  }

  async close(): Promise<void> {
    await deleteApp(this.app);
  }
}

function outcome(response: SendResponse): PushOutcome {
  if (response.success) return 'sent';
  switch (response.error?.code) {
    case 'messaging/registration-token-not-registered': // FCM v1 UNREGISTERED (404): app uninstalled, token expired
    case 'messaging/invalid-registration-token':
      return 'unregistered';
    case 'messaging/invalid-argument':
      // FCM v1 answers INVALID_ARGUMENT both for a malformed token and for a bad message (e.g. too
      // big); only the message text tells them apart. Deleting a good token over a bad message
      // would silence a device for good, so only the token case counts as unregistered.
      return /registration token/i.test(response.error.message) ? 'unregistered' : 'failed';
    default:
      return 'failed'; // quota (429), FCM unavailable, APNs auth, ...: the token is fine, retry later
  }
}

/** The FCM message for one notification: title and body always travel in `data` (what the app
 *  reads) and, when configured, in a notification block too (what the OS shows by itself). */
function toMessage(notification: PushNotification, notificationBlock: boolean): Message {
  const build = (title: string, body: string): Message => {
    const data = { ...notification.data, title, body };
    return notificationBlock
      ? {
          token: notification.token,
          notification: { title, body },
          data,
          // Chat messages must reach a dozing Android phone now, not in the next maintenance window.
          android: { priority: 'high' },
          // 10 = deliver immediately (5 lets iOS batch for power); an alert push type is required for a
          // visible notification since iOS 13; without a sound the notification arrives silently.
          apns: { headers: { 'apns-priority': '10', 'apns-push-type': 'alert' }, payload: { aps: { sound: 'default' } } },
        }
      : {
          token: notification.token,
          data,
          android: { priority: 'high' },
          // A data-only message reaches an iOS app as a background push: Apple requires priority 5
          // and content-available for it; the app then shows the notification itself.
          apns: { headers: { 'apns-priority': '5', 'apns-push-type': 'background' }, payload: { aps: { 'content-available': 1 } } },
        };
  };
  const { title, body } = notification;
  const message = build(title, body);
  if (requestBytes(message) <= FCM_MESSAGE_LIMIT) return message;
  // Each byte of title and body is sent once per copy (data, and the notification block when on).
  const copies = notificationBlock ? 2 : 1;
  // What one copy of title and body may take together once everything else (token, data, platform parts) is in.
  const room = Math.floor((FCM_MESSAGE_LIMIT - requestBytes(build('', ''))) / copies);
  // Data alone too big: no cut of the text helps; FCM refuses the message and we report 'failed'.
  if (room < 0) return message;
  // The body gives way first. The title (a room name, but a default group title lists every
  // member) keeps what it needs up to half the room, or more if the body leaves it more.
  const titleBytes = jsonBytes(title);
  const titleBudget = titleBytes <= room / 2 ? titleBytes : Math.max(Math.floor(room / 2), room - jsonBytes(body));
  const cutTitle = fit(title, titleBudget);
  return build(cutTitle, fit(body, room - jsonBytes(cutTitle)));
}

/** Bytes of the request body firebase-admin sends for this message (`{"message": ...}`, UTF-8 JSON). */
function requestBytes(message: Message): number {
  return Buffer.byteLength(JSON.stringify({ message }));
}

/** Bytes a string adds inside a JSON string literal (escapes included, quotes excluded). */
function jsonBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text)) - 2;
}

/** `text` itself if it fits `budget` bytes (JSON-escaped UTF-8), else its longest prefix that fits
 *  with an ellipsis after it. */
function fit(text: string, budget: number): string {
  if (jsonBytes(text) <= budget) return text;
  const room = budget - jsonBytes(ELLIPSIS);
  return room < 0 ? '' : prefix(text, room) + ELLIPSIS;
}

/** The longest prefix of `text` whose JSON-escaped UTF-8 fits `budget` bytes. Iterating by code
 *  point never splits a surrogate pair, so an emoji is kept whole or dropped whole. */
function prefix(text: string, budget: number): string {
  let used = 0;
  let end = 0;
  for (const codePoint of text) {
    used += jsonBytes(codePoint);
    if (used > budget) break;
    end += codePoint.length;
  }
  return text.slice(0, end);
}
