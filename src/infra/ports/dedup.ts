/**
 * Remembers which client message ids a device already sent, across nodes, so that a resend after
 * a reconnect (possibly to another node) gets the original message id instead of a second copy.
 */
export interface SendDeduplicator {
  /** Claims `key` for `messageId`; resolves the message id of an earlier claim when there is one. */
  claim(key: string, messageId: string, ttlMs: number): Promise<string | undefined>;
  /** Drops a claim that did not lead to a durable message, so a retry is not mistaken for a duplicate. */
  release(key: string, messageId: string): Promise<void>;
  close(): Promise<void>;
}
