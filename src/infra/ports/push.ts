import type { DeviceId, UserId } from '../../chat/model.ts';

export interface PushNotification {
  token: string;
  userId: UserId;
  deviceId: DeviceId;
  title: string;
  body: string;
  /** String pairs delivered to the app (FCM data payload). */
  data: Record<string, string>;
}

export type PushOutcome = 'sent' | 'unregistered' | 'failed';

/** Sends notifications to devices; results come back in the order of the input. */
export interface Pusher {
  /** Largest batch one call accepts (FCM: 500). */
  readonly maxBatch: number;
  send(notifications: PushNotification[]): Promise<PushOutcome[]>;
  close(): Promise<void>;
}
