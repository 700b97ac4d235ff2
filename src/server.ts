import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { spawnNotifier, notifierHandler } from './actors/notifier.ts';
import { RoomDirectory } from './actors/room-directory.ts';
import { spawnRoom } from './actors/room.ts';
import { ActorRuntime } from './actors/runtime.ts';
import { spawnSession } from './actors/session.ts';
import { UserFeeds } from './actors/user-feeds.ts';
import { AccessTokens } from './auth/access-tokens.ts';
import { admission } from './auth/admission.ts';
import {
  customAuthenticator, sessionActive, tokenAuthenticator, type AuthenticateFn, type AuthRequest, type Identity,
} from './auth/authenticator.ts';
import { defaultHashConcurrency, Passwords } from './auth/passwords.ts';
import { RevokedSessions } from './auth/revoked-sessions.ts';
import { AccountService } from './chat/accounts.ts';
import { MessageService } from './chat/messages.ts';
import type { RoomEvent } from './chat/model.ts';
import { persister } from './chat/persister.ts';
import { AccountPurge, DELETED_USER_NAME } from './chat/purge.ts';
import { PERSISTER_GROUP } from './chat/recovery.ts';
import { PresenceKeeper, presenceLeaseFor } from './chat/presence-keeper.ts';
import { MemberIds } from './chat/member-ids.ts';
import { RoomService, type MembershipChange } from './chat/rooms.ts';
import { membershipEffects, type SystemMessageLanguage } from './chat/system-messages.ts';
import { PeopleService } from './people/people.ts';
import { BlockList } from './people/blocks.ts';
import { OpenChat } from './people/open-chat.ts';
import { FileService } from './files/files.ts';
import { createHmac } from 'node:crypto';
import { SnowflakeGenerator } from './chat/snowflake.ts';
import { StoreCache } from './chat/store-cache.ts';
import { isClusterMode, loadConfig } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { buildHttpApp } from './http/app.ts';
import { startMetricsServer, type MetricsServer } from './http/metrics-server.ts';
import { nodeName as makeNodeName, openPorts, type Ports } from './infra/drivers.ts';
import type { BusSubscription } from './infra/ports/bus.ts';
import { createLogger } from './logger.ts';
import { installSignalHandlers } from './signals.ts';
import { Metrics } from './metrics.ts';
import { CLOSE } from './ws/native-protocol.ts';
import { SocketServer } from './ws/socket-server.ts';

export interface ChatServerOptions {
  /** Settings; anything not given comes from `env` (when given) and then the defaults. */
  config?: Partial<Config>;
  /** Environment to read settings from; `npm start` passes process.env, embedding hosts usually do not. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Replaces flametalk's own access tokens with the host's authentication. */
  authenticate?: AuthenticateFn;
  /** Drivers to use instead of the ones configuration would pick. */
  drivers?: Partial<Ports>;
  /** Listen for HTTP on `httpPort` (default true); false when the host serves `handleHttp` itself. */
  listenHttp?: boolean;
  /** Install SIGTERM/SIGINT handlers that stop the server and exit (default false: the host owns the process). */
  handleSignals?: boolean;
  /** The clock of accounts' leave grace and of the account purge (default Date.now; tests pass their own). */
  now?: () => number;
}

export interface ChatServerEvents {
  /** Every room event this node delivers to its sockets (rooms with members connected here), in room order. */
  roomEvent: [RoomEvent];
  connection: [{ userId: string; deviceId: string; connectionId: string }];
  stopped: [];
}

export interface ChatServer {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly events: EventEmitter<ChatServerEvents>;
  /** Available after start(). */
  readonly ports: Ports;
  readonly chat: {
    accounts: AccountService; rooms: RoomService; messages: MessageService; people: PeopleService; files: FileService; openChat: OpenChat;
    /** Deletes accounts whose leave grace is over; runs every ACCOUNT_PURGE_INTERVAL_MS, runOnce() for an immediate run. */
    purge: AccountPurge;
  };
  /** The ports actually bound (0 in the config picks a free one); metricsPort only with METRICS_PORT. */
  readonly addresses: ServerAddresses;
  start(): Promise<ServerAddresses>;
  /** Graceful: stop accepting, 4200 to clients in batches, flush the bus and stores, close drivers. */
  stop(): Promise<void>;
  /** The HTTP API as a plain Node handler, for hosts with their own HTTP server. */
  handleHttp(request: IncomingMessage, response: ServerResponse): void;
}

export interface ServerAddresses {
  httpPort: number;
  wsPort: number;
  metricsPort?: number;
}

