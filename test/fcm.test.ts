import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FCM_PAYLOAD_LIMIT, startFakeFcm, type FakeFcm } from './support/fake-fcm.ts';
import { FcmPusher } from '../src/infra/fcm/pusher.ts';
import type { PushNotification } from '../src/infra/ports/push.ts';

const note = (token: string, body = 'hi', data: Record<string, string> = { roomId: 'r1' }): PushNotification => ({
  token, userId: 'u1', deviceId: 'd1', title: 'Room', body, data,
});

/** True when the string survives a UTF-8 round trip, i.e. holds no lone surrogate. */
const wellFormed = (text: string): boolean => Buffer.from(text, 'utf8').toString('utf8') === text;

describe('FcmPusher against the local FCM fake', { timeout: 60_000 }, () => {
  let fake: FakeFcm;
  let pusher: FcmPusher;
  before(async () => {
    fake = await startFakeFcm();
    // With the notification block, title and body go twice: the truncation tests below cover both copies.
    pusher = new FcmPusher({ serviceAccountPath: fake.serviceAccountPath, httpAgent: fake.agent, notificationBlock: true });
  });
  after(async () => {
    await pusher.close();
    await fake.close();
  });

  it('signs in through the OAuth token endpoint once, then reuses the access token', async () => {
    assert.deepEqual(await pusher.send([note('oauth-1')]), ['sent']);
    assert.deepEqual(await pusher.send([note('oauth-2')]), ['sent']);
    assert.equal(fake.tokenRequests, 1);
  });

  it('truncates a huge multibyte body so the request stays within 4,096 bytes, never splitting a character', async () => {
    // Different prefixes shift where the cut lands: inside 3-byte Hangul, inside a surrogate pair,
    // on a JSON escape (quote, newline).
    const bodies = ['', 'a', 'ab', '"\n'].map((prefix) => prefix + '한글🔥"\n'.repeat(3000));
    const tokens = bodies.map((_, i) => `big-${i}`);
    assert.deepEqual(await pusher.send(bodies.map((body, i) => note(tokens[i]!, body))), ['sent', 'sent', 'sent', 'sent']);
    for (const [i, token] of tokens.entries()) {
      const got = fake.delivered.find((d) => d.token === token);
      assert.ok(got?.body, `${token} delivered with a body`);
      assert.ok(got.bytes <= FCM_PAYLOAD_LIMIT, `${token}: ${got.bytes} bytes`);
      assert.ok(got.bytes > FCM_PAYLOAD_LIMIT - 16, `${token}: cut no more than needed (${got.bytes} bytes)`);
      assert.ok(wellFormed(got.body), `${token}: no lone surrogate`);
      assert.ok(got.body.endsWith('…'));
      assert.ok(bodies[i]!.startsWith(got.body.slice(0, -1)), `${token}: a prefix of the original`);
    }
  });

  it('cuts an over-long title too (a default group title lists every member), keeping the body first in line', async () => {
    const members = Array.from({ length: 600 }, (_, i) => `친구${i}`).join(', ');
    assert.deepEqual(await pusher.send([
      { ...note('long-title', 'see you at 7 🔥'), title: members },
      { ...note('both-long', '한글🔥'.repeat(2000)), title: members },
    ]), ['sent', 'sent']);
    const shortBody = fake.delivered.find((d) => d.token === 'long-title');
    assert.ok(shortBody);
    assert.equal(shortBody.body, 'see you at 7 🔥', 'a short body is kept whole');
    assert.ok(shortBody.title?.endsWith('…') && members.startsWith(shortBody.title.slice(0, -1)));
    const both = fake.delivered.find((d) => d.token === 'both-long');
    assert.ok(both);
    assert.ok(both.title?.endsWith('…') && both.body?.endsWith('…'), 'both cut');
    for (const { bytes } of [shortBody, both]) assert.ok(bytes <= FCM_PAYLOAD_LIMIT && bytes > FCM_PAYLOAD_LIMIT - 16, `${bytes} bytes`);
  });

  it('reports a 429 from FCM as failed (the token is fine), and the next send goes through', async () => {
    fake.exceedQuota(1);
    assert.deepEqual(await pusher.send([note('busy')]), ['failed']);
    assert.deepEqual(await pusher.send([note('busy')]), ['sent']);
    fake.exceedQuota(3);
    assert.deepEqual(await pusher.send([note('q1'), note('q2'), note('q3')]), ['failed', 'failed', 'failed']);
  });

  it('deletes only tokens FCM calls malformed, not ones whose message FCM refused', async () => {
    const huge = { blob: 'x'.repeat(FCM_PAYLOAD_LIMIT) }; // data cannot be truncated; FCM says INVALID_ARGUMENT
    assert.deepEqual(await pusher.send([note('bad token!'), note('good-token', 'hi', huge)]), ['unregistered', 'failed']);
  });

  it('sends chat notifications at high priority on Android and as immediate alerts on iOS', async () => {
    await pusher.send([note('prio')]);
    const got = fake.delivered.find((d) => d.token === 'prio');
    assert.deepEqual(got?.android, { priority: 'high' });
    assert.deepEqual(got?.apns, { headers: { 'apns-priority': '10', 'apns-push-type': 'alert' }, payload: { aps: { sound: 'default' } } });
  });

  it('sends a data message by default: title and body in data, no notification block, a background push on iOS', async () => {
    const dataOnly = new FcmPusher({ serviceAccountPath: fake.serviceAccountPath, httpAgent: fake.agent });
    try {
      assert.deepEqual(await dataOnly.send([note('data-only', 'see you', { roomId: 'r9', messageId: '42', senderId: 'u2' })]), ['sent']);
      const got = fake.delivered.find((d) => d.token === 'data-only');
      assert.ok(got);
      assert.equal(got.title, undefined, 'no notification block');
      assert.deepEqual(got.data, { roomId: 'r9', messageId: '42', senderId: 'u2', title: 'Room', body: 'see you' });
      assert.deepEqual(got.android, { priority: 'high' });
      assert.deepEqual(got.apns, { headers: { 'apns-priority': '5', 'apns-push-type': 'background' }, payload: { aps: { 'content-available': 1 } } });
      const long = '한글🔥'.repeat(2000);
      assert.deepEqual(await dataOnly.send([note('data-long', long)]), ['sent']);
      const cut = fake.delivered.find((d) => d.token === 'data-long');
      assert.ok(cut && cut.bytes <= FCM_PAYLOAD_LIMIT && cut.bytes > FCM_PAYLOAD_LIMIT - 16, `${cut?.bytes} bytes`);
      assert.ok(cut.data.body?.endsWith('…') && long.startsWith(cut.data.body.slice(0, -1)));
    } finally {
      await dataOnly.close();
    }
  });

  it('lets several pushers share a process, each with its own firebase app', async () => {
    const other = new FcmPusher({ serviceAccountPath: fake.serviceAccountPath, httpAgent: fake.agent });
    try {
      assert.deepEqual(await other.send([note('second-app')]), ['sent']);
      assert.deepEqual(await pusher.send([note('first-app')]), ['sent']);
    } finally {
      await other.close();
    }
  });

  it('throws the SDK error when nothing reaches FCM (credentials FCM does not accept)', async () => {
    const stranger = await startFakeFcm({ projectId: 'someone-else' }); // its key is unknown to `fake`
    const misconfigured = new FcmPusher({ serviceAccountPath: stranger.serviceAccountPath, httpAgent: fake.agent });
    const before = fake.requestSizes.length;
    try {
      await assert.rejects(misconfigured.send([note('n1'), note('n2')]), /OAuth2 access token.*invalid_grant/s);
      assert.equal(fake.requestSizes.length, before, 'no message was sent');
    } finally {
      await misconfigured.close();
      await stranger.close();
    }
  });
});
