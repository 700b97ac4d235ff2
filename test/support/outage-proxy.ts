import net from 'node:net';
import type { ISocketFactory } from 'kafkajs';

/** What a paused proxy holds back: every byte, or only what the backend sends back. */
export type Held = 'both-ways' | 'replies';

/**
 * A TCP proxy in front of the broker for one bus's connections (every kafkajs socket of that bus is
 * opened to it), which can be cut and restored: a broker outage as that bus sees it, without
 * disturbing anyone else using the broker. It can also be paused: connections stay open and bytes
 * are held, so requests hang instead of failing (with `replies`, requests still reach the backend,
 * which acts on them, while the client never hears back: the ambiguous failure).
 */
export class OutageProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private port = 0;
  private held: Held | undefined;
  /** Bytes held while paused, in arrival order, with the socket they were going to. */
  private readonly backlog: Array<{ to: net.Socket; chunk: Buffer }> = [];

  constructor(private readonly target: { host: string; port: number }) {}

  readonly socketFactory: ISocketFactory = ({ onConnect }) => {
    const socket = net.connect({ host: '127.0.0.1', port: this.port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    return socket;
  };

  /** The port the proxy listens on (after the first up()). */
  get listenPort(): number {
    return this.port;
  }

  async up(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      const cut = (): void => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', cut).on('close', cut);
      }
      this.forward(client, upstream, false);
      this.forward(upstream, client, true);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Holds bytes from now on (see Held), keeping every connection open. */
  pause(held: Held = 'both-ways'): void {
    this.held = held;
  }

  /** Delivers what was held, in order, and lets bytes flow again. */
  resume(): void {
    this.held = undefined;
    for (const { to, chunk } of this.backlog.splice(0)) if (!to.destroyed) to.write(chunk);
  }

  /** Cuts every connection and refuses new ones, like a broker that went away. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.held = undefined;
    this.backlog.length = 0;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private forward(from: net.Socket, to: net.Socket, isReply: boolean): void {
    from.on('data', (chunk: Buffer) => {
      const holding = this.held === 'both-ways' || (this.held === 'replies' && isReply);
      if (holding) this.backlog.push({ to, chunk });
      else to.write(chunk);
    });
  }
}
