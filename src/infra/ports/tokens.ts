import type { DeviceId, UserId } from '../../chat/model.ts';

/** One signed-in device: the unit that refresh tokens rotate within and that revocation ends. */
export interface DeviceSession {
  sessionId: string;
  userId: UserId;
  deviceId: DeviceId;
  createdAt: number;
  expiresAt: number;
}

export type RotateResult =
  | { outcome: 'rotated'; session: DeviceSession }
  /** A refresh token that was already rotated came back: treated as theft, the session is gone. */
  | { outcome: 'reused'; session: DeviceSession }
  | { outcome: 'unknown' };

export type RevocationListener = (session: DeviceSession) => void;

/**
 * Refresh-token sessions and their revocation, shared by every node. Stores only hashes of
 * refresh secrets. A session is one per device: signing in again on a device replaces it.
 */
export interface TokenStore {
  /** Starts a session; resolves the session it replaced on the same device, if any (now revoked). */
  createSession(session: DeviceSession, refreshHash: string): Promise<DeviceSession | undefined>;
  /** Swaps the current refresh hash for `nextHash` when `presentedHash` is current. */
  rotate(sessionId: string, presentedHash: string, nextHash: string, expiresAt: number): Promise<RotateResult>;
  /** Ends a session; resolves it when it was active. Every node's listeners hear of it. */
  revoke(sessionId: string): Promise<DeviceSession | undefined>;
  isActive(sessionId: string): Promise<boolean>;
  sessionsOf(userId: UserId): Promise<DeviceSession[]>;
  /** Called on every node for every revocation, including sessions replaced by a new sign-in. */
  onRevoked(listener: RevocationListener): () => void;
  close(): Promise<void>;
}
