import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { ChatMessage, User } from '../src/chat/model.ts';
import { SnowflakeGenerator } from '../src/chat/snowflake.ts';
import { migrate, openDatabase } from '../src/infra/sqlite/database.ts';
import { DataDirLockedError, JWT_KEY_FILE, LOCK_FILE } from '../src/infra/sqlite/data-dir.ts';
import { SQLITE_MIGRATIONS } from '../src/infra/sqlite/migrations.ts';
import { DATABASE_FILE, openSqlitePorts, type SqlitePorts } from '../src/infra/sqlite/open.ts';

const root = mkdtempSync(join(tmpdir(), 'flametalk-sqlite-durability-'));
const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

const LONG = { ttlMs: 60_000, leaseMs: 30_000 };
const HOUR = 3_600_000;

function freshDir(): string {
  return join(root, randomUUID());
}

function open(dataDir: string, synchronous: 'NORMAL' | 'FULL' = 'NORMAL'): SqlitePorts {
  return openSqlitePorts({ dataDir, synchronous });
}

function user(overrides: Partial<User> = {}): User {
  const id = randomUUID();
  return {
    userId: id, email: `${id}@example.com`, nickname: 'Ann', passwordHash: 'scrypt$x', phoneNumber: null, birthday: null,
    createdAt: 1_733_000_000_000, leftAt: null, ...overrides,
  };
}

function messages(roomId: string, count: number): ChatMessage[] {
  const ids = new SnowflakeGenerator(3);
  return Array.from({ length: count }, (_, i) => ({
    messageId: ids.next(), roomId, senderId: 'ann', nickname: 'Ann', messageType: 'TALK' as const,
    contents: `message ${i}`, fileUrl: null, createdAt: Date.now(),
  }));
}

/** Starts test/support/sqlite-holder.ts and resolves once it printed a line matching `ready`. */
async function holder(mode: 'hold' | 'append' | 'send', dataDir: string, ...args: string[]): Promise<{ child: ChildProcess; lines: AsyncIterator<string> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'support', 'sqlite-holder.ts'), mode, dataDir, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  assert.equal(first.done, false, 'the holder exited before it was ready');
  assert.match(first.value as string, /^ready \d+$/);
  return { child, lines };
}

async function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exit = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exit;
}

