import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import type { ISocketFactory } from 'kafkajs';

/**
 * Every broker connection of one bus, through kafkajs's own socket factory (net or tls, keep-alive)
 * or the caller's. kafkajs can reopen a connection (a group heartbeat, a consumer's retry) after its
 * own disconnect and never close it, keeping the host process alive (measured); so closing the bus
 * closes whatever is still open, and any connection opened after that.
 */
export class BrokerConnections {
  private readonly open = new Set<Socket>();
  private closed = false;

  constructor(private readonly inner?: ISocketFactory) {}

  readonly factory: ISocketFactory = (args) => {
    const socket = this.inner
      ? this.inner(args)
      : args.ssl
        ? tls.connect({ host: args.host, port: args.port, ...(net.isIP(args.host) ? {} : { servername: args.host }), ...(typeof args.ssl === 'object' ? args.ssl : {}) }, args.onConnect)
        : net.connect({ host: args.host, port: args.port }, args.onConnect);
    if (!this.inner) socket.setKeepAlive(true, 60_000);
    if (this.closed) {
      // Once kafkajs has attached its listeners.
      process.nextTick(() => BrokerConnections.cut(socket));
    } else {
      this.open.add(socket);
      socket.once('close', () => this.open.delete(socket));
    }
    return socket;
  };

  closeAll(): void {
    this.closed = true;
    for (const socket of this.open) BrokerConnections.cut(socket);
    this.open.clear();
  }

  /**
   * With an error: kafkajs listens for 'error' and 'end' only, and after a bare close would keep
   * that connection's request-timeout interval running, and the process alive, for good (measured).
   */
  private static cut(socket: Socket): void {
    socket.destroy(new Error('the Kafka bus was closed'));
  }
}
