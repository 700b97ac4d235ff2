import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { ClientOptions, MessageDto } from '../../src/client/index.ts';
import { MemoryDedup } from '../../src/infra/memory/dedup.ts';
import { MemoryStore } from '../../src/infra/memory/store.ts';
import { MemoryTokenStore } from '../../src/infra/memory/tokens.ts';
import { startNode } from '../support/server.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { TcpProxy, clientOf, received, signUp, states, wholeHistory } from './support.ts';

const contents = (messages: MessageDto[]): string[] => messages.map((m) => m.contents);

function assertOncePerId(messages: MessageDto[], what: string): void {
  const ids = messages.map((m) => m.messageId);
  assert.equal(new Set(ids).size, ids.length, `${what}: no message twice`);
}

describe('client SDK: recovery', () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  /** Ann connects directly; Bob's socket goes through a proxy the test can cut. */
  async function setUp(config: Record<string, unknown> = {}, bobOptions: Partial<ClientOptions> = {}) {
    const node = await startNode({ config: { rateLimitPerSecond: 1000, rateLimitBurst: 1000, ...config } });
    cleanups.push(() => node.stop());
    const proxy = await TcpProxy.start(node.server.addresses.wsPort);
    cleanups.push(() => proxy.close());
    const annClient = clientOf(node, 'ann-phone');
    const bobClient = clientOf(node, 'bob-phone', { wsUrl: `ws://127.0.0.1:${proxy.port}/ws`, ...bobOptions });
    cleanups.push(() => annClient.close(), () => bobClient.close());
    const [ann, bob] = await Promise.all([signUp(annClient, 'Ann'), signUp(bobClient, 'Bob')]);
    const { roomId } = await annClient.createRoom({ users: [bob.userId] });
    const annRoom = await annClient.join(roomId);
    const bobRoom = await bobClient.join(roomId);
    return { node, proxy, annClient, bobClient, ann, bob, roomId, annRoom, bobRoom, toAnn: received(annRoom), toBob: received(bobRoom) };
  }

  it('after a dropped connection, delivers exactly the missed messages in order and sends what was queued once', async () => {
    const { proxy, annClient, bobClient, roomId, annRoom, bobRoom, toAnn, toBob } = await setUp();
    const bobStates = states(bobClient);
    await annRoom.send('before the drop');
    await waitFor(() => toBob.length === 1, 'Bob has the first message');

    proxy.cut();
    await waitFor(() => bobClient.state === 'reconnecting', 'Bob notices the drop');
    const missed: string[] = [];
    for (let i = 0; i < 5; i++) missed.push((await annRoom.send(`missed ${i}`)).messageId);
    // Bob writes while offline: queued, not lost.
    const queued = [bobRoom.send('written offline 1'), bobRoom.send('written offline 2')];
    assert.equal(bobClient.pendingSends, 2);
    await sleep(300); // a few reconnect attempts fail meanwhile

    proxy.restore();
    const acks = await Promise.all(queued);
    assert.equal(bobClient.pendingSends, 0);
    // Each side has every message of the room once, its own included.
    const everything = ['before the drop', 'missed 0', 'missed 1', 'missed 2', 'missed 3', 'missed 4', 'written offline 1', 'written offline 2'];
    await waitFor(() => toBob.length === 8 && toAnn.length === 8, 'both sides caught up');
    assert.deepEqual(contents(toBob), everything);
    assert.deepEqual(toBob.slice(1, 6).map((m) => m.messageId), missed);
    assert.deepEqual(toBob.slice(6).map((m) => m.messageId), acks.map((a) => a.messageId));
    assert.deepEqual(contents(toAnn), everything);
    assert.deepEqual(toAnn.map((m) => m.messageId), toBob.map((m) => m.messageId));
    assert.deepEqual(bobStates.slice(0, 1), ['reconnecting']);
    assert.equal(bobStates.at(-1), 'connected');
    assert.equal(bobClient.state, 'connected');

    await sleep(300); // anything late would be a duplicate
    assert.equal(toBob.length, 8);
    assert.equal(toAnn.length, 8);
    await waitFor(async () => (await wholeHistory(annClient, roomId)).length === 8, 'history holds all eight');
    const history = await wholeHistory(annClient, roomId);
    assertOncePerId(history, 'history');
    assert.deepEqual(contents(history).filter((c) => c.startsWith('written offline')), ['written offline 1', 'written offline 2'], 'each queued send stored once');
  });

  it('fills the gap from history when more was missed than one recovery page', async () => {
    const { proxy, annClient, bobClient, roomId, annRoom, toBob } = await setUp({ recoveryLimit: 3 });
    await annRoom.send('seen');
    await waitFor(() => toBob.length === 1, 'Bob has the first message');
    proxy.cut();
    await waitFor(() => bobClient.state === 'reconnecting', 'Bob notices the drop');
    for (let i = 0; i < 10; i++) await annRoom.send(`gap ${i}`);
    // The gap is read from history, which the persister fills just after the acks.
    await waitFor(async () => (await wholeHistory(annClient, roomId)).length === 11, 'history holds the gap');
    proxy.restore();
    await waitFor(() => toBob.length === 11, 'Bob caught up');
    assert.deepEqual(contents(toBob), ['seen', ...Array.from({ length: 10 }, (_, i) => `gap ${i}`)]);
    assertOncePerId(toBob, 'Bob');
  });

  it('recovers a room that had no message yet when the connection dropped', async () => {
    const { proxy, bobClient, annRoom, toBob } = await setUp();
    await sleep(200); // the join's resume point is looked up in the background
    proxy.cut();
    await waitFor(() => bobClient.state === 'reconnecting', 'Bob notices the drop');
    await annRoom.send('first ever');
    proxy.restore();
    await waitFor(() => toBob.length === 1, 'Bob gets the first message');
    assert.deepEqual(contents(toBob), ['first ever']);
  });

  it('notices a connection that went silent (no close, no data) by its pings, and recovers', async () => {
    // Bob pings every 200 ms and gives up on a socket whose pong takes more than 300 ms.
    const { proxy, bobClient, annRoom, toBob } = await setUp({}, { heartbeatMs: 200, requestTimeoutMs: 300 });
    await annRoom.send('before');
    await waitFor(() => toBob.length === 1, 'Bob has the first message');
    proxy.freeze();
    await annRoom.send('into the void');
    await waitFor(() => toBob.length === 2, 'Bob reconnects and gets it', 5_000);
    assert.deepEqual(contents(toBob), ['before', 'into the void']);
    assert.equal(bobClient.state, 'connected');
  });

  it('reconnects when the server drains (4200) and a new node takes over; sends made meanwhile go out once', async () => {
    // What the nodes share (a cluster's backends; here the in-memory drivers handed to both).
    const drivers = { store: new MemoryStore(), tokens: new MemoryTokenStore(), dedup: new MemoryDedup() };
    const first = await startNode({ drivers });
    cleanups.push(() => first.stop());
    // The load balancer in front: both clients reach the API and the sockets through it.
    const api = await TcpProxy.start(first.server.addresses.httpPort);
    const sockets = await TcpProxy.start(first.server.addresses.wsPort);
    cleanups.push(() => api.close(), () => sockets.close());
    const through = { httpUrl: `http://127.0.0.1:${api.port}`, wsUrl: `ws://127.0.0.1:${sockets.port}/ws` };
    const annClient = clientOf(first, 'ann-phone', through);
    const bobClient = clientOf(first, 'bob-phone', through);
    cleanups.push(() => annClient.close(), () => bobClient.close());
    const [, bob] = await Promise.all([signUp(annClient, 'Ann'), signUp(bobClient, 'Bob')]);
    const { roomId } = await annClient.createRoom({ users: [bob.userId] });
    const annRoom = await annClient.join(roomId);
    const toBob = received(await bobClient.join(roomId));
    await annRoom.send('before the drain');
    await waitFor(() => toBob.length === 1, 'Bob has the first message');
    const annStates = states(annClient);

    await first.stop();
    await waitFor(() => annClient.state === 'reconnecting' && bobClient.state === 'reconnecting', 'both clients hear the drain');
    const queued = [annRoom.send('during the switch 1'), annRoom.send('during the switch 2')];
    await sleep(200);
    const second = await startNode({ drivers });
    cleanups.push(() => second.stop());
    api.target = second.server.addresses.httpPort;
    sockets.target = second.server.addresses.wsPort;

    const acks = await Promise.all(queued);
    await waitFor(() => toBob.length === 3, 'Bob gets what Ann sent during the switch');
    assert.deepEqual(contents(toBob), ['before the drain', 'during the switch 1', 'during the switch 2']);
    assert.deepEqual(toBob.slice(1).map((m) => m.messageId), acks.map((a) => a.messageId));
    assert.deepEqual([annStates[0], annStates.at(-1)], ['reconnecting', 'connected']);
    await sleep(300);
    assert.equal(toBob.length, 3);
    await waitFor(async () => (await wholeHistory(bobClient, roomId)).length === 3, 'history holds each message once');
  });
});