describe('SQLite data directory', () => {
  it('keeps users, rooms, messages, read positions, push tokens, sessions and send claims across a restart', async () => {
    const dir = freshDir();
    const ann = user({ phoneNumber: '+821012345678', birthday: '1990-02-03' });
    const roomId = randomUUID();
    const history = messages(roomId, 30);
    const session = { sessionId: randomUUID(), userId: ann.userId, deviceId: 'phone', createdAt: Date.now(), expiresAt: Date.now() + HOUR };
    const [committed, pending, abandoned] = messages('room-x', 3);

    const first = open(dir);
    await first.store.createUser(ann);
    await first.store.createRoom({ roomId, hostId: ann.userId, isOpen: true, createdAt: 5 }, [
      { roomId, userId: ann.userId, joinedAt: 6, title: 'Us', inputLock: false, muted: true },
    ]);
    await first.store.appendMessages(history);
    await first.store.setReadPosition(roomId, ann.userId, history[19]!.messageId);
    await first.store.setDeviceToken({ userId: ann.userId, deviceId: 'phone', token: 'fcm-1' });
    await first.tokens.createSession(session, 'h1');
    const rotation = { nonce: 'n1', at: Date.now() };
    assert.equal((await first.tokens.rotate(session.sessionId, 'h1', { hash: 'h2', rotation, expiresAt: session.expiresAt }, 60_000)).outcome, 'rotated');
    await first.dedup.claim('dev:c1', committed!, LONG);
    await first.dedup.commit('dev:c1', committed!.messageId, LONG.ttlMs);
    await first.dedup.claim('dev:c2', pending!, LONG);
    await first.dedup.claim('dev:c3', abandoned!, LONG);
    await first.dedup.abandon('dev:c3', abandoned!.messageId);
    await first.close();

    const second = open(dir);
    try {
      assert.deepEqual(await second.store.getUserByEmail(ann.email.toUpperCase()), ann);
      assert.deepEqual(await second.store.getUserByPhone('+821012345678'), ann);
      assert.deepEqual(await second.store.getRoom(roomId), { roomId, hostId: ann.userId, isOpen: true, createdAt: 5 });
      assert.deepEqual(await second.store.roomsOf(ann.userId), [{ roomId, userId: ann.userId, joinedAt: 6, title: 'Us', inputLock: false, muted: true }]);
      assert.deepEqual(await second.store.history(roomId, { limit: 100 }), [...history].reverse());
      assert.equal(await second.store.getReadPosition(roomId, ann.userId), history[19]!.messageId);
      assert.equal(await second.store.countAfter(roomId, history[19]!.messageId, 100), 10, 'unread count as before');
      assert.deepEqual(await second.store.deviceTokens([ann.userId]), [{ userId: ann.userId, deviceId: 'phone', token: 'fcm-1' }]);

      assert.equal(await second.tokens.isActive(session.sessionId), true, 'a signed-in device stays signed in');
      const repeat = await second.tokens.rotate(session.sessionId, 'h1', { hash: 'h3', rotation: { nonce: 'n2', at: rotation.at + 1 }, expiresAt: session.expiresAt }, 60_000);
      assert.deepEqual(repeat.outcome === 'rotated' && repeat.rotation, rotation, 'the reuse grace survives the restart');
      const late = { hash: 'h3', rotation: { nonce: 'n3', at: rotation.at + 60_000 }, expiresAt: session.expiresAt };
      assert.equal((await second.tokens.rotate(session.sessionId, 'h1', late, 60_000)).outcome, 'reused',
        'a rotated-away refresh token is still recognised as reused');
      assert.equal(await second.tokens.isActive(session.sessionId), false);

      assert.deepEqual(await second.dedup.claim('dev:c1', messages('room-x', 1)[0]!, LONG), { outcome: 'committed', messageId: committed!.messageId });
      assert.deepEqual(await second.dedup.claim('dev:c2', messages('room-x', 1)[0]!, LONG), { outcome: 'pending', messageId: pending!.messageId });
      assert.deepEqual(await second.dedup.claim('dev:c3', messages('room-x', 1)[0]!, LONG), { outcome: 'resume', message: abandoned });
    } finally {
      await second.close();
    }
  });

  it('commits 500 concurrent appends together and resolves them only once another connection can read them', async () => {
    const dir = freshDir();
    const roomId = randomUUID();
    const all = messages(roomId, 500);
    const ports = open(dir, 'FULL');
    try {
      await Promise.all(all.map((message) => ports.store.appendMessages([message])));
      const reader = new Database(join(ports.dataDir, DATABASE_FILE), { readonly: true });
      try {
        assert.equal(reader.prepare('SELECT count(*) FROM messages WHERE room_id = ?').pluck().get(roomId), 500, 'committed before the promises resolved');
      } finally {
        reader.close();
      }
    } finally {
      await ports.close();
    }
    const reopened = open(dir);
    try {
      assert.equal(await reopened.store.countAfter(roomId, undefined, 1000), 500);
      const seen: ChatMessage[] = [];
      let before: string | undefined;
      for (;;) {
        const page = await reopened.store.history(roomId, { before, limit: 100 });
        if (page.length === 0) break;
        seen.push(...page);
        before = page.at(-1)!.messageId;
      }
      assert.deepEqual(seen, [...all].reverse(), 'every message once, in order');
    } finally {
      await reopened.close();
    }
  });

  it('fails only the call that brought a bad message, not the others committed with it', async () => {
    const ports = open(freshDir());
    try {
      const roomId = randomUUID();
      const [good, alsoGood] = messages(roomId, 2);
      const results = await Promise.allSettled([
        ports.store.appendMessages([good!]),
        ports.store.appendMessages([{ ...alsoGood!, messageId: 'not-an-id' }]),
        ports.store.appendMessages([{ ...alsoGood!, contents: undefined as unknown as string }]),
        ports.store.appendMessages([alsoGood!]),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'fulfilled']);
      assert.match(String((results[1] as PromiseRejectedResult).reason), /invalid message id "not-an-id"/);
      assert.deepEqual(await ports.store.history(roomId, { limit: Infinity }), [alsoGood, good]);
    } finally {
      await ports.close();
    }
  });

  it('loses no acknowledged message when the process is killed (kill -9) mid-burst, and takes over its stale lock', async () => {
    const dir = freshDir();
    const roomId = randomUUID();
    const { child, lines } = await holder('append', dir, roomId);
    let acked = 0n;
    for (let bursts = 0; bursts < 5; bursts++) {
      const line = await lines.next();
      assert.equal(line.done, false);
      acked = BigInt((line.value as string).replace('acked ', ''));
    }
    await killed(child);
    assert.ok(readFileSync(join(dir, LOCK_FILE), 'utf8').startsWith(String(child.pid)), 'the dead process left its lock behind');

    const ports = open(dir);
    try {
      const newest = (await ports.store.lastMessage(roomId))!;
      assert.ok(BigInt(newest.messageId) >= acked, `the last acked message ${acked} survived (newest on disk ${newest.messageId})`);
      const stored = await ports.store.countAfter(roomId, undefined, 1_000_000);
      assert.ok(stored >= 500, `at least the 5 acked bursts are there (${stored})`);
      const ids = (await ports.store.history(roomId, { limit: stored })).map((m) => BigInt(m.messageId));
      assert.equal(ids[0]! - ids.at(-1)! + 1n, BigInt(stored), 'no hole among what was written');
    } finally {
      await ports.close();
    }
  });

  it('commits a send\'s claim with its message: killed (kill -9) before the claim\'s own commit, a resend at once gets the first id', async () => {
    const dir = freshDir();
    const roomId = randomUUID();
    const { child, lines } = await holder('send', dir, roomId);
    let acked = 0n;
    for (let bursts = 0; bursts < 3; bursts++) {
      const line = await lines.next();
      assert.equal(line.done, false);
      acked = BigInt((line.value as string).replace('acked ', ''));
    }
    await killed(child);

    const ports = open(dir);
    try {
      const stored = await ports.store.history(roomId, { limit: Infinity });
      assert.ok(BigInt(stored[0]!.messageId) >= acked, `the last acked message ${acked} survived`);
      const resend = messages(roomId, 1)[0]!;
      for (const { messageId } of stored) {
        assert.deepEqual(await ports.dedup.claim(`key-${messageId}`, resend, LONG), { outcome: 'committed', messageId },
          'no stored message with a claim still pending (its resend would wait out the dead process\'s lease)');
      }
    } finally {
      await ports.close();
    }
  });

  it('refuses a data directory that a live process holds, naming the directory and the pid', async () => {
    const dir = freshDir();
    const { child } = await holder('hold', dir);
    assert.throws(() => open(dir), (error: unknown) => {
      assert.ok(error instanceof DataDirLockedError);
      assert.ok(error.message.includes(dir), error.message);
      assert.ok(error.message.includes(`pid ${child.pid}`), error.message);
      return true;
    });
    await killed(child);
    const ports = open(dir);
    await ports.close();
  });

  it('refuses a second open in the same process, and can be opened again once closed', async () => {
    const dir = freshDir();
    const ports = open(dir);
    assert.throws(() => open(dir), DataDirLockedError);
    await ports.store.close();
    await ports.tokens.close();
    assert.throws(() => open(dir), DataDirLockedError, 'still held while one driver is open');
    await ports.dedup.close();
    assert.throws(() => open(dir), DataDirLockedError, 'still held while the people store is open');
    await ports.people.close();
    const again = open(dir);
    await again.close();
    await again.close();
  });

  it('takes over a lock whose pid is this process but which it does not hold (a restarted container is pid 1 again)', async () => {
    const dir = freshDir();
    (await open(dir).close());
    writeFileSync(join(dir, LOCK_FILE), `${process.pid}\n`);
    const ports = open(dir);
    await ports.close();
  });

  it('keeps one JWT key in jwt.key, mode 0600, and reports where it came from', async () => {
    const dir = freshDir();
    const first = open(dir);
    await first.close();
    assert.equal(first.jwtSecret.source, 'generated');
    assert.ok(first.jwtSecret.secret.length >= 32);
    const file = join(dir, JWT_KEY_FILE);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url').length, 32, '32 random bytes');

    const second = open(dir);
    await second.close();
    assert.deepEqual([second.jwtSecret.source, second.jwtSecret.secret], ['data-dir', first.jwtSecret.secret]);

    writeFileSync(file, 'short\n');
    assert.throws(() => open(dir), /jwt\.key holds no usable JWT key/);
    assert.throws(() => open(dir), /jwt\.key holds no usable JWT key/, 'a refused open released its lock (the error is the key again)');
  });

  it('applies a later migration once to an existing database and keeps its rows', async () => {
    const dir = freshDir();
    const ann = user();
    const first = open(dir);
    await first.store.createUser(ann);
    await first.close();
    const file = join(dir, DATABASE_FILE);
    const next = [...SQLITE_MIGRATIONS, { version: SQLITE_MIGRATIONS.at(-1)!.version + 1, description: 'test', sql: 'ALTER TABLE users ADD COLUMN note TEXT' }];
    const db = openDatabase(file, { synchronous: 'NORMAL' });
    try {
      assert.deepEqual(migrate(db, file, undefined, next), [next.at(-1)!.version]);
      assert.deepEqual(migrate(db, file, undefined, next), [], 'nothing left to do');
      assert.equal(db.prepare('SELECT count(*) FROM users WHERE note IS NULL').pluck().get(), 1);
    } finally {
      db.close();
    }
  });

  it('commits appends still queued when it closes', async () => {
    const dir = freshDir();
    const roomId = randomUUID();
    const ports = open(dir);
    const queued = messages(roomId, 20).map((message) => ports.store.appendMessages([message]));
    await ports.close();
    await Promise.all(queued);
    const reopened = open(dir);
    assert.equal(await reopened.store.countAfter(roomId, undefined, 100), 20);
    await reopened.close();
  });

  it('names the data directory it cannot create', async () => {
    const file = join(root, `${randomUUID()}.txt`);
    writeFileSync(file, 'not a directory');
    assert.throws(() => open(join(file, 'data')), (error: unknown) =>
      error instanceof Error && error.message.startsWith(`cannot use data directory ${join(file, 'data')}: `));
  });

  it('answers ping while open and rejects once closed (readiness)', async () => {
    const ports = open(freshDir());
    await ports.store.ping();
    await ports.close();
    await assert.rejects(ports.store.ping());
    await assert.rejects(ports.store.appendMessages(messages('r', 1)), /closed/);
  });

  it('says what is wrong with a bad synchronous mode and with a database from a newer release', async () => {
    assert.throws(() => openSqlitePorts({ dataDir: freshDir(), synchronous: 'OFF' as 'FULL' }), /invalid SQLite synchronous mode "OFF": use NORMAL or FULL/);
    const dir = freshDir();
    await open(dir).close();
    const file = join(dir, DATABASE_FILE);
    const db = openDatabase(file, { synchronous: 'NORMAL' });
    db.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (99, ?, 0)').run('from the future');
    db.close();
    assert.throws(() => open(dir), /schema version 99, newer than this flametalk knows/);
  });
});
