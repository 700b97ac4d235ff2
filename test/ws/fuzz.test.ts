import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

/** Small seeded PRNG (mulberry32), so a failing run can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ODD_VALUES: unknown[] = [
  null, true, false, 0, -1, 1e308, -0, Number.MAX_SAFE_INTEGER, '', ' ', '0', '-1', '9'.repeat(40), 'NaN', '🔥'.repeat(3000),
  '\u0000', '\ud800', '<script>', '../../etc/passwd', [], [1, 2], {}, { nested: { deep: [1, { x: 2 }] } }, 'x'.repeat(70_000),
];
const KEYS = ['type', 'ref', 'roomId', 'since', 'clientMsgId', 'messageType', 'contents', 'fileUrl', 'messageId', '__proto__', 'constructor', 'prototype'];
const TYPES = ['join', 'leave', 'send', 'typing', 'read', 'ping', 'JOIN', 'message', 'ack', 'error', ''];

function frames(random: () => number, roomIds: string[]): () => string | Buffer {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const valid = (): Record<string, unknown> => {
    const roomId = pick(roomIds);
    switch (pick(['join', 'leave', 'send', 'typing', 'read', 'ping'] as const)) {
      case 'join': return { type: 'join', ref: 'j', roomId, ...(random() < 0.3 ? { since: String(Math.floor(random() * 1e15)) } : {}) };
      case 'leave': return { type: 'leave', ref: 'l', roomId };
      case 'send': return { type: 'send', ref: 's', roomId, clientMsgId: `c${random()}`, messageType: 'TALK', contents: 'fuzz' };
      case 'typing': return { type: 'typing', roomId };
      case 'read': return { type: 'read', roomId, messageId: String(Math.floor(random() * 1e18)) };
      case 'ping': return { type: 'ping', ref: 'p' };
    }
  };
  return () => {
    const roll = random();
    if (roll < 0.05) return Buffer.from(Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256)));
    const frame = valid();
    if (roll < 0.15) return JSON.stringify(frame);
    if (roll < 0.5) {
      for (let i = 0; i < 1 + Math.floor(random() * 3); i++) {
        const mutation = random();
        if (mutation < 0.3) delete frame[pick(Object.keys(frame))];
        else if (mutation < 0.7) frame[pick(KEYS)] = pick(ODD_VALUES);
        else frame.type = pick(TYPES);
      }
      return JSON.stringify(frame);
    }
    const text = JSON.stringify(frame);
    if (roll < 0.75) {
      // Byte-level damage: truncate, flip or insert characters.
      const at = Math.floor(random() * text.length);
      const choice = random();
      if (choice < 0.33) return text.slice(0, at);
      if (choice < 0.66) return text.slice(0, at) + String.fromCharCode(Math.floor(random() * 0xffff)) + text.slice(at + 1);
      return text.slice(0, at) + pick(['{', '}', '"', '\\', ',', ':', '[']) + text.slice(at);
    }
    return pick([
      '', 'null', '[]', '"ping"', '{"type":"ping"}'.repeat(3), '{"type":"send"'.padEnd(2000, ' '), `{"type":"join","roomId":${'['.repeat(5000)}`,
      JSON.stringify({ type: 'join', roomId: pick(roomIds), ref: 'r'.repeat(64) }), '{"__proto__":{"type":"ping"}}',
    ]);
  };
}

describe('fuzzing the native protocol over real sockets', () => {
  let node: TestNode;
  let ann: TestUser;
  let bob: TestUser;
  let roomId: string;
  const problems: unknown[] = [];
  const onProblem = (error: unknown) => problems.push(error);

  before(async () => {
    process.on('unhandledRejection', onProblem);
    process.on('uncaughtException', onProblem);
    node = await startNode({ config: { rateLimitPerSecond: 5000, rateLimitBurst: 5000 } });
    [ann, bob] = await Promise.all([node.signUp('Ann'), node.signUp('Bob')]);
    roomId = await node.createRoom(ann, [bob]);
  });
  after(async () => {
    await node.stop();
    process.off('unhandledRejection', onProblem);
    process.off('uncaughtException', onProblem);
  });

  it('survives 10,000 random and mutated frames and keeps serving other clients', { timeout: 120_000 }, async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
    console.log(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`);
    const next = frames(rng(seed), [roomId, '1', '99999999999999999', 'abc']);

    const witnessA = await TestSocket.connect(node.wsUrl, ann.accessToken);
    const witnessB = await TestSocket.connect(node.wsUrl, bob.accessToken);
    await witnessA.join(roomId);
    await witnessB.join(roomId);

    const FRAMES = 10_000;
    const CONNECTIONS = 20;
    let sent = 0;
    const closes: number[] = [];
    const witnessed: string[] = [];
    await Promise.all(Array.from({ length: CONNECTIONS }, async (_, c) => {
      let socket = await TestSocket.connect(node.wsUrl, c % 2 ? ann.accessToken : bob.accessToken);
      while (sent < FRAMES) {
        if (socket.ws.readyState !== socket.ws.OPEN) {
          closes.push((await socket.closed).code);
          socket = await TestSocket.connect(node.wsUrl, c % 2 ? ann.accessToken : bob.accessToken);
        }
        const frame = next();
        const count = ++sent;
        socket.ws.send(frame, { binary: Buffer.isBuffer(frame) });
        if (count % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
        if (count % 500 === 0) {
          // The witnesses keep talking throughout.
          const ack = await witnessA.sendText(roomId, `witness ${count}`);
          assert.equal(ack.type, 'ack');
          witnessed.push(ack.messageId);
          await witnessB.next((f) => f.type === 'message' && f.message.messageId === ack.messageId, 10_000, 'witness message', true);
        }
      }
      await socket.close();
    }));

    assert.equal(sent >= FRAMES, true);
    assert.ok(closes.every((code) => [1006, 1009].includes(code)), `only oversized frames close a socket here, got ${[...new Set(closes)]}`);
    assert.equal((await witnessA.call({ type: 'ping' })).type, 'pong');
    assert.equal((await node.request('GET', '/healthz')).status, 200);
    assert.equal(witnessed.length, FRAMES / 500);
    await waitFor(async () => {
      const stored = new Set((await node.server.ports.store.history(roomId, { limit: 100_000 })).map((m) => m.messageId));
      return witnessed.every((id) => stored.has(id));
    }, 'every witness message to be stored');
    await waitFor(() => problems.length === 0 || 'failed', 'settle');
    assert.deepEqual(problems, [], 'no unhandled rejection or uncaught exception');
    await witnessA.close();
    await witnessB.close();
  });
});
