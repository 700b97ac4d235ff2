import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

/**
 * Preload of a server process (`--import`, see ProcessNode.start's `imports`): its TCP connections
 * to one address go to another instead, e.g. a node's Kafka connections to an OutageProxy of the
 * test. Kafka hands clients the broker's advertised address, so pointing KAFKA_BROKERS at the proxy
 * would only detour the first connection; this detours all of them, and nothing else.
 *
 * CONNECT_DETOUR=host:port>host:port (from > to).
 */
const [from, to] = (process.env.CONNECT_DETOUR ?? '').split('>');
if (!from || !to) throw new Error('CONNECT_DETOUR must be host:port>host:port');
const address = (value: string): { host: string; port: number } => {
  const at = value.lastIndexOf(':');
  return { host: value.slice(0, at), port: Number(value.slice(at + 1)) };
};
const source = address(from);
const target = address(to);

const connect = net.connect;
const detoured = ((...args: unknown[]) => {
  const options = args[0];
  if (typeof options === 'object' && options !== null && 'port' in options) {
    const { host, port } = options as { host?: string; port: number | string };
    if ((host ?? 'localhost') === source.host && Number(port) === source.port) args[0] = { ...options, ...target };
  }
  return (connect as (...a: unknown[]) => net.Socket)(...args);
}) as typeof net.connect;
Object.assign(net, { connect: detoured, createConnection: detoured });
// `import { connect } from 'node:net'` elsewhere sees the detour too.
syncBuiltinESMExports();
