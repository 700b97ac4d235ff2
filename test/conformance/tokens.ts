import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { USED_REFRESH_HASHES_KEPT, type DeviceSession, type NextRefresh, type Rotation, type TokenStore } from '../../src/infra/ports/tokens.ts';
import { sleep, waitFor } from '../support/wait.ts';

/** Several nodes sharing one token backend. */
export interface TokenCluster {
  node(): Promise<TokenStore>;
  close(): Promise<void>;
}

const HOUR = 3_600_000;
let counter = 0;
function session(userId: string, deviceId: string, ttlMs = HOUR): DeviceSession {
  counter++;
  return { sessionId: `s-${process.pid}-${counter}`, userId, deviceId, createdAt: Date.now(), expiresAt: Date.now() + ttlMs };
}

/** The rotation to `hash` made at `at` (a nonce of its own, so rotations can be told apart). */
function next(hash: string, expiresAt: number, at = Date.now()): NextRefresh {
  return { hash, expiresAt, rotation: { nonce: `nonce-${hash}-${++counter}`, at } };
}

const GRACE = 10_000;

export function tokenConformance(driver: string, makeCluster: () => Promise<TokenCluster>): void {
  describe(`TokenStore conformance: ${driver}`, () => {
    let cluster: TokenCluster | undefined;
    const start = async (): Promise<TokenCluster> => (cluster = await makeCluster());
    afterEach(async () => {
      await cluster?.close();
      cluster = undefined;
    });

    it('rotates a refresh hash once; without a grace, the old hash coming back revokes the session', async () => {
      const tokens = await (await start()).node();
      const s = session('u1', 'phone');
      assert.equal(await tokens.createSession(s, 'h1'), undefined);
      assert.equal(await tokens.isActive(s.sessionId), true);

      const rotated = await tokens.rotate(s.sessionId, 'h1', next('h2', s.expiresAt + 1000), 0);
      assert.equal(rotated.outcome, 'rotated');
      assert.equal(rotated.outcome === 'rotated' && rotated.session.expiresAt, s.expiresAt + 1000);

      const reused = await tokens.rotate(s.sessionId, 'h1', next('h3', s.expiresAt), 0);
      assert.equal(reused.outcome, 'reused');
      assert.equal(reused.outcome === 'reused' && reused.session.userId, 'u1');
      assert.equal(await tokens.isActive(s.sessionId), false, 'theft revokes the whole session');
      assert.equal((await tokens.rotate(s.sessionId, 'h2', next('h4', s.expiresAt), 0)).outcome, 'unknown', 'even the current hash is dead now');
    });

    it('hands the same rotation back for the old hash within the grace, on any node, and changes nothing', async () => {
      const c = await start();
      const a = await c.node();
      const b = await c.node();
      const s = session('u1', 'phone');
      await a.createSession(s, 'h1');
      const at = Date.now();
      const first = await a.rotate(s.sessionId, 'h1', next('h2', s.expiresAt + 1000, at), GRACE);
      assert.equal(first.outcome, 'rotated');
      const rotation: Rotation | undefined = first.outcome === 'rotated' ? first.rotation : undefined;
      assert.equal(rotation?.at, at);

      // A lost response, or a second refresh racing the first: both callers get the first rotation.
      const repeat = await b.rotate(s.sessionId, 'h1', next('h2-other', s.expiresAt + 2000, at + GRACE - 1), GRACE);
      assert.equal(repeat.outcome, 'rotated');
      assert.deepEqual(repeat.outcome === 'rotated' && repeat.rotation, rotation, 'the first rotation, not the repeat\'s own');
      assert.equal(repeat.outcome === 'rotated' && repeat.session.expiresAt, s.expiresAt + 1000, 'the first rotation\'s expiry');
      assert.equal(await a.isActive(s.sessionId), true, 'the device stays signed in');
      assert.equal((await a.rotate(s.sessionId, 'h2-other', next('x', s.expiresAt), GRACE)).outcome, 'unknown', 'the repeat rotated nothing');
      assert.equal((await b.rotate(s.sessionId, 'h2', next('h3', s.expiresAt, at + 10), GRACE)).outcome, 'rotated', 'the first rotation\'s hash is current');
    });

    it('takes the old hash for theft after the grace, or once the new hash was rotated in turn', async () => {
      const tokens = await (await start()).node();
      const late = session('u1', 'phone');
      await tokens.createSession(late, 'h1');
      const at = Date.now();
      assert.equal((await tokens.rotate(late.sessionId, 'h1', next('h2', late.expiresAt, at), GRACE)).outcome, 'rotated');
      assert.equal((await tokens.rotate(late.sessionId, 'h1', next('h3', late.expiresAt, at + GRACE), GRACE)).outcome, 'reused');
      assert.equal(await tokens.isActive(late.sessionId), false);

      const onward = session('u1', 'laptop');
      await tokens.createSession(onward, 'h1');
      assert.equal((await tokens.rotate(onward.sessionId, 'h1', next('h2', onward.expiresAt, at), GRACE)).outcome, 'rotated');
      assert.equal((await tokens.rotate(onward.sessionId, 'h2', next('h3', onward.expiresAt, at + 1), GRACE)).outcome, 'rotated');
      assert.equal((await tokens.rotate(onward.sessionId, 'h1', next('h4', onward.expiresAt, at + 2), GRACE)).outcome, 'reused', 'two generations back');
      assert.equal(await tokens.isActive(onward.sessionId), false);
    });

    it('keeps the grace in real time too: a repeat after it has passed is theft', async () => {
      const tokens = await (await start()).node();
      const s = session('u1', 'phone');
      await tokens.createSession(s, 'h1');
      assert.equal((await tokens.rotate(s.sessionId, 'h1', next('h2', s.expiresAt), 300)).outcome, 'rotated');
      await sleep(400);
      assert.equal((await tokens.rotate(s.sessionId, 'h1', next('h3', s.expiresAt), 300)).outcome, 'reused');
      assert.equal(await tokens.isActive(s.sessionId), false);
    });

    it('remembers only the newest used hashes of a session: an older one is refused without ending the session', async () => {
      const tokens = await (await start()).node();
      const s = session('u1', 'phone');
      await tokens.createSession(s, 'g0');
      const at = Date.now();
      for (let i = 0; i <= USED_REFRESH_HASHES_KEPT; i++) {
        assert.equal((await tokens.rotate(s.sessionId, `g${i}`, next(`g${i + 1}`, s.expiresAt, at + i), 0)).outcome, 'rotated');
      }
      assert.equal((await tokens.rotate(s.sessionId, 'g0', next('x', s.expiresAt), 0)).outcome, 'unknown', 'forgotten');
      assert.equal(await tokens.isActive(s.sessionId), true);
      assert.equal((await tokens.rotate(s.sessionId, 'g1', next('y', s.expiresAt), 0)).outcome, 'reused', 'the oldest still kept');
      assert.equal(await tokens.isActive(s.sessionId), false);
    });

    it('answers unknown for a hash it never issued, without revoking', async () => {
      const tokens = await (await start()).node();
      const s = session('u1', 'phone');
      await tokens.createSession(s, 'h1');
      assert.equal((await tokens.rotate(s.sessionId, 'forged', next('x', s.expiresAt), GRACE)).outcome, 'unknown');
      assert.equal((await tokens.rotate('no-such-session', 'h1', next('x', s.expiresAt), GRACE)).outcome, 'unknown');
      assert.equal(await tokens.isActive(s.sessionId), true);
    });

    it('tells every node about a revocation', async () => {
      const c = await start();
      const a = await c.node();
      const b = await c.node();
      const heardA: DeviceSession[] = [];
      const heardB: DeviceSession[] = [];
      a.onRevoked((s) => heardA.push(s));
      const unsubscribe = b.onRevoked((s) => heardB.push(s));
      const s = session('u1', 'tablet');
      await a.createSession(s, 'h1');
      assert.equal((await b.revoke(s.sessionId))?.deviceId, 'tablet');
      assert.equal(await a.isActive(s.sessionId), false);
      assert.equal(await b.revoke(s.sessionId), undefined, 'revoking twice finds nothing');
      await waitFor(() => heardA.length === 1 && heardB.length === 1, 'both nodes to hear the revocation');
      assert.equal(heardA[0]!.sessionId, s.sessionId);
      unsubscribe();
      const t = session('u2', 'phone');
      await a.createSession(t, 'h');
      await a.revoke(t.sessionId);
      await waitFor(() => heardA.length === 2, 'node a hears the second revocation');
      assert.equal(heardB.length, 1, 'an unsubscribed listener hears nothing more');
    });

    it('replaces the session of a device that signs in again, and keeps other devices', async () => {
      const c = await start();
      const tokens = await c.node();
      const heard: DeviceSession[] = [];
      tokens.onRevoked((s) => heard.push(s));
      const phone = session('u1', 'phone');
      const laptop = session('u1', 'laptop');
      await tokens.createSession(phone, 'h1');
      await tokens.createSession(laptop, 'h2');
      const phoneAgain = session('u1', 'phone');
      assert.equal((await tokens.createSession(phoneAgain, 'h3'))?.sessionId, phone.sessionId);
      assert.equal(await tokens.isActive(phone.sessionId), false);
      assert.equal(await tokens.isActive(laptop.sessionId), true);
      assert.deepEqual((await tokens.sessionsOf('u1')).map((s) => s.deviceId).sort(), ['laptop', 'phone']);
      assert.deepEqual(await tokens.sessionsOf('u2'), []);
      await waitFor(() => heard.length === 1, 'the replaced session is announced');
      assert.equal(heard[0]!.sessionId, phone.sessionId);
    });

    it('lets a session expire', async () => {
      const tokens = await (await start()).node();
      const s = session('u1', 'phone', 1_200);
      await tokens.createSession(s, 'h1');
      assert.equal(await tokens.isActive(s.sessionId), true);
      await waitFor(async () => !(await tokens.isActive(s.sessionId)), 'expiry', 5_000, 100);
      assert.equal((await tokens.rotate(s.sessionId, 'h1', next('h2', Date.now() + HOUR), GRACE)).outcome, 'unknown');
      assert.deepEqual(await tokens.sessionsOf('u1'), []);
    });
  });
}
