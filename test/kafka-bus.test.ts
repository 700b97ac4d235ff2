import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import kafkajs, { type Admin, type ISocketFactory } from 'kafkajs';
import pino from 'pino';
import type { RoomEvent } from '../src/chat/model.ts';
import { KafkaBus, type KafkaBusOptions } from '../src/infra/kafka/bus.ts';
import { backendAddress, uniqueName } from './support/backends.ts';
import { sleep, waitFor } from './support/wait.ts';
import { assertDelivered, byRoom, key, publishContinuously, seq, typing } from './support/bus-traffic.ts';

const brokers = backendAddress('KAFKA_BROKERS').split(',');
const logger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

function admin(): Admin {
  return new kafkajs.Kafka({ clientId: 'flametalk-test-admin', brokers, logLevel: kafkajs.logLevel.NOTHING }).admin();
}

/** Every bus, topic and group prefix a test made, dropped at the end. */
const made = { buses: [] as KafkaBus[], topics: [] as string[], proxies: [] as OutageProxy[], prefix: `${uniqueName('flametalk_test')}.` };

function newTopic(): string {
  const topic = uniqueName('flametalk_test_events');
  made.topics.push(topic);
  return topic;
}

async function open(topic: string, name: string, extra: Partial<KafkaBusOptions> = {}): Promise<KafkaBus> {
  const bus = await KafkaBus.connect({
    brokers, topic, partitions: 8, replicationFactor: 1, clientId: `flametalk-test-${name}`, nodeId: name,
    groupPrefix: made.prefix, logger, ...extra,
  });
  made.buses.push(bus);
  return bus;
}

after(async () => {
  await Promise.allSettled(made.buses.map((bus) => bus.close()));
  await Promise.allSettled(made.proxies.map((proxy) => proxy.down()));
  const client = admin();
  await client.connect();
  try {
    const { groups } = await client.listGroups();
    const ours = groups.map((g) => g.groupId).filter((id) => id.startsWith(made.prefix));
    if (ours.length > 0) await client.deleteGroups(ours).catch(() => undefined);
    const existing = new Set(await client.listTopics());
    const topics = made.topics.filter((t) => existing.has(t));
    if (topics.length > 0) await client.deleteTopics({ topics });
  } finally {
    await client.disconnect();
  }
});

/**
 * A TCP proxy in front of the broker for one bus's connections (every kafkajs socket of that bus is
 * opened to it), which can be cut and restored: a broker outage as that bus sees it, without
 * disturbing anyone else using the broker.
 */
class OutageProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private port = 0;

  constructor(private readonly target: { host: string; port: number }) {
    made.proxies.push(this);
  }

  readonly socketFactory: ISocketFactory = ({ onConnect }) => {
    const socket = net.connect({ host: '127.0.0.1', port: this.port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    return socket;
  };

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

function brokerTarget(): { host: string; port: number } {
  const [host, port] = brokers[0]!.split(':');
  return { host: host!, port: Number(port) };
}



describe('KafkaBus', { timeout: 180_000 }, () => {
  it('creates the topic with the configured partitions; concurrent and later connects use it as it is', async () => {
    const topic = newTopic();
    // Three nodes racing to create it: one wins, the others find it.
    const [a] = await Promise.all([1, 2, 3].map((i) => open(topic, `create-${i}`, { partitions: 3 })));
    const client = admin();
    await client.connect();
    try {
      const { topics } = await client.fetchTopicMetadata({ topics: [topic] });
      assert.equal(topics[0]?.partitions.length, 3);
    } finally {
      await client.disconnect();
    }
    const later = await open(topic, 'later', { partitions: 12 });
    const seen: RoomEvent[] = [];
    await later.subscribe((e) => seen.push(e));
    await a!.publish(typing('r', 1));
    await waitFor(() => seen.length === 1, 'the event through the existing topic', 20_000);
  });

  it('keeps per-room order for 2,000 publishes in flight at once', async (t) => {
    const topic = newTopic();
    const publisher = await open(topic, 'order-pub');
    const subscriber = await open(topic, 'order-sub');
    const seen: RoomEvent[] = [];
    await subscriber.subscribe((e) => seen.push(e));
    const rooms = ['room-a', 'room-b', 'room-c', 'room-d'];
    const t0 = performance.now();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 500; i++) for (const room of rooms) sends.push(publisher.publish(typing(room, i)));
    await Promise.all(sends);
    const acked = performance.now() - t0;
    await waitFor(() => seen.length >= 2_000, '2,000 events at the subscriber', 30_000);
    t.diagnostic(`2,000 publishes acknowledged in ${acked.toFixed(0)} ms (${Math.round(2_000 / (acked / 1_000))}/s)`);
    await sleep(200);
    assert.equal(seen.length, 2_000, 'each event exactly once');
    for (const room of rooms) assert.deepEqual(byRoom(seen).get(room), Array.from({ length: 500 }, (_, i) => i), `${room} in order`);
  });

  it('starts a brand-new group at the end of the topic', async () => {
    const topic = newTopic();
    const bus = await open(topic, 'fresh');
    for (let i = 0; i < 5; i++) await bus.publish(typing('r1', i));
    const handled: RoomEvent[] = [];
    await bus.consume('fresh-group', async (events) => void handled.push(...events));
    for (let i = 5; i < 10; i++) await bus.publish(typing('r1', i));
    await waitFor(() => handled.length >= 5, 'the five events published after consume()', 20_000);
    await sleep(300);
    assert.deepEqual(handled.map(seq), [5, 6, 7, 8, 9]);
  });

  it('reports as lag the events a group has not handled yet', async () => {
    const topic = newTopic();
    const bus = await open(topic, 'lag');
    let failing = true;
    const handled: RoomEvent[] = [];
    await bus.consume('lagging', async (events) => {
      if (failing) throw new Error('store down');
      handled.push(...events);
    });
    for (let i = 0; i < 10; i++) await bus.publish(typing(`r${i % 3}`, i));
    await waitFor(async () => (await bus.lag()) === 10, 'lag 10 while the handler fails', 20_000);
    failing = false;
    await waitFor(async () => (await bus.lag()) === 0, 'lag 0 once handled', 20_000);
    assert.equal(handled.length, 10);
  });

  it('deletes its own node group when the last subscription stops', async () => {
    const topic = newTopic();
    const bus = await open(topic, 'ephemeral');
    const first = await bus.subscribe(() => {});
    const second = await bus.subscribe(() => {});
    const client = admin();
    await client.connect();
    const nodeGroups = async () => (await client.listGroups()).groups.map((g) => g.groupId).filter((id) => id.startsWith(`${made.prefix}node.ephemeral.`));
    try {
      assert.equal((await nodeGroups()).length, 1, 'one group for every subscription of the node');
      await first.stop();
      assert.equal((await nodeGroups()).length, 1, 'kept while a subscription remains');
      await second.stop();
      assert.deepEqual(await nodeGroups(), []);
    } finally {
      await client.disconnect();
    }
  });

  it('moves the partitions of a member that vanished to the others within the session timeout', async (t) => {
    const topic = newTopic();
    const proxy = new OutageProxy(brokerTarget());
    await proxy.up();
    const doomed = await open(topic, 'vanishing', { client: { socketFactory: proxy.socketFactory } });
    const survivor = await open(topic, 'surviving');
    const byDoomed: RoomEvent[] = [];
    const bySurvivor: RoomEvent[] = [];
    await doomed.consume('failover', async (events) => void byDoomed.push(...events));
    await survivor.consume('failover', async (events) => void bySurvivor.push(...events));
    const rooms = Array.from({ length: 16 }, (_, i) => `room-${i}`);
    for (const room of rooms) await survivor.publish(typing(room, 0));
    await waitFor(() => byDoomed.length + bySurvivor.length >= 16, 'the first round', 20_000);
    assert.ok(byDoomed.length > 0, 'the doomed member holds partitions');
    // Like a killed process: no LeaveGroup, the broker only notices missing heartbeats.
    await proxy.down();
    const t0 = Date.now();
    for (const room of rooms) await survivor.publish(typing(room, 1));
    await waitFor(() => bySurvivor.filter((e) => seq(e) === 1).length === 16, 'the survivor to handle every room', 30_000, 100);
    const took = Date.now() - t0;
    t.diagnostic(`partitions of the vanished member handled by the survivor after ${took} ms`);
    assert.ok(took < 16_000, `failover took ${took} ms`);
    await proxy.up();
  });

  it('rides out a broker outage: publishes wait and resume, nothing acknowledged is lost', async () => {
    const topic = newTopic();
    const proxy = new OutageProxy(brokerTarget());
    await proxy.up();
    // Everything of this node goes through the proxy: producer, admin, both consumers.
    const bus = await open(topic, 'outage', { client: { socketFactory: proxy.socketFactory } });
    const seen: RoomEvent[] = [];
    const handled: RoomEvent[] = [];
    await bus.subscribe((e) => seen.push(e));
    await bus.consume('outage-group', async (events) => void handled.push(...events));
    const load = publishContinuously(bus, ['r1', 'r2', 'r3'], 20);
    await sleep(1_000);
    await proxy.down();
    await sleep(8_000);
    await proxy.up();
    const afterOutage = load.issued();
    await sleep(2_000);
    await load.stop();
    assert.deepEqual(load.rejected.map((r) => String(r.error)), [], 'an outage shorter than the retry window fails no publish');
    assert.ok(load.resolved.some((e) => seq(e) >= afterOutage), 'publishes resume by themselves');
    const keys = (events: RoomEvent[]) => new Set(events.map(key));
    await waitFor(() => load.resolved.every((e) => keys(seen).has(key(e)) && keys(handled).has(key(e))), 'everything acknowledged delivered', 60_000, 200);
    assertDelivered(load.resolved, seen, 'subscriber');
    assertDelivered(load.resolved, handled, 'group');
  });

  it('leaves no timer or connection running once closed, even after an outage', async () => {
    // What keeps a process alive: a closed bus must not, or a host that stops flametalk never exits.
    const running = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout' || kind === 'TCPSocketWrap').length;
    const before = running();
    const topic = newTopic();
    const proxy = new OutageProxy(brokerTarget());
    await proxy.up();
    const bus = await open(topic, 'closing', { client: { socketFactory: proxy.socketFactory } });
    const seen: RoomEvent[] = [];
    await bus.subscribe((e) => seen.push(e));
    await bus.consume('closing-group', async () => undefined);
    await bus.publish(typing('r', 0));
    await proxy.down();
    await sleep(3_000);
    await proxy.up();
    await bus.publish(typing('r', 1));
    await waitFor(() => seen.length === 2, 'both events at the subscriber', 20_000);
    await bus.close();
    await proxy.down();
    await waitFor(() => running() <= before, 'the timers and connections of the bus to end', 5_000).catch(() => {
      assert.fail(`${running() - before} more timers or connections than before the bus opened: ${process.getActiveResourcesInfo().join(' ')}`);
    });
  });

  it('rejects a publish once the broker has been unreachable for the whole retry window', async () => {
    const topic = newTopic();
    const proxy = new OutageProxy(brokerTarget());
    await proxy.up();
    const bus = await open(topic, 'unreachable', { client: { socketFactory: proxy.socketFactory } });
    await bus.publish(typing('r', 0));
    await proxy.down();
    const t0 = Date.now();
    await assert.rejects(bus.publish(typing('r', 1)));
    const waited = Date.now() - t0;
    assert.ok(waited >= 25_000 && waited < 40_000, `rejected after ${waited} ms, about 30 s expected`);
    await proxy.up();
    await bus.publish(typing('r', 2));
  });
});
