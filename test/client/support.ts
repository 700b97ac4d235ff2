import net from 'node:net';
import WebSocket from 'ws';
import { createClient, type ClientOptions, type ConnectionState, type FlametalkClient, type MessageDto, type RoomHandle, type Session } from '../../src/client/index.ts';
import type { TestNode } from '../support/server.ts';

/**
 * A TCP relay between a client and the server: `cut()` drops every connection through it and
 * refuses new ones until `restore()`, the way a network path goes away; `target` can be pointed
 * at another node, the way a load balancer moves clients off a node that drains.
 */
export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private down = false;
  private readonly frozen = new Set<net.Socket>();

  private constructor(private readonly server: net.Server, public target: number) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const server = net.createServer();
    const proxy = new TcpProxy(server, targetPort);
    server.on('connection', (inbound) => proxy.relay(inbound, proxy.target));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  cut(): void {
    this.down = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.down = false;
  }

  /** The connections open now go silent without closing (a dead path neither side hears about); new ones work. */
  freeze(): void {
    for (const socket of this.sockets) this.frozen.add(socket);
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private relay(inbound: net.Socket, targetPort: number): void {
    if (this.down) return void inbound.destroy();
    const outbound = net.connect(targetPort, '127.0.0.1');
    for (const [from, to] of [[inbound, outbound], [outbound, inbound]] as const) {
      this.sockets.add(from);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.sockets.delete(from);
        this.frozen.delete(from);
        to.destroy();
      });
      from.on('data', (chunk) => {
        if (!this.frozen.has(from)) to.write(chunk);
      });
    }
  }
}

/** A client of `node` (in this process or a server process) using the `ws` package, with quick reconnects (tests need not wait 30 s). */
export function clientOf(node: Pick<TestNode, 'baseUrl' | 'wsUrl'>, deviceId: string, options: Partial<ClientOptions> = {}): FlametalkClient {
  return createClient({
    httpUrl: node.baseUrl, wsUrl: node.wsUrl, deviceId, WebSocket, reconnect: { baseMs: 50, maxMs: 400 }, ...options,
  });
}

let users = 0;

/** Signs up a fresh user on `client`. */
export function signUp(client: FlametalkClient, nickname: string): Promise<Session> {
  return client.signUp({ email: `${nickname.toLowerCase()}-${Date.now()}-${++users}@example.com`, password: 'correct horse battery', nickname });
}

/** Every message the handle delivers, in delivery order. */
export function received(handle: RoomHandle): MessageDto[] {
  const messages: MessageDto[] = [];
  handle.on('message', (message) => messages.push(message));
  return messages;
}

/** Every connection state the client goes through from now on. */
export function states(client: FlametalkClient): ConnectionState[] {
  const seen: ConnectionState[] = [];
  client.on('state', (state) => seen.push(state));
  return seen;
}

/** All of a room's history through the SDK's page iterator, oldest first. */
/** What people sent to the room, oldest first (without the system messages such as the room's INVITE). */
export async function wholeHistory(client: FlametalkClient, roomId: string): Promise<MessageDto[]> {
  const all: MessageDto[] = [];
  for await (const page of client.history(roomId, { pageSize: 3 })) all.push(...page.messages);
  return all.reverse().filter((m) => m.messageType === 'TALK' || m.messageType === 'FILE');
}
