import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, FlametalkError, memoryStorage, type FlametalkClient } from '../../src/client/index.ts';
import { startNode, type TestNode } from '../support/server.ts';
import { clientOf, signUp } from './support.ts';

describe('client SDK: accounts and bad input', () => {
  let node: TestNode;
  const clients: FlametalkClient[] = [];
  const client = (deviceId: string, options = {}): FlametalkClient => {
    const made = clientOf(node, deviceId, options);
    clients.push(made);
    return made;
  };

  before(async () => {
    // No refresh reuse grace: the replay of a rotated refresh token below is theft at once.
    node = await startNode({ config: { refreshReuseGraceMs: 0 } });
  });
  after(async () => {
    for (const made of clients) made.close();
    await node.stop();
  });

  it('signs up, signs in on another device and lists rooms with each session', async () => {
    const phone = client('ann-phone');
    const ann = await signUp(phone, 'Ann');
    assert.equal(ann.nickname, 'Ann');
    assert.deepEqual(phone.session, ann);

    const email = `ann-laptop-${Date.now()}@example.com`;
    await phone.signOut();
    const first = client('first');
    await first.signUp({ email, password: 'correct horse battery', nickname: 'Ann2' });
    const laptop = client('ann-laptop');
    const session = await laptop.signIn({ email, password: 'correct horse battery' });
    assert.equal(session.userId, first.session?.userId);
    assert.deepEqual(await laptop.listRooms(), []);
  });

  it('rejects wrong credentials with a FlametalkError carrying the code and status', async () => {
    const other = client('phone');
    const email = `bob-${Date.now()}@example.com`;
    await other.signUp({ email, password: 'correct horse battery', nickname: 'Bob' });
    const stranger = client('stranger');
    await assert.rejects(stranger.signIn({ email, password: 'wrong password!' }), (error: unknown) => {
      assert.ok(error instanceof FlametalkError);
      assert.equal(error.code, 'bad_credentials');
      assert.equal(error.status, 401);
      return true;
    });
    assert.equal(stranger.session, undefined);
  });

  it('says which field is wrong when sign-up input is bad', async () => {
    await assert.rejects(client('bad').signUp({ email: 'not-an-email', password: 'correct horse battery', nickname: 'X' }), (error: unknown) => {
      assert.ok(error instanceof FlametalkError);
      assert.equal(error.status, 400);
      assert.match(error.message, /email/);
      return true;
    });
  });

  it('needs a session for the API and the socket', async () => {
    const nobody = client('nobody');
    await assert.rejects(nobody.listRooms(), { name: 'FlametalkError', code: 'not_signed_in' });
    await assert.rejects(nobody.join('123'), { code: 'not_signed_in' });
    assert.equal(nobody.state, 'idle');
  });

  it('refuses bad options and bad ids before anything reaches the server', async () => {
    assert.throws(() => createClient({ httpUrl: 'localhost:8080', wsUrl: node.wsUrl, deviceId: 'd' }), { code: 'bad_options', message: /httpUrl/ });
    assert.throws(() => createClient({ httpUrl: node.baseUrl, wsUrl: node.baseUrl, deviceId: 'd' }), { code: 'bad_options', message: /wsUrl must use ws: or wss:/ });
    assert.throws(() => createClient({ httpUrl: node.baseUrl, wsUrl: node.wsUrl, deviceId: 'has space' }), { code: 'bad_options', message: /deviceId/ });
    const c = client('ids');
    await signUp(c, 'Ids');
    await assert.rejects(c.join('room-1'), { code: 'bad_request', message: /roomId must be a decimal id/ });
    await assert.rejects(c.send('123', 'hi'), { code: 'not_joined' });
  });

  it('says how to get a WebSocket when there is none (Node 20 has no global one)', async () => {
    const bare = createClient({ httpUrl: node.baseUrl, wsUrl: node.wsUrl, deviceId: 'bare' });
    clients.push(bare);
    await signUp(bare, 'Bare');
    await assert.rejects(bare.connect(), { code: 'no_websocket', message: /pass createClient\(\{ WebSocket \}\)/ });
  });

  it('rejects joining a room the user is not a member of, with the server code', async () => {
    const owner = client('owner');
    await signUp(owner, 'Owner');
    const roomId = (await owner.createRoom({ users: [] })).roomId;
    const outsider = client('outsider');
    await signUp(outsider, 'Outsider');
    await assert.rejects(outsider.join(roomId), { code: 'not_member' });
    await assert.rejects(outsider.send(roomId, 'hi'), { code: 'not_joined' });
  });

  it('resumes the stored session in a new client (a reload), rotating the refresh token', async () => {
    const storage = memoryStorage();
    const tab = client('tab', { storage });
    const ann = await signUp(tab, 'Reload');
    const before = await storage.get('flametalk.session.tab');
    tab.close();

    const reloaded = client('tab', { storage });
    assert.deepEqual(await reloaded.restore(), ann);
    assert.notEqual(await storage.get('flametalk.session.tab'), before, 'the refresh token rotated');
    assert.ok(Array.isArray(await reloaded.listRooms()));

    await reloaded.signOut();
    assert.equal(await storage.get('flametalk.session.tab'), undefined);
    assert.equal(await client('tab', { storage }).restore(), undefined);
  });

  it('reports a session that was ended elsewhere as signed out', async () => {
    const storage = memoryStorage();
    const tab = client('revoked', { storage });
    await signUp(tab, 'Revoked');
    const stale = JSON.parse(String(await storage.get('flametalk.session.revoked'))).refreshToken as string;
    await client('revoked', { storage }).restore(); // a second tab rotates it
    // Someone replays the old refresh token: the server takes it for theft and ends the device's session.
    const replay = await node.request('POST', '/api/auth/token', { body: { refreshToken: stale } });
    assert.equal(replay.status, 401);
    const reloaded = client('revoked', { storage });
    const ended: FlametalkError[] = [];
    reloaded.on('signedOut', (reason) => ended.push(reason));
    await assert.rejects(reloaded.restore(), { status: 401 });
    assert.equal(ended.length, 1);
    assert.equal(await storage.get('flametalk.session.revoked'), undefined);
  });
});
