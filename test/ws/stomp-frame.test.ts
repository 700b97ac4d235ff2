import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeFrame, StompParser, StompSyntaxError } from '../../src/ws/stomp/frame.ts';

const bytes = (text: string): Uint8Array => Buffer.from(text);
const parse = (text: string, max = 65_536) => new StompParser(max).push(bytes(text));

describe('STOMP frames', () => {
  it('parses headers (first of a repeated one wins), CRLF lines, NUL-terminated and content-length bodies', () => {
    const { frames, heartbeats } = parse('\n\r\nSEND\r\ndestination:/a\r\ndestination:/b\r\n\r\nhello\0\nSEND\ncontent-length:3\n\na\0b\0');
    assert.equal(heartbeats, 3);
    assert.equal(frames.length, 2);
    assert.equal(frames[0]!.headers.get('destination'), '/a');
    assert.equal(Buffer.from(frames[0]!.body).toString(), 'hello');
    assert.deepEqual([...frames[1]!.body], [0x61, 0, 0x62], 'content-length bodies may hold NUL');
  });

  it('unescapes headers except in CONNECT, and rejects undefined escapes', () => {
    const [send] = parse('SEND\nreceipt:a\\cb\\nc\\\\d\\re\n\n\0').frames;
    assert.equal(send!.headers.get('receipt'), 'a:b\nc\\d\re');
    const [connect] = parse('CONNECT\nlogin:a\\cb\n\n\0').frames;
    assert.equal(connect!.headers.get('login'), 'a\\cb');
    assert.throws(() => parse('SEND\nreceipt:a\\tb\n\n\0'), StompSyntaxError);
  });

  it('waits for the rest of a split frame, and bounds what it holds', () => {
    const parser = new StompParser(32);
    assert.deepEqual(parser.push(bytes('SUBSCRIBE\nid:1')).frames, []);
    assert.deepEqual(parser.push(bytes('\ndestination:/x\n')).frames, []);
    const { frames } = parser.push(bytes('\n\0'));
    assert.equal(frames[0]!.headers.get('id'), '1');
    assert.throws(() => new StompParser(32).push(bytes(`SEND\nx:${'y'.repeat(40)}`)), /larger than 32/);
    assert.throws(() => parse('SEND\ncontent-length:99999\n\n', 100), /larger than 100/);
  });

  it('rejects unknown commands, bad content-length, a missing NUL after the body and header lines without a colon', () => {
    for (const text of ['HELLO\n\n\0', 'SEND\ncontent-length:x\n\n\0', 'SEND\ncontent-length:2\n\nabc\0', 'SEND\nnocolon\n\n\0', 'SEND\n:empty\n\n\0']) {
      assert.throws(() => parse(text), StompSyntaxError, JSON.stringify(text));
    }
  });

  it('encodes with escaped headers and a byte content-length', () => {
    assert.equal(encodeFrame('RECEIPT', { 'receipt-id': 'a:b' }), 'RECEIPT\nreceipt-id:a\\cb\n\n\0');
    assert.equal(encodeFrame('MESSAGE', { destination: '/d' }, '안녕'), 'MESSAGE\ndestination:/d\ncontent-length:6\n\n안녕\0');
    assert.equal(encodeFrame('CONNECTED', { version: '1.2', 'heart-beat': '0,0' }), 'CONNECTED\nversion:1.2\nheart-beat:0,0\n\n\0');
  });
});

describe('STOMP fan-out', () => {
  it('publishes a message once per distinct subscription id in the room, whatever the number of sockets', async () => {
    const { StompFanout } = await import('../../src/ws/stomp/fanout.ts');
    const published: Array<[string, string]> = [];
    const fanout = new StompFanout((topic, frame) => published.push([topic, frame]));
    for (let i = 0; i < 1000; i++) fanout.add('7', 'sub-0');
    fanout.add('7', 'sub-1');
    fanout.add('8', 'sub-0');
    const message = { messageId: '42', messageType: 'TALK', senderId: '1', nickname: 'Ann', roomId: '7', contents: 'hi', fileUrl: null, createdAt: '2026-01-01T00:00:00.000Z' };
    fanout.message('7', message);
    assert.deepEqual(published.map(([topic]) => topic), ['stomp:7:sub-0', 'stomp:7:sub-1']);
    assert.match(published[1]![1], /^MESSAGE\ndestination:\/sub\/chat\/room\/7\ncontent-type:application\/json\nsubscription:sub-1\nmessage-id:42\n/);
    fanout.remove('7', 'sub-1');
    for (let i = 0; i < 1000; i++) fanout.remove('7', 'sub-0');
    published.length = 0;
    fanout.message('7', message);
    assert.deepEqual(published, [], 'nothing once the room has no STOMP subscriber here');
    assert.equal(fanout.topics('8'), 1);
  });
});
