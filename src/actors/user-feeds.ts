import type { Logger } from 'pino';
import type { UserId, UserSignal } from '../chat/model.ts';
import type { FeedSubscription, RoomFeed } from '../infra/ports/feed.ts';
import type { ServerFrame } from '../ws/native-protocol.ts';
import type { TopicPublisher } from './socket-handle.ts';

export const userTopic = (userId: UserId): string => `user:${userId}`;

/**
 * Room events for the users connected to this node: one feed subscription per connected user
 * (a Redis sharded-pub/sub channel in a cluster, whatever the number of their sockets here), and
 * one uWS publish per event to the user's topic, which every socket of theirs subscribes to.
 */
export class UserFeeds {
  private readonly users = new Map<UserId, { sockets: number; subscription: Promise<FeedSubscription | undefined> }>();

  constructor(private readonly feed: RoomFeed, private readonly publisher: () => TopicPublisher, private readonly logger: Logger) {}

  attach(userId: UserId): void {
    const entry = this.users.get(userId);
    if (entry) {
      entry.sockets++;
      return;
    }
    const subscription = this.feed.subscribe({ user: userId }, {
      entries: () => undefined,
      signal: (signal) => {
        if (signal.kind !== 'room') return;
        const { event, room, roomId } = signal as UserSignal;
        this.publisher().publish(userTopic(userId), JSON.stringify({ type: 'room', event, room: room ?? { roomId } } satisfies ServerFrame));
      },
      interrupted: () => undefined,
    }).catch((error: unknown) => {
      this.logger.warn({ err: error, userId }, 'could not subscribe to a user\'s room events');
      return undefined;
    });
    this.users.set(userId, { sockets: 1, subscription });
  }

  detach(userId: UserId): void {
    const entry = this.users.get(userId);
    if (!entry || --entry.sockets > 0) return;
    this.users.delete(userId);
    void entry.subscription.then((subscription) => subscription?.stop()).catch(() => undefined);
  }

  /** Users with a live subscription on this node (metrics, tests). */
  get size(): number {
    return this.users.size;
  }
}
