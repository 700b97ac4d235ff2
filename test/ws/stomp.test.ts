import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { connectFrame, connectStomp, RawStomp, stompUrl } from '../support/stomp-client.ts';
import { forgeAccessToken, claimsOf } from '../support/tokens.ts';
import { sleep, waitFor } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

describe('STOMP 1.2 chat socket (@stomp/stompjs)', () => {
  let node: TestNode;
  let ann: TestUser;
  let bob: TestUser;
  let eve: TestUser;
  let roomId: string;
  let url: string;

  before(async () => {
    node = await startNode({ config: { stompHeartbeatMs: 300 } });
    [ann, bob, eve] = await Promise.all([node.signUp('Ann'), node.signUp('Bob'), node.signUp('Eve')]);
    roomId = await node.createRoom(ann, [bob]);
    url = stompUrl(node.server.addresses.wsPort);
  });
  after(() => node.stop());

  const history = async (token = ann.accessToken): Promise<any[]> =>
    (await node.request('GET', `/api/chat/history/${roomId}?limit=100`, { token })).body.data.messages;

  it('connects with either token header, delivers FlameTalk\'s broadcast body, and ignores a spoofed sender', async () => {
    const a = await connectStomp(url, { Authorization: `Bearer ${ann.accessToken}` });
    const b = await connectStomp(stompUrl(node.server.addresses.wsPort, '/stomp/chat/websocket'), { 'ACCESS-TOKEN': bob.accessToken });
    assert.equal(a.socket().protocol, 'v12.stomp', 'subprotocol negotiated');
    const subA = a.subscribe(roomId, { receipt: 'sub-a' });
    const subB = b.subscribe(roomId);
    const subscribed = new Promise((resolve) => a.client.watchForReceipt('sub-a', resolve));
    await subscribed;
    await waitFor(() => node.server.ports.presence.present(roomId).then((p) => p.length === 2), 'both present');

    const receipt = await b.send({ type: 'TALK', room_id: roomId, sender_id: eve.userId, nickname: 'Mallory', contents: '안녕 Ann', file_url: null });
    assert.ok(receipt.headers['receipt-id']);
    await waitFor(() => subA.messages.length === 1 && subB.messages.length === 1, 'both subscribers get it (the sender too)');
    const body = subA.messages[0];
    assert.deepEqual(Object.keys(body).sort(), ['contents', 'created_at', 'file_url', 'message_id', 'message_type', 'nickname', 'room_id', 'sender_id']);
    assert.equal(body.sender_id, bob.userId, 'the authenticated user, not the body\'s sender_id');
    assert.equal(body.nickname, 'Bob');
    assert.equal(body.message_type, 'TALK');
    assert.equal(body.room_id, roomId);
    assert.equal(body.contents, '안녕 Ann');
    assert.equal(body.file_url, null);
    assert.match(body.created_at, /^\d{4}-\d\d-\d\dT/);
    assert.match(body.message_id, /^[0-9]+$/);
    assert.equal(subA.frames[0]!.headers['destination'], `/sub/chat/room/${roomId}`);
    assert.equal(subA.frames[0]!.headers['subscription'], subA.id, 'the client\'s own subscription id');

    // A client's own ENTER is answered and not stored: the server posts system messages itself.
    assert.ok(await a.send({ type: 'ENTER', room_id: roomId, sender_id: ann.userId, nickname: 'Ann', contents: '' }));
    // A FILE message names a file uploaded to the room.
    const form = new FormData();
    form.append('chatroomId', roomId);
    form.append('file', new Blob([Buffer.from('not really a jpeg')], { type: 'image/jpeg' }), 'photo.jpg');
    const uploaded = await fetch(`${node.baseUrl}/api/file`, { method: 'POST', headers: { authorization: `Bearer ${ann.accessToken}` }, body: form });
    const fileUrl = ((await uploaded.json()) as { data: { url: string } }).data.url;
    const file = await a.send({ type: 'FILE', room_id: roomId, contents: 'photo.jpg', file_url: fileUrl });
    assert.ok(file);
    await waitFor(() => subB.messages.length === 2, 'the FILE message');
    assert.equal(subB.messages[1].message_type, 'FILE', 'nothing stored for the ENTER');
    assert.equal(new URL(subB.messages[1].file_url).pathname, new URL(fileUrl).pathname);
    await Promise.all([a.disconnect(), b.disconnect()]);
  });

  it('sends a SEND receipt only once the message is durable (it is in history then)', async () => {
    const a = await connectStomp(url, { Authorization: `Bearer ${ann.accessToken}` });
    a.subscribe(roomId);
    await waitFor(async () => (await node.server.ports.presence.present(roomId)).includes(ann.userId), 'subscribed');
    for (let i = 0; i < 5; i++) {
      const receipt = await a.send({ type: 'TALK', room_id: roomId, contents: `durable ${i}` });
      assert.ok(receipt);
      const stored = await node.server.ports.store.history(roomId, { limit: 10 });
      assert.ok(stored.some((m) => m.contents === `durable ${i}`), 'stored before the receipt');
    }
    await a.disconnect();
  });

  it('ERROR and close on a bad, expired or revoked token', async () => {
    await assert.rejects(connectStomp(url, { Authorization: 'Bearer not-a-token' }), /STOMP ERROR: the access token is invalid/);
    const expired = await forgeAccessToken(claimsOf(ann.accessToken), { expiresInSeconds: -10 });
    await assert.rejects(connectStomp(url, { 'ACCESS-TOKEN': expired }), /STOMP ERROR: the access token has expired/);
    await assert.rejects(connectStomp(url, {}), /STOMP ERROR: an access token is required/);
    const gone = await node.signIn(eve, 'tablet');
    await node.request('POST', '/api/auth/signout', { token: gone.accessToken });
    await assert.rejects(connectStomp(url, { Authorization: `Bearer ${gone.accessToken}` }), /STOMP ERROR: this device was signed out or revoked/);
  });

  it('accepts ?access_token= on the upgrade', async () => {
    const a = await connectStomp(`${url}?access_token=${encodeURIComponent(ann.accessToken)}`, {});
    await a.disconnect();
  });

  it('ERROR on a non-member subscribe and on unknown destinations', async () => {
    const e = await connectStomp(url, { Authorization: `Bearer ${eve.accessToken}` });
    const error = new Promise<any>((resolve) => (e.client.onStompError = resolve));
    e.subscribe(roomId);
    const frame = await error;
    assert.match(frame.headers['message'], /not a member/);
    assert.equal(frame.headers['code'], 'not_member');
    await e.closed;

    for (const destination of ['/topic/chat', '/sub/chat/room/abc']) {
      const c = await connectStomp(url, { Authorization: `Bearer ${ann.accessToken}` });
      const unknown = new Promise<any>((resolve) => (c.client.onStompError = resolve));
      c.client.subscribe(destination, () => undefined);
      assert.match((await unknown).headers['message'], /unknown destination/);
      await c.closed;
    }
    const s = await connectStomp(url, { Authorization: `Bearer ${ann.accessToken}` });
    const wrongSend = new Promise<any>((resolve) => (s.client.onStompError = resolve));
    s.client.publish({ destination: '/app/chat', body: '{}' });
    assert.equal((await wrongSend).headers['code'], 'unknown_destination');
    await s.closed;
  });

  it('keeps a heart-beating client and drops a silent one', async () => {
    const alive = await connectStomp(url, { Authorization: `Bearer ${ann.accessToken}` }, { heartbeatIncoming: 300, heartbeatOutgoing: 300 });
    const raw = await RawStomp.open(url);
    raw.send(connectFrame(bob.accessToken, 'heart-beat:300,300\n'));
    const connected = await raw.waitFor((f) => f.startsWith('CONNECTED'));
    assert.match(connected, /heart-beat:300,300/);
    assert.match(connected, /version:1.2/);
    const started = Date.now();
    const { code } = await raw.closed;
    const silentFor = Date.now() - started;
    assert.ok(silentFor >= 300 && silentFor < 4_000, `dropped after ${silentFor} ms`);
    assert.notEqual(code, 1000);
    assert.ok(raw.frames().some((f) => f.startsWith('ERROR') && f.includes('heart-beat')), 'told why');
    assert.ok(raw.received.includes('\n'), 'the server sent heart-beats');
    await sleep(1_500);
    assert.equal(alive.client.connected, true, 'the heart-beating client is still connected');
    const sub = alive.subscribe(roomId);
    await alive.send({ type: 'TALK', room_id: roomId, contents: 'still here' });
    await waitFor(() => sub.messages.some((m) => m.contents === 'still here'), 'it still works');
    await alive.disconnect();
  });

  it('parses several frames in one message, a frame split across messages, and escaped headers', async () => {
    const raw = await RawStomp.open(url, ['v11.stomp', 'v12.stomp']);
    assert.equal(raw.ws.protocol, 'v12.stomp', 'the best offered version');
    const connect = connectFrame(ann.accessToken);
    const body = JSON.stringify({ type: 'TALK', room_id: roomId, contents: 'split\u0000not: a nul in JSON' });
    const send = `SEND\ndestination:/pub/chat/message\nreceipt:r\\c1\ncontent-length:${Buffer.byteLength(body)}\n\n${body}\0`;
    // CONNECT and SUBSCRIBE in one WebSocket message, then a SEND in three pieces.
    raw.send(`${connect}\nSUBSCRIBE\nid:sub-0\ndestination:/sub/chat/room/${roomId}\nreceipt:s1\n\n\0`);
    await raw.waitFor((f) => f.startsWith('RECEIPT') && f.includes('receipt-id:s1'));
    raw.send(send.slice(0, 7));
    raw.send(send.slice(7, 40));
    raw.send(send.slice(40));
    const receipt = await raw.waitFor((f) => f.startsWith('RECEIPT') && f.includes('receipt-id:r\\c1'));
    assert.ok(receipt, 'the receipt id is escaped back as it was sent (r:1)');
    const message = await raw.waitFor((f) => f.startsWith('MESSAGE'));
    assert.match(message, /subscription:sub-0/);
    assert.equal(JSON.parse(message.slice(message.indexOf('\n\n') + 2)).contents, 'split\u0000not: a nul in JSON');
    raw.send('DISCONNECT\nreceipt:bye\n\n\0');
    await raw.waitFor((f) => f.includes('receipt-id:bye'));
    assert.equal((await raw.closed).code, 1000);
  });

  it('a native client and a STOMP client see each other\'s messages', async () => {
    const native = await TestSocket.connect(node.wsUrl, ann.accessToken);
    await native.join(roomId);
    const stomp = await connectStomp(url, { Authorization: `Bearer ${bob.accessToken}` });
    const sub = stomp.subscribe(roomId);
    await waitFor(async () => (await node.server.ports.presence.present(roomId)).includes(bob.userId), 'Bob present');
    await native.sendText(roomId, 'from native');
    await waitFor(() => sub.messages.some((m) => m.contents === 'from native'), 'STOMP gets the native message');
    await stomp.send({ type: 'TALK', room_id: roomId, contents: 'from stomp' });
    const got = await native.next((f) => f.type === 'message' && f.message.contents === 'from stomp');
    assert.equal(got.message.senderId, bob.userId);
    const inHistory = (await history()).filter((m: any) => m.contents === 'from stomp');
    assert.equal(inHistory.length, 1, 'in history exactly once');
    await stomp.disconnect();
    await native.close();
  });
});
