import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { PushNotification, Pusher } from '../../src/infra/ports/push.ts';

/** A pusher plus a view of what actually reached the (fake or logged) push service. */
export interface PushFixture {
  pusher: Pusher;
  /** Makes the push service answer for this token as for an uninstalled app. */
  markUnregistered(token: string): void;
  delivered(): Array<Pick<PushNotification, 'token' | 'title' | 'body' | 'data'>>;
  close(): Promise<void>;
}

const note = (token: string, i = 0): PushNotification => ({
  token, userId: `u${i}`, deviceId: `d${i}`, title: `Room ${i}`, body: `Ann: hello ${i} 🔥`,
  data: { roomId: `r${i}`, messageId: String(1000 + i) },
});

export function pushConformance(driver: string, makeFixture: () => Promise<PushFixture>): void {
  describe(`Pusher conformance: ${driver}`, { timeout: 60_000 }, () => {
    let fixture: PushFixture | undefined;
    const start = async (): Promise<PushFixture> => (fixture = await makeFixture());
    afterEach(async () => {
      await fixture?.close();
      fixture = undefined;
    });

    it('delivers title, body and data to each token and reports each result in order', async () => {
      const f = await start();
      const batch = [note('tok-a', 1), note('tok-b', 2), note('tok-c', 3)];
      assert.deepEqual(await f.pusher.send(batch), ['sent', 'sent', 'sent']);
      const delivered = f.delivered().sort((x, y) => x.token.localeCompare(y.token));
      assert.deepEqual(delivered, batch.map(({ token, title, body, data }) => ({ token, title, body, data })));
    });

    it('reports a token of an uninstalled app as unregistered, and still delivers the rest', async () => {
      const f = await start();
      f.markUnregistered('dead');
      assert.deepEqual(await f.pusher.send([note('live-1'), note('dead'), note('live-2')]), ['sent', 'unregistered', 'sent']);
      assert.deepEqual(f.delivered().map((d) => d.token).sort(), ['live-1', 'live-2']);
    });

    it('takes a full batch and refuses a larger one', async () => {
      const f = await start();
      const full = Array.from({ length: f.pusher.maxBatch }, (_, i) => note(`t${i}`, i));
      const outcomes = await f.pusher.send(full);
      assert.equal(outcomes.length, f.pusher.maxBatch);
      assert.ok(outcomes.every((o) => o === 'sent'));
      assert.equal(f.delivered().length, f.pusher.maxBatch);
      await assert.rejects(f.pusher.send([...full, note('one-too-many')]), RangeError);
      assert.deepEqual(await f.pusher.send([]), []);
    });
  });
}
