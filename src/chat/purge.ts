import type { Logger } from 'pino';
import type { JobLeases } from '../infra/ports/job-lease.ts';
import type { PeopleStore } from '../infra/ports/people.ts';
import type { ChatStore } from '../infra/ports/store.ts';
import type { TokenStore } from '../infra/ports/tokens.ts';
import type { ChatMessage, User, UserId } from './model.ts';
import type { RoomService } from './rooms.ts';
import type { SystemMessageLanguage } from './system-messages.ts';

/** The name history shows for the messages of an account that was purged. */
export const DELETED_USER_NAME: Record<SystemMessageLanguage, string> = { ko: '(알 수 없음)', en: 'deleted user' };

export const PURGE_JOB = 'account-purge';

/**
 * Messages of senders whose account no longer exists carry `name` instead of the nickname they
 * were sent under. History rows are never rewritten: the name is resolved as they are read.
 */
export async function withDeletedSenders(store: ChatStore, messages: ChatMessage[], name: string): Promise<ChatMessage[]> {
  const senders = [...new Set(messages.map((m) => m.senderId))];
  if (senders.length === 0) return messages;
  const known = new Set((await store.getUsers(senders)).map((u) => u.userId));
  if (known.size === senders.length) return messages;
  return messages.map((m) => (known.has(m.senderId) ? m : { ...m, nickname: name }));
}

export interface AccountPurgeDeps {
  store: ChatStore;
  people: PeopleStore;
  tokens: TokenStore;
  rooms: RoomService;
  leases: JobLeases;
  logger: Logger;
  /** Accounts that left longer ago than this are purged. */
  afterMs: number;
  /** The name a purged account's LEAVE messages and old messages go by. */
  deletedName: string;
  now?: () => number;
  /** Accounts per run (default 100); the rest wait for the next run. */
  batchSize?: number;
  /** How long one run may hold the lease (default 10 minutes); a run is safe to repeat if it overruns. */
  leaseMs?: number;
}

/**
 * Deletes accounts for good once their leave grace is over: one node at a time (under a job
 * lease), a batch per run. Each step can be repeated, and the account row goes last, so a run
 * that stops halfway is finished by the next one.
 */
export class AccountPurge {
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(private readonly deps: AccountPurgeDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Runs every `intervalMs` (the first run after one interval). */
  start(intervalMs: number): void {
    this.timer ??= setInterval(() => void this.runOnce().catch((error: unknown) => {
      this.deps.logger.warn({ err: error }, 'the account purge failed; it runs again at the next interval');
    }), intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** One run; resolves the number of accounts purged (0 when another node holds the lease). */
  runOnce(): Promise<number> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<number> {
    const { store, leases, logger } = this.deps;
    if (!(await leases.tryAcquire(PURGE_JOB, this.deps.leaseMs ?? 600_000))) return 0;
    try {
      const due = await store.usersLeftBefore(this.now() - this.deps.afterMs, this.deps.batchSize ?? 100);
      const cleared: User[] = [];
      for (const user of due) {
        try {
          await this.clear(user);
          cleared.push(user);
        } catch (error) {
          logger.warn({ err: error, userId: user.userId }, 'purging an account failed; the next run tries again');
        }
      }
      if (cleared.length === 0) return 0;
      await this.deps.people.removeFromAllFriends(cleared.map((u) => u.userId));
      for (const user of cleared) await store.deleteUser(user.userId);
      logger.info({ purged: cleared.length, userIds: cleared.map((u) => u.userId) }, 'purged accounts whose leave grace was over');
      return cleared.length;
    } finally {
      await leases.release(PURGE_JOB).catch(() => undefined);
    }
  }

  /** Everything of one account but its row (and, for the whole batch, others' friend lists). */
  private async clear(user: User): Promise<void> {
    const { store, people, tokens, rooms } = this.deps;
    const { userId } = user;
    // First, so the LEAVE messages and everyone's default room titles name no one.
    await store.updateUser(userId, { nickname: this.deps.deletedName });
    for (const session of await tokens.sessionsOf(userId)) await tokens.revoke(session.sessionId);
    for (const membership of await store.roomsOf(userId)) await this.leaveRoom(userId, membership.roomId);
    for (const profile of await people.profilesOf(userId)) await people.deleteProfile(profile.profileId);
    for (const friend of await people.friendsOf(userId)) await people.removeFriend(userId, friend.friendId);
    for (const open of await people.openProfilesOf(userId)) await people.deleteOpenProfile(open.openProfileId);
  }

  /** The ordinary leave path: the other members get the LEAVE message and the room events. */
  private async leaveRoom(userId: UserId, roomId: string): Promise<void> {
    try {
      await this.deps.rooms.leave(userId, roomId);
    } catch (error) {
      // Gone in between (a repeated run, a room deleted): nothing left to leave.
      if (await this.deps.store.getMembership(roomId, userId)) throw error;
    }
  }
}
