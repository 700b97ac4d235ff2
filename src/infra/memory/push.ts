import type { Logger } from 'pino';
import type { PushNotification, PushOutcome, Pusher } from '../ports/push.ts';

/**
 * Embedded-mode pusher: logs every notification instead of calling FCM, and keeps the recent ones
 * so that tests and operators can see what would have been sent. Tokens marked unregistered
 * answer like FCM answers for an uninstalled app.
 */
export class LogPusher implements Pusher {
  readonly maxBatch = 500;
  readonly sent: PushNotification[] = [];
  readonly unregistered = new Set<string>();

  constructor(private readonly logger?: Logger, private readonly keep = 10_000) {}

  async send(notifications: PushNotification[]): Promise<PushOutcome[]> {
    if (notifications.length > this.maxBatch) throw new RangeError(`at most ${this.maxBatch} notifications per batch`);
    return notifications.map((notification) => {
      if (this.unregistered.has(notification.token)) return 'unregistered';
      this.sent.push(notification);
      if (this.sent.length > this.keep) this.sent.splice(0, this.sent.length - this.keep);
      this.logger?.info({ push: notification }, 'push notification');
      return 'sent';
    });
  }

  async close(): Promise<void> {}
}
