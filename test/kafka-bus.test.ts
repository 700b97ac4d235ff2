import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import kafkajs, { type Admin } from 'kafkajs';
import pino from 'pino';
import type { MessageEvent } from '../src/chat/model.ts';
import { KafkaBus, type KafkaBusOptions } from '../src/infra/kafka/bus.ts';
import { backendAddress, uniqueName } from './support/backends.ts';
import { OutageProxy } from './support/outage-proxy.ts';
import { sleep, waitFor } from './support/wait.ts';
import { assertDelivered, byRoom, key, numbered, publishContinuously, seq } from './support/bus-traffic.ts';

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
    brokers, topic, partitions: 8, replicationFactor: 1, clientId: `flametalk-test-${name}`,
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

const track = (proxy: OutageProxy): OutageProxy => (made.proxies.push(proxy), proxy);

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
    const seen: MessageEvent[] = [];
    await later.consume('later-group', async (events) => void seen.push(...events));
    await a!.publish(numbered('r', 1));
    await waitFor(() => seen.length === 1, 'the event through the existing topic', 20_000);
  });

  it('keeps per-room order for 2,000 publishes in flight at once', async (t) => {
    const topic = newTopic();
    const publisher = await open(topic, 'order-pub');
    const subscriber = await open(topic, 'order-sub');
    const seen: MessageEvent[] = [];
    await subscriber.consume('order-group', async (events) => void seen.push(...events));
    const rooms = ['room-a', 'room-b', 'room-c', 'room-d'];
    const t0 = performance.now();
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 500; i++) for (const room of rooms) sends.push(publisher.publish(numbered(room, i)));
    await Promise.all(sends);
    const acked = performance.now() - t0;
    await waitFor(() => seen.length >= 2_000, '2,000 events at the group', 30_000);
    t.diagnostic(`2,000 publishes acknowledged in ${acked.toFixed(0)} ms (${Math.round(2_000 / (acked / 1_000))}/s)`);
    await sleep(200);
    assert.equal(seen.length, 2_000, 'each event exactly once');
    for (const room of rooms) assert.deepEqual(byRoom(seen).get(room), Array.from({ length: 500 }, (_, i) => i), `${room} in order`);
  });

  it('starts a brand-new group at the end of the topic', async () => {
    const topic = newTopic();
    const bus = await open(topic, 'fresh');
    for (let i = 0; i < 5; i++) await bus.publish(numbered('r1', i));
    const handled: MessageEvent[] = [];
    await bus.consume('fresh-group', async (events) => void handled.push(...events));
    for (let i = 5; i < 10; i++) await bus.publish(numbered('r1', i));
    await waitFor(() => handled.length >= 5, 'the five events published after consume()', 20_000);
    await sleep(300);
    assert.deepEqual(handled.map(seq), [5, 6, 7, 8, 9]);
  });

  it('reports as lag the events a group has not handled yet', async () => {
    const topic = newTopic();
    const bus = await open(topic, 'lag');
    let failing = true;
    const handled: MessageEvent[] = [];
    await bus.consume('lagging', async (events) => {
      if (failing) throw new Error('store down');
      handled.push(...events);
    });
    for (let i = 0; i < 10; i++) await bus.publish(numbered(`r${i % 3}`, i));
    await waitFor(async () => (await bus.lag()) === 10, 'lag 10 while the handler fails', 20_000);
    failing = false;
    await waitFor(async () => (await bus.lag()) === 0, 'lag 0 once handled', 20_000);
    assert.equal(handled.length, 10);
  });

  it('moves records the group cannot handle to the dead-letter topic, and goes on with the partition', async (t) => {
    const topic = newTopic();
    made.topics.push(`${topic}.dead-letter`);
    const bus = await open(topic, 'poison');
    const handled: MessageEvent[] = [];
    await bus.consume('poison-group', async (events) => {
      // Event 3 can never be stored (think: a value the store refuses); the others can.
      if (events.some((e) => seq(e) === 3)) throw new Error('refused: event 3');
      handled.push(...events);
    });
    const raw = new kafkajs.Kafka({ clientId: 'flametalk-test-raw', brokers, logLevel: kafkajs.logLevel.NOTHING }).producer();
    await raw.connect();
    try {
      // Same partition as the room's events, so a stuck record would hold them up.
      const partition = (await import('../src/infra/partition.ts')).partitionOf('r1', 8);
      await raw.send({ topic, messages: [{ partition, value: 'not json at all' }, { partition, value: JSON.stringify({ kind: 'typing', roomId: 'r1' }) }] });
    } finally {
      await raw.disconnect();
    }
    for (let i = 0; i < 6; i++) await bus.publish(numbered('r1', i));
    await waitFor(() => handled.filter((e) => seq(e) === 5).length > 0, 'event 5 past the poison', 60_000, 100);
    assert.deepEqual([...new Set(handled.map(seq))].sort(), [0, 1, 2, 4, 5]);
    const letters: Array<{ value: string; reason: string }> = [];
    const reader = new kafkajs.Kafka({ clientId: 'flametalk-test-dlq', brokers, logLevel: kafkajs.logLevel.NOTHING }).consumer({ groupId: `${made.prefix}dlq-reader` });
    await reader.connect();
    await reader.subscribe({ topics: [`${topic}.dead-letter`], fromBeginning: true });
    await reader.run({ eachMessage: async ({ message }) => void letters.push({ value: message.value?.toString() ?? '', reason: message.headers?.reason?.toString() ?? '' }) });
    try {
      await waitFor(() => letters.length >= 3, 'three dead letters', 30_000);
    } finally {
      await reader.disconnect();
    }
    t.diagnostic(letters.map((l) => l.reason).join(' | '));
    assert.equal(letters[0]!.value, 'not json at all');
    assert.match(letters[1]!.reason, /not a message event/);
    assert.equal(seq(JSON.parse(letters[2]!.value) as MessageEvent), 3);
    assert.match(letters[2]!.reason, /refused: event 3/);
  });

  it('reports a room\'s backlog in a group that is behind', async () => {
    const topic = newTopic();
    const bus = await open(topic, 'backlog');
    for (let i = 0; i < 4; i++) await bus.publish(numbered('backlog-room', i));
    assert.equal(await bus.backlog('nobody-yet', 'backlog-room'), 4, 'a group that never ran has handled nothing');
  });

  it('moves the partitions of a member that vanished to the others within the session timeout', async (t) => {
    const topic = newTopic();
    const proxy = track(new OutageProxy(brokerTarget()));
    await proxy.up();
    const doomed = await open(topic, 'vanishing', { client: { socketFactory: proxy.socketFactory } });
    const survivor = await open(topic, 'surviving');
    const byDoomed: MessageEvent[] = [];
    const bySurvivor: MessageEvent[] = [];
    await doomed.consume('failover', async (events) => void byDoomed.push(...events));
    await survivor.consume('failover', async (events) => void bySurvivor.push(...events));
    const rooms = Array.from({ length: 16 }, (_, i) => `room-${i}`);
    for (const room of rooms) await survivor.publish(numbered(room, 0));
    await waitFor(() => byDoomed.length + bySurvivor.length >= 16, 'the first round', 20_000);
    assert.ok(byDoomed.length > 0, 'the doomed member holds partitions');
    // Like a killed process: no LeaveGroup, the broker only notices missing heartbeats.
    await proxy.down();
    const t0 = Date.now();
    for (const room of rooms) await survivor.publish(numbered(room, 1));
    await waitFor(() => bySurvivor.filter((e) => seq(e) === 1).length === 16, 'the survivor to handle every room', 30_000, 100);
    const took = Date.now() - t0;
    t.diagnostic(`partitions of the vanished member handled by the survivor after ${took} ms`);
    assert.ok(took < 16_000, `failover took ${took} ms`);
    await proxy.up();
  });

  it('rides out a broker outage: publishes wait and resume, nothing acknowledged is lost', async () => {
    const topic = newTopic();
    const proxy = track(new OutageProxy(brokerTarget()));
    await proxy.up();
    // Everything of this node goes through the proxy: producer, admin, both consumers.
    const bus = await open(topic, 'outage', { client: { socketFactory: proxy.socketFactory } });
    const seen: MessageEvent[] = [];
    const handled: MessageEvent[] = [];
    await bus.consume('outage-seen', async (events) => void seen.push(...events));
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
    const keys = (events: MessageEvent[]) => new Set(events.map(key));
    await waitFor(() => load.resolved.every((e) => keys(seen).has(key(e)) && keys(handled).has(key(e))), 'everything acknowledged delivered', 60_000, 200);
    assertDelivered(load.resolved, seen, 'first group');
    assertDelivered(load.resolved, handled, 'group');
  });

  it('leaves no timer or connection running once closed, even after an outage', async () => {
    // What keeps a process alive: a closed bus must not, or a host that stops flametalk never exits.
    const running = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout' || kind === 'TCPSocketWrap').length;
    // The count is process-wide: the earlier tests' buses (heartbeats, fetches) must not move it meanwhile.
    await Promise.allSettled(made.buses.splice(0).map((bus) => bus.close()));
    await sleep(1_000);
    const before = running();
    const topic = newTopic();
    const proxy = track(new OutageProxy(brokerTarget()));
    await proxy.up();
    const bus = await open(topic, 'closing', { client: { socketFactory: proxy.socketFactory } });
    const seen: MessageEvent[] = [];
    await bus.consume('closing-group', async (events) => void seen.push(...events));
    await bus.publish(numbered('r', 0));
    await proxy.down();
    await sleep(3_000);
    await proxy.up();
    await bus.publish(numbered('r', 1));
    await waitFor(() => seen.length === 2, 'both events in the group', 20_000);
    await bus.close();
    await proxy.down();
    await waitFor(() => running() <= before, 'the timers and connections of the bus to end', 5_000).catch(() => {
      assert.fail(`${running() - before} more timers or connections than before the bus opened: ${process.getActiveResourcesInfo().join(' ')}`);
    });
  });

  it('rejects a publish once the broker has been unreachable for the whole retry window', async () => {
    const topic = newTopic();
    const proxy = track(new OutageProxy(brokerTarget()));
    await proxy.up();
    const bus = await open(topic, 'unreachable', { client: { socketFactory: proxy.socketFactory } });
    await bus.publish(numbered('r', 0));
    await proxy.down();
    const t0 = Date.now();
    await assert.rejects(bus.publish(numbered('r', 1)));
    const waited = Date.now() - t0;
    assert.ok(waited >= 25_000 && waited < 40_000, `rejected after ${waited} ms, about 30 s expected`);
    await proxy.up();
    await bus.publish(numbered('r', 2));
  });
});
