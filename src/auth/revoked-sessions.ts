/**
 * Sessions this node heard were revoked, remembered as long as their access tokens can live, so
 * the WebSocket upgrade can refuse them without a round trip to the token store.
 */
export class RevokedSessions {
  private readonly until = new Map<string, number>();
  private nextPurge = 0;

  constructor(private readonly rememberMs: number, private readonly now: () => number = Date.now) {}

  add(sessionId: string): void {
    this.purge();
    this.until.set(sessionId, this.now() + this.rememberMs);
  }

  has(sessionId: string): boolean {
    const until = this.until.get(sessionId);
    return until !== undefined && until > this.now();
  }

  private purge(): void {
    const now = this.now();
    if (now < this.nextPurge) return;
    this.nextPurge = now + 60_000;
    for (const [sessionId, until] of this.until) if (until <= now) this.until.delete(sessionId);
  }
}
