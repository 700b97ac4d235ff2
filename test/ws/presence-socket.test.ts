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
      [{ type: 'ENTER', userId: 'me', roomId }, 400, 'bad_frame'],
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
});
