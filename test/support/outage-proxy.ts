import net from 'node:net';
import type { ISocketFactory } from 'kafkajs';

/**
 * A TCP proxy in front of the broker for one bus's connections (every kafkajs socket of that bus is
 * opened to it), which can be cut and restored: a broker outage as that bus sees it, without
 * disturbing anyone else using the broker.
 */
export class OutageProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private port = 0;

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
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /** Cuts every connection and refuses new ones, like a broker that went away. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