/** Builds a flametalk node. Nothing listens or connects until start(). */
export function createChatServer(options: ChatServerOptions = {}): ChatServer {
  const config = loadConfig(options.env ?? {}, options.config);
  const logger = options.logger ?? createLogger(config);
  const metrics = new Metrics();
  const events = new EventEmitter<ChatServerEvents>();
  const name = makeNodeName();

  let started: Awaited<ReturnType<typeof startNode>> | undefined;
  let stopping: Promise<void> | undefined;
  const addresses: ServerAddresses = { httpPort: 0, wsPort: 0 };

  const notStarted = (): never => {
    throw new Error('the chat server is not started');
  };

  /** Opens the drivers, then wires the node; a failure on the way closes what was opened. */
  async function startNode() {
    const opened = await openPorts(config, name, logger, options.drivers);
    try {
      return await wireNode(opened);
    } catch (error) {
      const { presence, bus, feed, store, tokens, dedup, pusher, people, files } = opened.ports;
      await Promise.allSettled([presence.close(), bus.close(), feed.close(), people.close(), files.close(), store.close(), tokens.close(), dedup.close(), pusher.close()]);
      await opened.close();
      throw error;
    }
  }

  async function wireNode(opened: Awaited<ReturnType<typeof openPorts>>) {
    const { ports } = opened;
    const { presence, bus, feed, store, tokens, dedup } = ports;
    const ids = new SnowflakeGenerator(opened.nodeId.nodeId);
    opened.nodeId.onLost(() => {
      logger.error({ nodeId: opened.nodeId.nodeId }, 'this node lost the lease on its node id: stopping, so that no other node makes the same ids');
      void server.stop();
    });

    let jwtSecret = config.jwtSecret;
    if (!jwtSecret && opened.sqlite) {
      ({ secret: jwtSecret } = opened.sqlite.jwtSecret);
      logger.info({ source: opened.sqlite.jwtSecret.source, dataDir: opened.sqlite.dataDir },
        opened.sqlite.jwtSecret.source === 'generated' ? 'generated a JWT key and kept it in the data directory' : 'JWT key read from the data directory');
    } else if (!jwtSecret) {
      jwtSecret = randomBytes(32).toString('base64url');
      logger.warn('no JWT_SECRET configured and no data directory (EMBEDDED_STORAGE=memory): generated a key for this process; tokens end with it');
    } else {
      logger.info('JWT key from JWT_SECRET');
    }
    const accessTokens = new AccessTokens(jwtSecret, config.jwtIssuer, config.accessTokenTtlSeconds);
    const passwords = new Passwords({ concurrency: config.passwordHashConcurrency ?? defaultHashConcurrency(), maxWaiting: config.passwordHashQueue });
    const blocks = new BlockList(store, ports.people);
    const people = new PeopleService(store, ports.people, {
      newId: () => ids.next(), defaultCountryCode: config.phoneDefaultCountryCode, onFriendChanged: (userId, friendId) => blocks.forget(userId, friendId),
    });
    const purgeAfterMs = config.accountPurgeAfterDays * 86_400_000;
    const deletedName = DELETED_USER_NAME[config.systemMessageLanguage as SystemMessageLanguage];
    const accounts = new AccountService(store, tokens, accessTokens, {
      refreshTtlSeconds: config.refreshTokenTtlSeconds, refreshReuseGraceMs: config.refreshReuseGraceMs, newUserId: () => ids.next(), passwords,
      leaveGraceMs: purgeAfterMs, ...(options.now ? { now: options.now } : {}),
      normalizePhone: (raw) => people.normalizePhone(raw), onSignUp: async (user) => void (await people.defaultProfile(user)),
    });
    // What sockets read to connect, join and send, so that a store outage does not stop them.
    const storeCache = new StoreCache(store, { ttlMs: config.storeCacheTtlMs, maxEntries: config.storeCacheEntries });
    const openChat = new OpenChat(store, ports.people, (roomId) => storeCache.room(roomId));
    // Derived from the JWT key like the file URL key: every node, and every restart, names open rooms' members alike.
    const memberIds = new MemberIds(createHmac('sha256', jwtSecret).update('flametalk open room member ids').digest(), store);
    // Rooms post system messages through the message service, which checks files against rooms:
    // the effect is bound once both exist.
    let membershipEffect: (change: MembershipChange) => Promise<void> = async () => undefined;
    const rooms = new RoomService(store, presence, feed, {
      newRoomId: () => ids.next(), hasBlocked: (blocker, other) => people.hasBlocked(blocker, other), openChat, memberIds,
      onChange: (change) => membershipEffect(change), cache: storeCache,
    });
    const files = new FileService(ports.files, ports.people, rooms, {
      newId: () => ids.next(), maxBytes: config.maxUploadBytes, urlTtlSeconds: config.fileUrlTtlSeconds,
      // Its own key, derived from the JWT key: every node signs and checks file URLs alike.
      signingKey: createHmac('sha256', jwtSecret).update('flametalk file URLs').digest('base64url'),
    });
    const messages = new MessageService({
      store, bus, feed, dedup, files, senderName: (roomId, userId) => openChat.senderName(roomId, userId), deletedSenderName: deletedName,
      requireMember: (userId, roomId) => rooms.checkMember(userId, roomId),
    }, ids, config.maxTextLength);
    membershipEffect = membershipEffects({
      store, feed, messages, language: config.systemMessageLanguage as SystemMessageLanguage, logger,
      nameInRoom: (roomId, userId) => openChat.senderName(roomId, userId), naming: (room) => rooms.naming(room),
    });

    const revoked = new RevokedSessions(config.accessTokenTtlSeconds * 1000);
    const quickAuthenticate = options.authenticate ? customAuthenticator(options.authenticate) : tokenAuthenticator(accessTokens, revoked);
    const admit = admission(ports, Boolean(options.authenticate), (userId) => storeCache.user(userId));
    // HTTP needs only the revocation check; a host's users must exist before they create rooms.
    const authenticate = async (request: AuthRequest): Promise<Identity> => {
      const identity = await quickAuthenticate(request);
      if (options.authenticate) await admit(identity);
      else await sessionActive(identity, tokens);
      return identity;
    };

    const runtime = new ActorRuntime(logger.child({ component: 'actors' }));
    let socketServer: SocketServer | undefined;
    const emit = (event: RoomEvent): void => void events.emit('roomEvent', event);
    const directory: RoomDirectory = new RoomDirectory(runtime, (roomId) => spawnRoom(roomId, {
      nodeId: name, runtime, directory: () => directory, presence, recovery: { store, bus, feed }, naming: (id) => memberIds.of(id), metrics, logger, emit,
      publisher: socketServer!, recoveryLimit: config.recoveryLimit, recentBytes: config.recentBytes, roomIdleMs: config.roomIdleMs,
      gapRepairMs: config.gapRepairMs, gapSkipMs: config.gapSkipMs,
    }));
    const userFeeds = new UserFeeds(feed, () => socketServer!, logger);
    const notifier = spawnNotifier({
      runtime, presence, store, pusher: ports.pusher, metrics, logger, coalesceMs: config.pushCoalesceMs,
      blockedRecipients: (roomId, senderId, recipients) => blocks.blockedRecipients(roomId, senderId, recipients),
      openRoomTitle: async (roomId) => (await openChat.entry(roomId))?.title, naming: (roomId) => memberIds.of(roomId),
    });

    const subscriptions: BusSubscription[] = [];
    // On an in-process bus the sender stores its messages itself (see MessageService).
    if (bus.durable) subscriptions.push(await bus.consume(PERSISTER_GROUP, persister(store, feed)));
    subscriptions.push(await bus.consume('notifier', notifierHandler(runtime, notifier)));

    const purge = new AccountPurge({
      store, people: ports.people, tokens, rooms, leases: opened.jobLeases, logger: logger.child({ component: 'purge' }),
      afterMs: purgeAfterMs, deletedName, ...(options.now ? { now: options.now } : {}),
    });
    purge.start(config.accountPurgeIntervalMs);

    const keeper = new PresenceKeeper(presence, feed, presenceLeaseFor(config.presenceLeaseMs), () => directory.broadcast({ type: 'reenter' }), logger);
    keeper.start();

    // One object for every session: a session keeps its deps for its lifetime.
    const sessionDeps = {
      nodeId: name, runtime, rooms: directory, roomService: rooms, messages, feed, metrics, logger, maxJoinedRooms: config.maxJoinedRooms, userFeeds,
    };
    socketServer = new SocketServer({
      logger, metrics, limits: config, authenticate: quickAuthenticate, admit,
      openSession: (socket, admitted) => {
        admitted.then((identity) => events.emit('connection', { userId: identity.userId, deviceId: identity.deviceId, connectionId: socket.connectionId }), () => undefined);
        return spawnSession(socket, admitted, sessionDeps);
      },
      tell: (session, message) => runtime.tell(session, message),
      openRoomIdOf: (roomId, userId) => memberIds.inOpenRoom(roomId, userId),
    });
    const sockets = socketServer;
    const unsubscribeRevocations = tokens.onRevoked((session) => {
      revoked.add(session.sessionId);
      const closed = sockets.closeWhere((identity) => identity.sessionId === session.sessionId, CLOSE.revoked, 'signed out or revoked');
      if (closed > 0) logger.info({ userId: session.userId, deviceId: session.deviceId, closed }, 'closed sockets of a revoked device');
    });

    metrics.busLagProbe = () => bus.lag();
    metrics.bufferedBytesProbe = () => sockets.bufferedBytes();

    const http = await buildHttpApp({
      accounts, rooms, messages, people, files, openChat, presence, store, authenticate, metrics, logger,
      config, readiness: opened.readiness,
      webApp: { wsPort: () => addresses.wsPort, ...(config.webAppWsUrl ? { wsUrl: config.webAppWsUrl } : {}) },
    });
    if (options.listenHttp ?? true) {
      await http.listen({ host: config.host, port: config.httpPort });
      addresses.httpPort = (http.server.address() as { port: number }).port;
    } else {
      await http.ready();
    }
    let metricsServer: MetricsServer | undefined;
    try {
      if (config.metricsPort !== undefined) {
        metricsServer = await startMetricsServer(metrics, config.metricsHost ?? config.host, config.metricsPort, logger);
        addresses.metricsPort = metricsServer.port;
      }
      addresses.wsPort = await sockets.listen(config.host, config.wsPort);
    } catch (error) {
      sockets.stopListening();
      await Promise.allSettled([http.close(), keeper.stop(), purge.stop(), metricsServer?.close()]);
      runtime.shutdown();
      throw error;
    }

    return { opened, ports, accounts, rooms, messages, people, files, openChat, purge, runtime, sockets, http, metricsServer, subscriptions, keeper, unsubscribeRevocations };
  }

  async function stopNode(node: NonNullable<typeof started>): Promise<void> {
    const deadline = Date.now() + config.shutdownTimeoutMs * 0.8;
    const bounded = <T>(work: Promise<T>): Promise<T | undefined> =>
      Promise.race([work, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now())).unref())]);

    node.sockets.stopListening();
    const httpClosed = node.http.close();
    await node.sockets.drain(config.drainBatchSize);
    await bounded(node.messages.settled());
    // Everything this node accepted must reach the store before the bus connection goes.
    await bounded((async () => {
      while ((await node.ports.bus.lag().catch(() => 0)) > 0) await new Promise((r) => setTimeout(r, 50));
    })());
    node.unsubscribeRevocations();
    await bounded(node.purge.stop());
    await node.keeper.stop();
    for (const subscription of node.subscriptions) await bounded(subscription.stop());
    const { presence, bus, feed, store, tokens, dedup, pusher, people, files } = node.ports;
    for (const closing of [presence.close(), bus.close(), feed.close(), tokens.close(), dedup.close(), pusher.close(), people.close(), files.close()]) {
      await bounded(closing.catch((error: unknown) => logger.warn({ err: error }, 'closing a driver failed')));
    }
    await bounded(store.close());
    await node.opened.close();
    await bounded(httpClosed);
    // Last: a scrape during the drain still sees the node's final numbers.
    await bounded(node.metricsServer?.close() ?? Promise.resolve());
    node.runtime.shutdown();
  }

  const server: ChatServer = {
    config, logger, metrics, events, addresses,
    get ports() {
      return started?.ports ?? notStarted();
    },
    get chat() {
      if (!started) return notStarted();
      return {
        accounts: started.accounts, rooms: started.rooms, messages: started.messages, people: started.people, files: started.files,
        openChat: started.openChat, purge: started.purge,
      };
    },
    async start() {
      if (started) return { ...addresses };
      if (options.handleSignals) installSignalHandlers(server, logger, config.shutdownTimeoutMs);
      started = await startNode();
      logger.info({
        httpPort: options.listenHttp === false ? null : addresses.httpPort, wsPort: addresses.wsPort, host: config.host,
        ...(addresses.metricsPort !== undefined ? { metricsPort: addresses.metricsPort } : {}),
        mode: isClusterMode(config) ? 'cluster' : 'embedded',
        ...(started.opened.sqlite ? { dataDir: started.opened.sqlite.dataDir } : {}),
      }, `flametalk listening: http://${config.host}:${addresses.httpPort} ws://${config.host}:${addresses.wsPort}/ws`);
      return { ...addresses };
    },
    stop() {
      if (!started) return Promise.resolve();
      stopping ??= stopNode(started).then(() => {
        logger.info('flametalk stopped');
        events.emit('stopped');
      });
      return stopping;
    },
    handleHttp(request, response) {
      if (!started) {
        response.statusCode = 503;
        response.end();
        return;
      }
      started.http.routing(request, response);
    },
  };
  return server;
}
