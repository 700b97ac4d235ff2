import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import kafkajs, { type ISocketFactory } from 'kafkajs';
import pino from 'pino';
import { startBackend, stopBackend } from '../../scripts/backends/index.ts';
import type { MessageEvent } from '../../src/chat/model.ts';
import { KafkaBus } from '../../src/infra/kafka/bus.ts';
import { backendAddress, uniqueName } from '../support/backends.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { assertDelivered, key, publishContinuously, seq } from '../support/bus-traffic.ts';

// The KafkaBus driver through a real broker restart (the broker process stopped and started again,
// as an operator or a crash would). It restarts the shared broker, so it lives with the fault tests,
// which `npm test` runs one at a time after everything else.

const brokers = backendAddress('KAFKA_BROKERS').split(',');
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

const made = { buses: [] as KafkaBus[], topic: uniqueName('flametalk_test_events'), prefix: `${uniqueName('flametalk_test')}.` };

/**
 * Every broker connection the buses open, with what opened it. After a broker restart kafkajs has
 * been seen to leave a connection open past its own disconnect (which kept this process alive);
 * a closed bus must have closed them all.
 */
const connections = new Map<net.Socket, string>();
const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
  const socket = net.connect({ host, port }, onConnect);
  socket.setKeepAlive(true, 60_000);
  // Which kafkajs client opened it, should it be left behind.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 60;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  const opener = stack.split('\n').filter((line) => /kafkajs\/src\/(?!network)|src\/infra\/kafka/.test(line)).map((line) => line.trim()).slice(0, 5).join(' <- ');
  connections.set(socket, opener);
  socket.once('close', () => connections.delete(socket));
  return socket;
};

async function open(name: string): Promise<KafkaBus> {
  const bus = await KafkaBus.connect({
    brokers, topic: made.topic, partitions: 8, replicationFactor: 1, clientId: `flametalk-test-${name}`,
    groupPrefix: made.prefix, logger, client: { socketFactory },
  });
  made.buses.push(bus);
  return bus;
}

after(async () => {
  // Whatever happened, the broker is back for whoever runs next.
  await startBackend('kafka', { log: () => undefined });
  await Promise.allSettled(made.buses.map((bus) => bus.close()));
  const leftOpen = await waitFor(() => connections.size === 0, 'broker connections to close', 3_000).then(() => [], () => [...connections.values()]);
  for (const socket of connections.keys()) socket.destroy(new Error('left open after the bus closed'));
  const admin = new kafkajs.Kafka({ clientId: 'flametalk-test-admin', brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.listGroups();
    const ours = groups.map((g) => g.groupId).filter((id) => id.startsWith(made.prefix));
    if (ours.length > 0) await admin.deleteGroups(ours).catch(() => undefined);
    if ((await admin.listTopics()).includes(made.topic)) await admin.deleteTopics({ topics: [made.topic] });
  } finally {
    await admin.disconnect();
  }
  assert.deepEqual(leftOpen, [], 'broker connections still open 3 s after every bus closed, by opener');
}, { timeout: 180_000 });

describe('KafkaBus through a broker restart', { timeout: 240_000 }, () => {
  it('survives a broker restart mid-traffic: publishes resume by themselves, nothing acknowledged is lost', async (t) => {
    const publisher = await open('restart-pub');
    const reader = await open('restart-reader');
    const seen: MessageEvent[] = [];
    const handled: MessageEvent[] = [];
    await reader.consume('restart-seen', async (events) => void seen.push(...events));
    await reader.consume('restart-group', async (events) => void handled.push(...events));
    const load = publishContinuously(publisher, ['r1', 'r2', 'r3', 'r4'], 10);
    await waitFor(() => load.resolved.length >= 50, 'traffic flowing before the restart', 20_000);
    const t0 = Date.now();
    await stopBackend('kafka', { log: (line) => t.diagnostic(line) });
    await startBackend('kafka', { log: (line) => t.diagnostic(line) });
    t.diagnostic(`broker away and back in ${Date.now() - t0} ms`);
    const afterRestart = load.issued();
    await waitFor(() => load.resolved.some((e) => seq(e) >= afterRestart), 'a publish issued after the restart to be acknowledged', 60_000, 100);
    await sleep(1_000);
    await load.stop();
    t.diagnostic(`${load.resolved.length} publishes acknowledged, ${load.rejected.length} rejected`);
    const keys = (events: MessageEvent[]) => new Set(events.map(key));
    const missing = () => ({
      subscriber: load.resolved.filter((e) => !keys(seen).has(key(e))).map(key),
      group: load.resolved.filter((e) => !keys(handled).has(key(e))).map(key),
    });
    await waitFor(() => missing().subscriber.length + missing().group.length === 0, 'everything acknowledged delivered', 90_000, 200)
      .catch((error: Error) => {
        const { subscriber, group } = missing();
        throw new Error(`${error.message}: ${subscriber.length} missing at the subscriber (${subscriber.slice(0, 10).join(' ')}…), ${group.length} in the group (${group.slice(0, 10).join(' ')}…)`);
      });
    assertDelivered(load.resolved, seen, 'subscriber');
    assertDelivered(load.resolved, handled, 'group');
  });
});
