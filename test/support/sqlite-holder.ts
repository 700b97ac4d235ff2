/**
 * A process that opens a data directory, for tests that need a second live process:
 *   hold <dir>            opens it, prints `ready <pid>`, and keeps it open until killed
 *   append <dir> <room>   opens it and appends messages in bursts of 100 concurrent calls forever,
 *                         printing `acked <last id>` once a burst's promises resolved (that is, committed)
 *   send <dir> <room>     as append, but each message first claims the send key `key-<id>` (a send
 *                         with a client message id) and is never committed through the claims
 *                         driver, as if killed between the store's commit and the claim's
 */
import { openSqlitePorts } from '../../src/infra/sqlite/open.ts';

const [mode, dataDir, roomId] = process.argv.slice(2);
if (!dataDir || (mode !== 'hold' && mode !== 'append' && mode !== 'send')) {
  console.error('usage: sqlite-holder.ts hold|append|send <dataDir> [roomId]');
  process.exit(2);
}

const ports = openSqlitePorts({ dataDir, synchronous: 'NORMAL' });
console.log(`ready ${process.pid}`);

if (mode === 'hold') {
  setInterval(() => {}, 60_000);
} else {
  // Plain increasing ids are enough here: the store orders them numerically like snowflakes.
  let next = 1_000_000_000_000n;
  for (;;) {
    const burst = Array.from({ length: 100 }, async () => {
      next++;
      const message = {
        messageId: next.toString(), roomId: roomId!, senderId: 'ann', nickname: 'Ann', messageType: 'TALK' as const,
        contents: `message ${next}`, fileUrl: null, createdAt: Date.now(),
      };
      if (mode === 'send') await ports.dedup.claim(`key-${message.messageId}`, message, { ttlMs: 3_600_000, leaseMs: 30_000 });
      await ports.store.appendMessages([message]);
    });
    const last = next;
    await Promise.all(burst);
    console.log(`acked ${last}`);
  }
}
