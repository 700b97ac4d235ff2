import { randomUUID } from 'node:crypto';
import { createChatServer, type ChatServer, type ChatServerOptions } from '../../src/index.ts';
import type { Config } from '../../src/config/schema.ts';

export interface Envelope<T = any> {
  status: number;
  message: string;
  data: T;
}

export interface ApiResponse<T = any> {
  status: number;
  body: Envelope<T>;
  headers: Headers;
}

export interface TestUser {
  userId: string;
  nickname: string;
  email: string;
  password: string;
  deviceId: string;
  accessToken: string;
  refreshToken: string;
}

/** A small client for the HTTP API of one node (in-process or a separate process) at `baseUrl`. */
export class ApiClient {
  constructor(private readonly base: string | (() => string)) {}

  get baseUrl(): string {
    return typeof this.base === 'string' ? this.base : this.base();
  }

  async request<T = any>(method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let payload: string | undefined = options.raw;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(options.body);
    } else if (payload !== undefined) {
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, body: payload });
    const text = await response.text();
    let body: Envelope<T>;
    try {
      body = JSON.parse(text) as Envelope<T>;
    } catch {
      body = { status: response.status, message: text, data: undefined as T };
    }
    return { status: response.status, body, headers: response.headers };
  }

  async signUp(nickname = `user-${randomUUID().slice(0, 8)}`, deviceId = 'phone'): Promise<TestUser> {
    const email = `${randomUUID()}@example.com`;
    const password = 'correct horse battery';
    const response = await this.request('POST', '/api/auth/signup', { body: { email, password, nickname, deviceId } });
    if (response.status !== 201) throw new Error(`sign-up failed: ${response.status} ${response.body.message}`);
    return { ...response.body.data, nickname, email, password, deviceId };
  }

  async signIn(user: Pick<TestUser, 'email' | 'password'>, deviceId: string): Promise<TestUser> {
    const response = await this.request('POST', '/api/auth/signin', { body: { email: user.email, password: user.password, deviceId } });
    if (response.status !== 200) throw new Error(`sign-in failed: ${response.status} ${response.body.message}`);
    return { ...(user as TestUser), ...response.body.data, deviceId };
  }

  async createRoom(owner: TestUser, others: TestUser[], extra: { title?: string; isOpen?: boolean } = {}): Promise<string> {
    const response = await this.request('POST', '/api/chatroom', { token: owner.accessToken, body: { users: others.map((u) => u.userId), ...extra } });
    if (response.status !== 201) throw new Error(`room creation failed: ${response.status} ${response.body.message}`);
    return response.body.data.roomId;
  }
}

/** A running flametalk node on free ports, with a small HTTP client for its API. */
export class TestNode extends ApiClient {
  constructor(readonly server: ChatServer) {
    super(() => `http://127.0.0.1:${server.addresses.httpPort}`);
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.server.addresses.wsPort}/ws`;
  }

  stop(): Promise<void> {
    return this.server.stop();
  }
}

/** Test defaults: free ports, quiet logs, a fixed key so tokens can be forged in tests. */
export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256!';

export async function startNode(options: ChatServerOptions & { config?: Partial<Config> } = {}): Promise<TestNode> {
  const server = createChatServer({
    ...options,
    config: { httpPort: 0, wsPort: 0, logLevel: 'silent', jwtSecret: TEST_JWT_SECRET, pushCoalesceMs: 0, embeddedStorage: 'memory', ...options.config },
  });
  await server.start();
  return new TestNode(server);
}
