import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { StompParser, StompSyntaxError } from '../../src/ws/stomp/frame.ts';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { connectFrame, connectStomp, RawStomp, stompUrl } from '../support/stomp-client.ts';
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

const COMMANDS = ['CONNECT', 'STOMP', 'SEND', 'SUBSCRIBE', 'UNSUBSCRIBE', 'ACK', 'NACK', 'BEGIN', 'COMMIT', 'ABORT', 'DISCONNECT', 'MESSAGE', 'send', '', 'CONNECTED', 'X'.repeat(300)];
const HEADERS = ['destination', 'id', 'receipt', 'content-length', 'content-type', 'heart-beat', 'accept-version', 'Authorization', 'ACCESS-TOKEN', 'ack', 'transaction', ''];
const VALUES = ['', ':', '\\', '\\x', '\\c\\n\\r\\\\', '-1', '999999999', '1e3', '0', 'abc', '/sub/chat/room/1', '/sub/chat/room/', '/pub/chat/message', '/topic/x', '10,x', '🔥'.repeat(50), 'Bearer nope'];
const BODIES = ['', '{}', '[]', 'null', '{"type":"TALK"}', '{"type":"TALK","room_id":"1","contents":""}', '{"type":"FILE","room_id":"1"}', '{"type":"LEAVE","room_id":"1","contents":"x"}', '{"room_id":1e400}', 'x'.repeat(5_000), '\u0000\u0000', '{"type":"TALK","room_id":"__proto__"}'];

/** Malformed (mostly) STOMP frames: valid frames damaged at the command, header, length, escape or byte level. */
function generator(random: () => number, roomId: string): () => string | Buffer {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const valid = (): [string, Array<[string, string]>, string] => pick([
    ['SUBSCRIBE', [['id', 'sub-0'], ['destination', `/sub/chat/room/${roomId}`]], ''],
    ['SEND', [['destination', '/pub/chat/message']], JSON.stringify({ type: 'TALK', room_id: roomId, contents: 'fuzz' })],
    ['UNSUBSCRIBE', [['id', 'sub-0']], ''],
    ['DISCONNECT', [['receipt', 'r']], ''],
    ['CONNECT', [['accept-version', '1.2'], ['heart-beat', '0,0']], ''],
  ] as Array<[string, Array<[string, string]>, string]>);
  return () => {
    const roll = random();
    if (roll < 0.08) return Buffer.from(Array.from({ length: 1 + Math.floor(random() * 80) }, () => Math.floor(random() * 256)));
    let [command, headers, body] = valid();
    const mutations = 1 + Math.floor(random() * 3);
    let lengthDamage: number | undefined;
    let noNul = false;
    for (let i = 0; i < mutations; i++) {
      const m = random();
      if (m < 0.15) command = pick(COMMANDS);
      else if (m < 0.35) headers.push([pick(HEADERS), pick(VALUES)]);
      else if (m < 0.45) headers = headers.filter(() => random() < 0.5);
      else if (m < 0.55) headers.push([pick(VALUES), pick(VALUES)]);
      else if (m < 0.65) body = pick(BODIES);
      else if (m < 0.75) lengthDamage = Math.floor(random() * 20) - 10;
      else if (m < 0.8) noNul = true;
      else if (m < 0.9) headers.push(['x'.repeat(Math.floor(random() * 200)), 'line\nbreak']);
      else headers = Array.from({ length: 70 }, (_, k) => [`h${k}`, 'v'] as [string, string]);
    }
    let text = `${command}\n${headers.map(([k, v]) => `${k}:${v}`).join('\n')}${headers.length ? '\n' : ''}`;
    if (lengthDamage !== undefined) text += `content-length:${Math.max(0, Buffer.byteLength(body) + lengthDamage)}\n`;
    text += `\n${body}${noNul ? '' : '\0'}`;
    if (random() < 0.2) {
      const at = Math.floor(random() * text.length);
      text = text.slice(0, at) + String.fromCharCode(Math.floor(random() * 0x80)) + text.slice(at + 1);
    }
    return text;
  };
}

describe('STOMP fuzzing', () => {
  let node: TestNode;
  let ann: TestUser;
  let bob: TestUser;
  let roomId: string;

  before(async () => {
    node = await startNode();
    [ann, bob] = await Promise.all([node.signUp('Ann'), node.signUp('Bob')]);
    roomId = await node.createRoom(ann, [bob]);
  });
  after(() => node.stop());

  it('the parser only ever rejects with a syntax error, whatever the bytes and however they are split', () => {
    const random = rng(7);
    const next = generator(random, roomId);
    for (let i = 0; i < 20_000; i++) {
      const parser = new StompParser(65_536);
      const input = Buffer.from(next());
      try {
        for (let at = 0; at < input.length;) {
          const piece = 1 + Math.floor(random() * input.length);
          parser.push(input.subarray(at, at + piece));
          at += piece;
        }
      } catch (error) {
        assert.ok(error instanceof StompSyntaxError, `unexpected ${String(error)} for ${JSON.stringify(input.toString())}`);
      }
    }
  });

  it('survives 5,000 malformed frames over real sockets and still serves others', async () => {
    const url = stompUrl(node.server.addresses.wsPort);
    const next = generator(rng(42), roomId);
    let sent = 0;
    let connectionsUsed = 0;
    const TOTAL = 5_000;
    const worker = async (index: number): Promise<void> => {
      while (sent < TOTAL) {
        const raw = await RawStomp.open(url);
        connectionsUsed++;
        let open = true;
        void raw.closed.then(() => (open = false));
        // Half the connections are past CONNECT, so the fuzz reaches SUBSCRIBE/SEND handling too.
        if ((connectionsUsed + index) % 2 === 0) {
          raw.send(connectFrame(ann.accessToken));
          await raw.waitFor((f) => f.startsWith('CONNECTED') || f.startsWith('ERROR')).catch(() => undefined);
        }
        for (let i = 0; i < 20 && open && sent < TOTAL; i++) {
          raw.send(next());
          sent++;
          if (i % 5 === 4) await new Promise((r) => setTimeout(r, 1));
        }
        raw.ws.terminate();
        await raw.closed;
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, i) => worker(i)));
    assert.ok(sent >= TOTAL, `${sent} malformed frames sent over ${connectionsUsed} connections`);

    // Still serving: a STOMP client and a native client talk in the room, and nothing leaked.
    const native = await TestSocket.connect(node.wsUrl, bob.accessToken);
    await native.join(roomId);
    const stomp = await connectStomp(url, { Authorization: `Bearer ${ann.accessToken}` });
    const sub = stomp.subscribe(roomId);
    await stomp.send({ type: 'TALK', room_id: roomId, contents: 'after the storm' });
    await waitFor(() => sub.messages.some((m) => m.contents === 'after the storm'), 'STOMP gets its message');
    await native.next((f) => f.type === 'message' && f.message.contents === 'after the storm', 10_000, 'the native copy', true);
    await stomp.disconnect();
    await native.close();
    const health = await node.request('GET', '/healthz');
    assert.equal(health.status, 200);
  });
});
