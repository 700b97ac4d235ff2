import type { Logger } from 'pino';
import type { AccountService } from '../chat/accounts.ts';
import type { MessageService } from '../chat/messages.ts';
import type { RoomService } from '../chat/rooms.ts';
import type { PeopleService } from '../people/people.ts';
import type { FileService } from '../files/files.ts';
import type { OpenChat } from '../people/open-chat.ts';
import type { Config } from '../config/schema.ts';
import type { ChatStore } from '../infra/ports/store.ts';
import type { PresenceStore } from '../infra/ports/presence.ts';
import type { Metrics } from '../metrics.ts';
import type { Authenticate } from './authentication.ts';
import type { LimitSettings } from './limits/abuse-limits.ts';
import type { WebAppOptions } from './routes/web-app.ts';

/** The settings the HTTP layer reads. */
export type HttpConfig = LimitSettings & Pick<Config, 'maxBodyBytes' | 'trustedProxies' | 'corsOrigins' | 'metricsPort' | 'userSearchesPerWindow' | 'userSearchWindowSeconds' | 'filesPublicUrl'>;

/** What the HTTP layer needs; it holds no state of its own. */
export interface HttpDeps {
  accounts: AccountService;
  rooms: RoomService;
  messages: MessageService;
  /** The membership routes (users, friends, profiles, open profiles); absent: not served. */
  people?: PeopleService;
  /** The file routes; absent: not served. */
  files?: FileService;
  /** The open room directory (GET /api/chatroom/open...); absent: not served. */
  openChat?: OpenChat;
  presence: PresenceStore;
  store: ChatStore;
  authenticate: Authenticate;
  metrics: Metrics;
  logger: Logger;
  config: HttpConfig;
  /** Backends and whether each answers; ready when all do. */
  readiness: () => Promise<Record<string, string>>;
  /** Serve the web chat app at /app/ (absent: the API only). */
  webApp?: WebAppOptions;
}
