import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { claimsOf, forgeAccessToken, unsignedToken } from '../support/tokens.ts';
import { TestSocket } from '../support/ws-client.ts';

describe('bad input on the native protocol', () => {
  let node: TestNode;
  let ann: TestUser;
  let bob: TestUser;
  let roomId: string;
  let strangersRoom: string;

  before(async () => {
    node = await startNode({ config: { maxJoinedRooms: 3 } });
    [ann, bob] = await Promise.all([node.signUp('Ann'), node.signUp('Bob')]);
    roomId = await node.createRoom(ann, [bob]);
    strangersRoom = await node.createRoom(bob, []);
  });
  after(() => node.stop());

  it('refuses an upgrade without a valid token with HTTP 401 and no socket', async () => {
    const claims = claimsOf(ann.accessToken);
    const tokens: Array<[string, string | undefined]> = [
      ['no token', undefined],
      ['garbage', 'garbage'],
      ['bad signature', await forgeAccessToken(claims, { secret: 'some-other-secret-that-is-long-enough' })],
      ['expired', await forgeAccessToken(claims, { expiresInSeconds: -5 })],
      ['alg none', unsignedToken(claims)],
    ];
    for (const [what, token] of tokens) {
      await assert.rejects(TestSocket.connect(node.wsUrl, token), (error: any) => error.status === 401, what);
    }
    await assert.rejects(TestSocket.connect(node.wsUrl.replace('/ws', '/other'), ann.accessToken), (error: any) => error.status === 404);
  });

  it('closes a socket with 4001 when its access token expires', async () => {
    const soon = await forgeAccessToken(claimsOf(ann.accessToken), { expiresInSeconds: 1 });
    const socket = await TestSocket.connect(node.wsUrl, soon);
    const { code } = await socket.closed;
    assert.equal(code, 4001);
  });

  it('answers each malformed frame with an error and keeps the connection', async () => {
    const socket = await TestSocket.connect(node.wsUrl, ann.accessToken);
    const cases: Array<[string, string, RegExp?]> = [
      ['not json', 'bad_json'],
      ['[1,2,3]', 'bad_json'],
      ['"join"', 'bad_json'],
      ['{}', 'unknown_type'],
      ['{"type":"dance","ref":"d1"}', 'unknown_type'],
      ['{"type":"join","ref":"j1"}', 'bad_frame', /missing field "roomId"/],
      ['{"type":"join","roomId":"abc"}', 'bad_frame', /roomId/],
      ['{"type":"join","roomId":"1","color":"red"}', 'bad_frame', /unknown field "color"/],
      ['{"type":"send","roomId":"1","clientMsgId":"c","messageType":"TALK","contents":5}', 'bad_frame', /contents/],
      ['{"type":"send","roomId":"1","clientMsgId":"c","messageType":"ENTER","contents":"x"}', 'bad_frame', /messageType/],
      ['{"type":"send","roomId":"1","messageType":"TALK","contents":"x"}', 'bad_frame', /clientMsgId/],
      ['{"type":"read","roomId":"1","messageId":"-4"}', 'bad_frame', /messageId/],
      [`{"type":"ping","ref":"${'x'.repeat(65)}"}`, 'bad_frame', /ref/],
    ];
    for (const [raw, code, message] of cases) {
      const reply = socket.next((f) => f.type === 'error');
      socket.send(raw);
      const error = await reply;
      assert.equal(error.code, code, raw);
      if (message) assert.match(error.message, message, raw);
    }
    const echoed = socket.frames.find((f) => f.code === 'unknown_type' && f.ref === 'd1');
    assert.ok(echoed, 'the ref of a bad frame is echoed when it can be read');
    const binary = socket.next((f) => f.type === 'error');
    socket.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    assert.equal((await binary).code, 'bad_frame');
    assert.equal((await socket.call({ type: 'ping' })).type, 'pong', 'still connected');
    await socket.close();
  });

  it('takes a ref as a string or a number and echoes it exactly as sent', async () => {
    const socket = await TestSocket.connect(node.wsUrl, ann.accessToken);
    /** Sends raw text and returns the raw text of the reply carrying `match` as its ref. */
    const exchange = async (raw: string, match: unknown): Promise<Record<string, unknown>> => {
      const reply = socket.next((f) => f.ref === match);
      socket.send(raw);
      return reply;
    };
    assert.deepEqual(await exchange('{"type":"ping","ref":7}', 7), { type: 'pong', ref: 7 });
    assert.deepEqual(await exchange('{"type":"ping","ref":0}', 0), { type: 'pong', ref: 0 });
    assert.deepEqual(await exchange('{"type":"ping","ref":"7"}', '7'), { type: 'pong', ref: '7' }, 'a string stays a string');
    const joined = await exchange(`{"type":"join","ref":12.5,"roomId":"${roomId}"}`, 12.5);
    assert.equal(joined.type, 'joined');
    const ack = await exchange(`{"type":"send","ref":-3,"roomId":"${roomId}","clientMsgId":"num-ref","messageType":"TALK","contents":"hi"}`, -3);
    assert.equal(ack.type, 'ack');
    // Errors found after parsing (by the session and the room) carry a numeric ref too.
    const notJoined = await exchange(`{"type":"typing","ref":99,"roomId":"${strangersRoom}"}`, 99);
    assert.deepEqual([notJoined.type, notJoined.code], ['error', 'not_joined']);
    const notMember = await exchange(`{"type":"join","ref":100,"roomId":"${strangersRoom}"}`, 100);
    assert.deepEqual([notMember.type, notMember.code], ['error', 'not_member']);
    await socket.close();
  });

  it('puts a readable ref on the error for a bad frame, and says what a ref may be', async () => {
    const socket = await TestSocket.connect(node.wsUrl, ann.accessToken);
    const errorFor = async (raw: string): Promise<Record<string, unknown>> => {
      const reply = socket.next((f) => f.type === 'error');
      socket.send(raw);
      return reply;
    };
    assert.deepEqual(await errorFor('{"type":"join","ref":41}'), { type: 'error', ref: 41, code: 'bad_frame', message: 'missing field "roomId"' });
    assert.equal((await errorFor('{"type":"dance","ref":42}')).ref, 42);
    assert.equal((await errorFor('{"type":"send","ref":"s-43","roomId":"1"}')).ref, 's-43');
    for (const raw of ['{"type":"ping","ref":{"id":1}}', '{"type":"ping","ref":true}', '{"type":"ping","ref":1e999}']) {
      const error = await errorFor(raw);
      assert.equal(error.code, 'bad_frame', raw);
      assert.equal(error.message, 'ref must be a string of at most 64 characters or a number', raw);
      assert.equal('ref' in error, false, `${raw}: an unreadable ref is not echoed`);
    }
    assert.equal((await socket.call({ type: 'ping' })).type, 'pong', 'still connected');
    await socket.close();
  });

  it('refuses rooms the user may not be in and commands for rooms not joined', async () => {
    const socket = await TestSocket.connect(node.wsUrl, ann.accessToken);
    assert.equal((await socket.call({ type: 'join', roomId: '123456' })).code, 'room_not_found');
    assert.equal((await socket.call({ type: 'join', roomId: strangersRoom })).code, 'not_member');
    assert.equal((await socket.call({ type: 'send', roomId, clientMsgId: 'c1', messageType: 'TALK', contents: 'hi' })).code, 'not_joined');
    assert.equal((await socket.call({ type: 'leave', roomId })).code, 'not_joined');
    assert.equal((await socket.call({ type: 'typing', roomId })).code, 'not_joined');
    assert.equal((await socket.call({ type: 'read', roomId, messageId: '1' })).code, 'not_joined');
    assert.equal((await socket.call({ type: 'ping' })).type, 'pong');
    await socket.close();
  });

  it('checks message contents: length in characters, emptiness, file urls', async () => {
    const socket = await TestSocket.connect(node.wsUrl, ann.accessToken);
    await socket.join(roomId);
    const send = (extra: Record<string, unknown>) => socket.call({ type: 'send', roomId, clientMsgId: `c${Math.random()}`, messageType: 'TALK', ...extra });
    assert.equal((await send({ contents: 'x'.repeat(4001) })).code, 'text_too_long');
    assert.equal((await send({ contents: '🔥'.repeat(4000) })).type, 'ack', '4,000 emoji are 4,000 characters');
    assert.equal((await send({ contents: '   ' })).code, 'empty_message');
    assert.equal((await send({ messageType: 'FILE', contents: '' })).code, 'file_url_required');
    assert.equal((await send({ messageType: 'FILE', contents: '', fileUrl: 'not a url' })).code, 'bad_frame');
    assert.equal((await send({ messageType: 'FILE', contents: 'photo', fileUrl: 'https://files.example/a.png' })).code, 'file_not_in_room', 'a FILE message names a file uploaded to the room (test/http/files.test.ts sends one)');
    await socket.close();
  });

  it('limits the rooms one connection joins', async () => {
    const socket = await TestSocket.connect(node.wsUrl, bob.accessToken);
    const rooms = [roomId, strangersRoom, await node.createRoom(bob, []), await node.createRoom(bob, [])];
    for (const room of rooms.slice(0, 3)) assert.equal((await socket.call({ type: 'join', roomId: room })).type, 'joined');
    assert.equal((await socket.call({ type: 'join', roomId: rooms[3] })).code, 'too_many_rooms');
    assert.equal((await socket.call({ type: 'join', roomId: rooms[0] })).type, 'joined', 'joining a joined room again is fine');
    await socket.call({ type: 'leave', roomId: rooms[0] });
    assert.equal((await socket.call({ type: 'join', roomId: rooms[3] })).type, 'joined', 'leaving frees a place');
    await socket.close();
  });

  it('closes a flooding connection with 4008', async () => {
    const socket = await TestSocket.connect(node.wsUrl, ann.accessToken);
    const burst = await Promise.all(Array.from({ length: 39 }, () => socket.call({ type: 'ping' })));
    assert.ok(burst.every((f) => f.type === 'pong'), 'a burst within the limit is served');
    for (let i = 0; i < 100; i++) socket.send({ type: 'ping' });
    assert.equal((await socket.closed).code, 4008);
  });

  it('closes a connection that sends a frame over the size limit with 1009', async () => {
    const socket = await TestSocket.connect(node.wsUrl, ann.accessToken);
    socket.send(JSON.stringify({ type: 'ping', ref: 'x' }).padEnd(65_537, ' '));
    assert.equal((await socket.closed).code, 1009);
    const huge = await TestSocket.connect(node.wsUrl, ann.accessToken);
    huge.send('x'.repeat(1_000_000));
    assert.ok([1006, 1009].includes((await huge.closed).code), 'far larger frames are cut off too');
    const other = await TestSocket.connect(node.wsUrl, ann.accessToken);
    assert.equal((await other.call({ type: 'ping' })).type, 'pong', 'the server serves others');
    await other.close();
  });
});
