import type { DeviceId, UserId } from '../../chat/model.ts';

/** One signed-in device: the unit that refresh tokens rotate within and that revocation ends. */
export interface DeviceSession {
  sessionId: string;
  userId: UserId;
  deviceId: DeviceId;
  createdAt: number;
  expiresAt: number;
}

/**
 * What a rotation handed out, kept by the store in clear for the grace period. It holds no secret:
 * the next refresh secret is derived from `nonce` and the presented secret, which is never stored.
 */
export interface Rotation {
  nonce: string;
  /** When it happened (ms since the epoch): its access token is issued at this time, so a repeat signs the same one. */
  at: number;
}

/** The refresh hash that replaces the presented one, and the rotation it comes from. */
export interface NextRefresh {
  hash: string;
  rotation: Rotation;
  /** The session's new expiry. */
  expiresAt: number;
}

export type RotateResult =
  /** `rotation` is the caller's own, or (a repeat within the grace) the one that rotated the presented hash away. */
  | { outcome: 'rotated'; session: DeviceSession; rotation: Rotation }
  /** A refresh token that was already rotated came back: treated as theft, the session is gone. */
  | { outcome: 'reused'; session: DeviceSession }
  | { outcome: 'unknown' };

/**
 * How many of its refresh hashes rotated away a session remembers, the newest: an older one coming
 * back is `unknown` (refused, the session lives on). A device that refreshes for months keeps a
 * bounded record.
 */
export const USED_REFRESH_HASHES_KEPT = 100;

export type RevocationListener = (session: DeviceSession) => void;

/**
 * Refresh-token sessions and their revocation, shared by every node. Stores only hashes of
 * refresh secrets. A session is one per device: signing in again on a device replaces it.
 */
export interface TokenStore {
  /** Starts a session; resolves the session it replaced on the same device, if any (now revoked). */
  createSession(session: DeviceSession, refreshHash: string): Promise<DeviceSession | undefined>;
  /**
   * Swaps the current refresh hash for `next.hash` when `presentedHash` is current, and remembers
   * the rotation for `graceMs`. The hash rotated away by that last rotation, presented again less
   * than `graceMs` after it (by `next.rotation.at`: a lost response, two concurrent refreshes),
   * changes nothing and gets that rotation back. Any other of the last USED_REFRESH_HASHES_KEPT
   * hashes rotated away is `reused` and ends the session. The record kept for the grace is one per
   * session and expires with the grace.
   */
  rotate(sessionId: string, presentedHash: string, next: NextRefresh, graceMs: number): Promise<RotateResult>;
  /** Ends a session; resolves it when it was active. Every node's listeners hear of it. */
  revoke(sessionId: string): Promise<DeviceSession | undefined>;
  isActive(sessionId: string): Promise<boolean>;
  sessionsOf(userId: UserId): Promise<DeviceSession[]>;
  /** Called on every node for every revocation, including sessions replaced by a new sign-in. */
  onRevoked(listener: RevocationListener): () => void;
  close(): Promise<void>;
}
