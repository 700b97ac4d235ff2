import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNode, type TestNode, type TestUser } from '../support/server.ts';
import { waitFor } from '../support/wait.ts';
import { TestSocket } from '../support/ws-client.ts';

describe('presence socket /presence', () => {
  let node: TestNode;
  let ann: TestUser;
  let bob: TestUser;
  let eve: TestUser;
  let roomId: string;
  let url: string;

  before(async () => {
    node = await startNode();
    [ann, bob, eve] = await Promise.all([node.signUp('Ann'), node.signUp('Bob'), node.signUp('Eve')]);
    roomId = await node.createRoom(ann, [bob]);
    url = `ws://127.0.0.1:${node.server.addresses.wsPort}/presence`;
  });
  after(() => node.stop());

  const present = async (): Promise<string[]> =>
    ((await node.request('GET', `/api/presence/${roomId}`, { token: ann.accessToken })).body.data.userIds as string[]).sort();

  it('refuses an upgrade without a valid token', async () => {
    await assert.rejects(TestSocket.connect(url, undefined), (e: any) => e.status === 401);
    await assert.rejects(TestSocket.connect(url, 'bad'), (e: any) => e.status === 401);
  });

  it('ENTER and EXIT go into the same presence native clients see; closing the socket exits', async () => {
    const native = await TestSocket.connect(node.wsUrl, ann.accessToken);
    await native.join(roomId);
    const p = await TestSocket.connect(url, bob.accessToken);

    const bobEnters = native.next((f) => f.type === 'presence' && f.userId === bob.userId && f.event === 'enter');
    p.send({ type: 'ENTER', userId: bob.userId, roomId, deviceId: 'phone' });
    const entered = await p.next((f) => f.status !== undefined);
    assert.deepEqual(entered, {
      status: 200, message: 'OK',
      data: { type: 'ENTER', userId: bob.userId, roomId, deviceId: 'phone', present: [ann.userId, bob.userId].sort() },
    });
    await bobEnters;
    assert.deepEqual(await present(), [ann.userId, bob.userId].sort());

    // Others' presence reaches the presence socket in its own shape.
    const annLeaves = p.next((f) => f.type === 'EXIT' && f.userId === ann.userId);
    await native.call({ type: 'leave', roomId });
    assert.deepEqual(await annLeaves, { type: 'EXIT', userId: ann.userId, roomId });
    const annBack = p.next((f) => f.type === 'ENTER' && f.userId === ann.userId);
    await native.join(roomId);
    await annBack;

    const bobExits = native.next((f) => f.type === 'presence' && f.userId === bob.userId && f.event === 'exit');
    p.send({ type: 'EXIT', userId: bob.userId, roomId, deviceId: 'phone' });
    assert.equal((await p.next((f) => f.status !== undefined && f.data.type === 'EXIT')).status, 200);
    await bobExits;
    assert.deepEqual(await present(), [ann.userId]);

    p.send({ type: 'ENTER', userId: bob.userId, roomId, deviceId: 'phone' });
    await waitFor(async () => (await present()).includes(bob.userId), 'Bob back');
    const gone = native.next((f) => f.type === 'presence' && f.userId === bob.userId && f.event === 'exit');
    await p.close();
    await gone;
    assert.deepEqual(await present(), [ann.userId]);
    await native.close();
  });

  it('answers bad frames, someone else\'s userId and non-members with an error reply, and stays open', async () => {
    const p = await TestSocket.connect(url, eve.accessToken);
    const cases: Array<[unknown, number, string]> = [
      ['not json', 400, 'bad_json'],
      [{ type: 'HELLO', userId: eve.userId, roomId }, 400, 'unknown_type'],
      [{ type: 'ENTER', userId: '', roomId }, 400, 'bad_frame'],
      [{ type: 'ENTER', userId: eve.userId }, 400, 'bad_frame'],
      [{ type: 'ENTER', userId: bob.userId, roomId, deviceId: 'x' }, 403, 'wrong_user'],
      [{ type: 'ENTER', userId: eve.userId, roomId, deviceId: 'x' }, 403, 'not_member'],
      [{ type: 'ENTER', userId: eve.userId, roomId: '123', deviceId: 'x' }, 404, 'room_not_found'],
    ];
    for (const [frame, status, code] of cases) {
      const reply = p.next((f) => f.status !== undefined);
      p.send(typeof frame === 'string' ? frame : frame as object);
      const got = await reply;
      assert.equal(got.status, status, JSON.stringify(frame));
      assert.equal(got.data.code, code, JSON.stringify(frame));
    }
    assert.ok(!(await present()).includes(eve.userId));
    await p.close();
  });

  it('checks the userId against a host\'s asynchronous authentication too', async () => {
    const users: Record<string, string> = { alice: 'host-alice', bruno: 'host-bruno' };
    const hosted = await startNode({
      authenticate: async ({ headers, query }) => {
        await new Promise((r) => setTimeout(r, 20));
        const name = /^Host (\w+)$/.exec(headers['authorization'] ?? '')?.[1] ?? query.get('access_token') ?? '';
        return users[name] ? { userId: users[name]!, deviceId: 'web', nickname: name } : null;
      },
    });
    try {
      await hosted.request('GET', '/api/chatroom', { headers: { authorization: 'Host bruno' } });
      const created = await hosted.request('POST', '/api/chatroom', { headers: { authorization: 'Host alice' }, body: { users: ['host-bruno'] } });
      assert.equal(created.status, 201, created.body.message);
      const room = created.body.data.roomId as string;
      const p = await TestSocket.connect(`ws://127.0.0.1:${hosted.server.addresses.wsPort}/presence`, 'alice', 'query');
      p.send({ type: 'ENTER', userId: 'host-bruno', roomId: room, deviceId: 'web' });
      p.send({ type: 'ENTER', userId: 'host-alice', roomId: room, deviceId: 'web' });
      const first = await p.next((f) => f.status !== undefined);
      assert.equal(first.status, 403);
      assert.equal(first.data.code, 'wrong_user');
      const second = await p.next((f) => f.status !== undefined && f !== first);
      assert.equal(second.status, 200);
      assert.deepEqual(second.data.present, ['host-alice']);
      await p.close();
    } finally {
      await hosted.stop();
    }
  });
});
