import type { UserId } from '../../chat/model.ts';
import { USED_REFRESH_HASHES_KEPT, type DeviceSession, type NextRefresh, type RevocationListener, type Rotation, type RotateResult, type TokenStore } from '../ports/tokens.ts';

interface SessionRecord {
  session: DeviceSession;
  currentHash: string;
  /** In the order they were rotated away (a Set iterates in insertion order), the newest last. */
  usedHashes: Set<string>;
  /** The last rotation: the hash it rotated away and what it handed out. */
  last?: { previousHash: string; rotation: Rotation };
}

/** Token state shared by the in-process nodes of one process. */
export class MemoryTokenHub {
  readonly sessions = new Map<string, SessionRecord>();
  /** `user\tdevice` → session id */
  readonly byDevice = new Map<string, string>();
  readonly listeners = new Set<RevocationListener>();

  revoke(sessionId: string): DeviceSession | undefined {
    const record = this.sessions.get(sessionId);
    if (!record) return undefined;
    this.sessions.delete(sessionId);
    const deviceKey = `${record.session.userId}\t${record.session.deviceId}`;
    if (this.byDevice.get(deviceKey) === sessionId) this.byDevice.delete(deviceKey);
    for (const listener of this.listeners) queueMicrotask(() => listener(record.session));
    return record.session;
  }
}

export class MemoryTokenStore implements TokenStore {
  private readonly own = new Set<RevocationListener>();

  constructor(private readonly hub: MemoryTokenHub = new MemoryTokenHub(), private readonly now: () => number = Date.now) {}

  async createSession(session: DeviceSession, refreshHash: string): Promise<DeviceSession | undefined> {
    const deviceKey = `${session.userId}\t${session.deviceId}`;
    const previousId = this.hub.byDevice.get(deviceKey);
    const replaced = previousId === undefined ? undefined : this.hub.revoke(previousId);
    this.hub.sessions.set(session.sessionId, { session: { ...session }, currentHash: refreshHash, usedHashes: new Set() });
    this.hub.byDevice.set(deviceKey, session.sessionId);
    return replaced;
  }

  async rotate(sessionId: string, presentedHash: string, next: NextRefresh, graceMs: number): Promise<RotateResult> {
    const record = this.live(sessionId);
    if (!record) return { outcome: 'unknown' };
    const { last } = record;
    if (last?.previousHash === presentedHash && next.rotation.at < last.rotation.at + graceMs) {
      return { outcome: 'rotated', session: { ...record.session }, rotation: last.rotation };
    }
    if (record.usedHashes.has(presentedHash)) {
      this.hub.revoke(sessionId);
      return { outcome: 'reused', session: record.session };
    }
    if (record.currentHash !== presentedHash) return { outcome: 'unknown' };
    record.usedHashes.add(presentedHash);
    if (record.usedHashes.size > USED_REFRESH_HASHES_KEPT) record.usedHashes.delete(record.usedHashes.values().next().value!);
    record.currentHash = next.hash;
    record.session.expiresAt = next.expiresAt;
    record.last = { previousHash: presentedHash, rotation: next.rotation };
    return { outcome: 'rotated', session: { ...record.session }, rotation: next.rotation };
  }

  async revoke(sessionId: string): Promise<DeviceSession | undefined> {
    return this.hub.revoke(sessionId);
  }

  async isActive(sessionId: string): Promise<boolean> {
    return this.live(sessionId) !== undefined;
  }

  async sessionsOf(userId: UserId): Promise<DeviceSession[]> {
    const sessions: DeviceSession[] = [];
    for (const record of this.hub.sessions.values()) {
      if (record.session.userId === userId && record.session.expiresAt > this.now()) sessions.push({ ...record.session });
    }
    return sessions;
  }

  onRevoked(listener: RevocationListener): () => void {
    this.hub.listeners.add(listener);
    this.own.add(listener);
    return () => {
      this.hub.listeners.delete(listener);
      this.own.delete(listener);
    };
  }

  async close(): Promise<void> {
    for (const listener of this.own) this.hub.listeners.delete(listener);
    this.own.clear();
  }

  private live(sessionId: string): SessionRecord | undefined {
    const record = this.hub.sessions.get(sessionId);
    if (record && record.session.expiresAt <= this.now()) {
      this.hub.sessions.delete(sessionId);
      return undefined;
    }
    return record;
  }
}
