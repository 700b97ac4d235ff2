import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { ChatMessage, Membership, User } from '../../src/chat/model.ts';
import { SnowflakeGenerator } from '../../src/chat/snowflake.ts';
import { EmailTakenError, IdTakenError, PhoneTakenError, type ChatStore } from '../../src/infra/ports/store.ts';

const DAY = 86_400_000;

function user(overrides: Partial<User> = {}): User {
  const id = randomUUID();
  return {
    userId: id, email: `${id}@example.com`, nickname: `nick-${id.slice(0, 6)}`, passwordHash: 'scrypt$x',
    phoneNumber: null, birthday: null, createdAt: Date.now(), leftAt: null, ...overrides,
  };
}

function member(roomId: string, userId: string, overrides: Partial<Membership> = {}): Membership {
  return { roomId, userId, joinedAt: Date.now(), title: null, inputLock: false, muted: false, ...overrides };
}

/** A phone number no other test run uses. */
function phone(): string {
  return `+82${randomUUID().replaceAll(/[^0-9]/g, '').slice(0, 12)}`;
}

/** Messages whose ids (and so time buckets) spread over `spanMs`, oldest first. */
function messages(roomId: string, count: number, spanMs: number, start = Date.now() - spanMs): ChatMessage[] {
  let clock = start;
  const ids = new SnowflakeGenerator(7, () => clock);
  return Array.from({ length: count }, (_, i) => {
    clock = start + Math.floor((spanMs * i) / count);
    return {
      messageId: ids.next(), roomId, senderId: `u${i % 3}`, nickname: 'n', messageType: 'TALK' as const,
      contents: `message ${i}`, fileUrl: i % 10 === 0 ? `https://files.example/${i}` : null, createdAt: clock,
    };
  });
}

function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

export function storeConformance(driver: string, makeStore: () => Promise<ChatStore>): void {
  describe(`ChatStore conformance: ${driver}`, { timeout: 120_000 }, () => {
    let store: ChatStore;
    before(async () => {
      store = await makeStore();
    });
    after(async () => store?.close());

    it('creates and finds users, with emails unique regardless of case', async () => {
      const ann = user({ email: `Ann-${randomUUID()}@Example.com`, phoneNumber: '010-1234', birthday: '1990-02-03' });
      await store.createUser(ann);
      assert.deepEqual(await store.getUser(ann.userId), ann);
      assert.deepEqual(await store.getUserByEmail(ann.email.toLowerCase()), ann);
      assert.deepEqual(await store.getUserByEmail(ann.email.toUpperCase()), ann);
      await assert.rejects(store.createUser(user({ email: ann.email.toUpperCase() })), EmailTakenError);
      assert.equal(await store.getUser(randomUUID()), undefined);
      assert.equal(await store.getUserByEmail('nobody@example.com'), undefined);

      const bob = user();
      await store.createUser(bob);
      const found = await store.getUsers([bob.userId, 'missing', ann.userId]);
      assert.deepEqual(found.map((u) => u.userId).sort(), [ann.userId, bob.userId].sort());

      await store.updateUser(ann.userId, { leftAt: 12345, nickname: 'Annie', passwordHash: 'rehashed' });
      assert.deepEqual(await store.getUser(ann.userId), { ...ann, leftAt: 12345, nickname: 'Annie', passwordHash: 'rehashed' });
      await store.updateUser(ann.userId, { leftAt: null });
      assert.equal((await store.getUser(ann.userId))?.leftAt, null);
    });

    it('keeps phone numbers unique and finds users by them', async () => {
      const ann = user({ phoneNumber: phone() });
      await store.createUser(ann);
      assert.deepEqual(await store.getUserByPhone(ann.phoneNumber!), ann);
      assert.equal(await store.getUserByPhone(phone()), undefined);

      const refused = user({ phoneNumber: ann.phoneNumber });
      await assert.rejects(store.createUser(refused), PhoneTakenError);
      assert.equal(await store.getUser(refused.userId), undefined, 'a refused sign-up leaves no user behind');
      await store.createUser({ ...refused, userId: randomUUID(), phoneNumber: null });
      assert.ok(await store.getUserByEmail(refused.email), 'nor a claim on its email');

      const noPhones = [user(), user()];
      for (const u of noPhones) await store.createUser(u);
      assert.deepEqual((await store.getUsers(noPhones.map((u) => u.userId))).length, 2, 'many users may have no phone');

      const bob = user({ phoneNumber: phone() });
      await store.createUser(bob);
      await assert.rejects(store.updateUser(bob.userId, { phoneNumber: ann.phoneNumber }), PhoneTakenError);
      assert.equal((await store.getUser(bob.userId))?.phoneNumber, bob.phoneNumber, 'a refused change keeps the old number');
      assert.equal((await store.getUserByPhone(ann.phoneNumber!))?.userId, ann.userId);

      const annNew = phone();
      await store.updateUser(ann.userId, { phoneNumber: annNew });
      assert.equal((await store.getUserByPhone(annNew))?.userId, ann.userId);
      assert.equal(await store.getUserByPhone(ann.phoneNumber!), undefined, 'the old number leads nowhere');
      await store.updateUser(bob.userId, { phoneNumber: ann.phoneNumber });
      assert.equal((await store.getUserByPhone(ann.phoneNumber!))?.userId, bob.userId, 'and is free for someone else');

      await store.updateUser(ann.userId, { phoneNumber: null });
      assert.equal(await store.getUserByPhone(annNew), undefined);
      assert.equal((await store.getUser(ann.userId))?.phoneNumber, null);
    });

    it('never overwrites a user or room whose id exists', async () => {
      const ann = user();
      await store.createUser(ann);
      const impostor = user({ userId: ann.userId });
      await assert.rejects(store.createUser(impostor), IdTakenError);
      assert.deepEqual(await store.getUser(ann.userId), ann);
      assert.equal(await store.getUserByEmail(impostor.email), undefined, 'the refused user claimed no email');

      const roomId = randomUUID();
      const room = { roomId, hostId: ann.userId, isOpen: false, createdAt: 1_700_000_000_000 };
      await store.createRoom(room, [member(roomId, ann.userId, { joinedAt: 1 })]);
      const other = randomUUID();
      await assert.rejects(store.createRoom({ ...room, hostId: other, isOpen: true }, [member(roomId, other)]), IdTakenError);
      assert.deepEqual(await store.getRoom(roomId), room);
      assert.deepEqual((await store.members(roomId)).map((m) => m.userId), [ann.userId], 'the refused room added no members');
    });

    it('keeps rooms, members and each member\'s own settings', async () => {
      const roomId = randomUUID();
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      const room = { roomId, hostId: a, isOpen: false, createdAt: 1_700_000_000_000 };
      await store.createRoom(room, [member(roomId, a, { joinedAt: 1 }), member(roomId, b, { joinedAt: 2 })]);
      assert.deepEqual(await store.getRoom(roomId), room);
      assert.equal(await store.getRoom(randomUUID()), undefined);
      assert.deepEqual((await store.members(roomId)).map((m) => m.userId).sort(), [a, b].sort());

      await store.addMember(member(roomId, c, { joinedAt: 3 }));
      await store.updateMembership(roomId, b, { title: 'Family', inputLock: true });
      assert.deepEqual(await store.getMembership(roomId, b), member(roomId, b, { joinedAt: 2, title: 'Family', inputLock: true }));
      assert.deepEqual(await store.getMembership(roomId, a), member(roomId, a, { joinedAt: 1 }), 'other members keep theirs');
      assert.deepEqual((await store.roomsOf(b)).map((m) => [m.roomId, m.title]), [[roomId, 'Family']]);

      await store.updateMembership(roomId, b, { muted: true });
      assert.deepEqual(await store.getMembership(roomId, b), member(roomId, b, { joinedAt: 2, title: 'Family', inputLock: true, muted: true }),
        'muting keeps the other settings');
      assert.deepEqual((await store.roomsOf(b)).map((m) => m.muted), [true]);
      assert.deepEqual((await store.members(roomId)).filter((m) => m.muted).map((m) => m.userId), [b]);
      await store.updateMembership(roomId, b, { muted: false, title: null });
      assert.deepEqual(await store.getMembership(roomId, b), member(roomId, b, { joinedAt: 2, inputLock: true }));
      await store.updateMembership(roomId, randomUUID(), { muted: true });
      assert.equal((await store.members(roomId)).length, 3, 'updating a non-member invents no membership');
      await store.addMember(member(randomUUID(), c, { muted: true }));
      assert.deepEqual((await store.roomsOf(c)).map((m) => m.muted).sort(), [false, true], 'muted from the start');

      await store.removeMember(roomId, a);
      assert.equal(await store.getMembership(roomId, a), undefined);
      assert.deepEqual(await store.roomsOf(a), []);
      assert.deepEqual((await store.members(roomId)).map((m) => m.userId).sort(), [b, c].sort());
    });

    it('pages history newest first with no gap or repeat, across days, whatever the insert order', async () => {
      const roomId = randomUUID();
      const all = messages(roomId, 250, 5 * DAY);
      await store.appendMessages(shuffled(all).slice(0, 125));
      await store.appendMessages(shuffled(all).slice(0, 250));
      const seen: ChatMessage[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await store.history(roomId, { before: cursor, limit: 50 });
        if (page.length === 0) break;
        assert.ok(page.length <= 50);
        seen.push(...page);
        cursor = page.at(-1)!.messageId;
      }
      assert.deepEqual(seen, [...all].reverse(), 'every message once, newest first, fields intact');
      assert.deepEqual(await store.lastMessage(roomId), all.at(-1));
      assert.deepEqual(await store.history(randomUUID(), { limit: 50 }), []);
      assert.equal(await store.lastMessage(randomUUID()), undefined);
    });

    it('finds what came after a reader\'s position and counts it', async () => {
      const roomId = randomUUID();
      const all = messages(roomId, 120, 3 * DAY);
      await store.appendMessages(all);
      const lastRead = all[49]!.messageId;
      const unread = await store.history(roomId, { after: lastRead, limit: 100 });
      assert.deepEqual(unread, all.slice(50).reverse());
      const between = await store.history(roomId, { after: all[9]!.messageId, before: all[20]!.messageId, limit: 100 });
      assert.deepEqual(between, all.slice(10, 20).reverse());
      const newestFew = await store.history(roomId, { after: all[9]!.messageId, limit: 5 });
      assert.deepEqual(newestFew, all.slice(115).reverse(), 'limit keeps the newest');
      assert.equal(await store.countAfter(roomId, lastRead, 1000), 70);
      assert.equal(await store.countAfter(roomId, undefined, 1000), 120);
      assert.equal(await store.countAfter(roomId, lastRead, 30), 30, 'counting stops at the cap');
      assert.equal(await store.countAfter(roomId, all.at(-1)!.messageId, 1000), 0);
    });

    it('walks over long silences in a room', async () => {
      const roomId = randomUUID();
      const old = messages(roomId, 3, 1000, Date.now() - 400 * DAY);
      const recent = messages(roomId, 3, 1000);
      await store.appendMessages([...old, ...recent]);
      const page = await store.history(roomId, { limit: 10 });
      assert.deepEqual(page, [...old, ...recent].reverse());
      assert.deepEqual(await store.history(roomId, { before: recent[0]!.messageId, limit: 10 }), [...old].reverse());
      assert.equal(await store.countAfter(roomId, old[2]!.messageId, 100), 3);
    });

    it('never duplicates a message stored twice', async () => {
      const roomId = randomUUID();
      const [message] = messages(roomId, 1, 0);
      await store.appendMessages([message!]);
      await store.appendMessages([message!, message!]);
      assert.deepEqual(await store.history(roomId, { limit: 10 }), [message]);
      assert.equal(await store.countAfter(roomId, undefined, 100), 1);
    });

    it('keeps the user ids of system messages, and gives ordinary messages none', async () => {
      const roomId = randomUUID();
      const [plain, invite, leave] = messages(roomId, 3, 1000);
      const system = [
        { ...invite!, messageType: 'INVITE' as const, userIds: ['u1', 'u2'] },
        { ...leave!, messageType: 'LEAVE' as const, userIds: ['u3'] },
      ];
      await store.appendMessages([plain!, ...system]);
      const page = await store.history(roomId, { limit: 10 });
      assert.deepEqual(page, [plain!, ...system].reverse());
      assert.equal('userIds' in page[2]!, false, 'no userIds key on an ordinary message');
      assert.deepEqual(await store.lastMessage(roomId), system[1]);
    });

    it('moves read positions forward only', async () => {
      const roomId = randomUUID();
      const [a, b] = messages(roomId, 2, 1000);
      assert.equal(await store.getReadPosition(roomId, 'u1'), undefined);
      await store.setReadPosition(roomId, 'u1', b!.messageId);
      await store.setReadPosition(roomId, 'u1', a!.messageId);
      assert.equal(await store.getReadPosition(roomId, 'u1'), b!.messageId);
      assert.equal(await store.getReadPosition(roomId, 'u2'), undefined, 'per user');
    });

    it('keeps one push token per device', async () => {
      const [u1, u2] = [randomUUID(), randomUUID()];
      await store.setDeviceToken({ userId: u1, deviceId: 'phone', token: 't1' });
      await store.setDeviceToken({ userId: u1, deviceId: 'phone', token: 't2' });
      await store.setDeviceToken({ userId: u1, deviceId: 'tablet', token: 't3' });
      await store.setDeviceToken({ userId: u2, deviceId: 'phone', token: 't4' });
      const tokens = await store.deviceTokens([u1, u2, randomUUID()]);
      assert.deepEqual(tokens.map((t) => `${t.userId === u1 ? 'u1' : 'u2'}/${t.deviceId}/${t.token}`).sort(), [
        'u1/phone/t2', 'u1/tablet/t3', 'u2/phone/t4',
      ]);
      await store.removeDeviceToken(u1, 'phone');
      assert.deepEqual((await store.deviceTokens([u1])).map((t) => t.token), ['t3']);
      assert.deepEqual(await store.deviceTokens([]), []);
    });

    it('hands a push token over to the device that registers it, also from another account', async () => {
      const [u1, u2] = [randomUUID(), randomUUID()];
      const [shared, other] = [`fcm-${randomUUID()}`, `fcm-${randomUUID()}`];
      await store.setDeviceToken({ userId: u1, deviceId: 'phone', token: shared });
      await store.setDeviceToken({ userId: u1, deviceId: 'tablet', token: other });
      await store.setDeviceToken({ userId: u2, deviceId: 'phone', token: shared });
      assert.deepEqual((await store.deviceTokens([u1])).map((t) => `${t.deviceId}/${t.token}`), [`tablet/${other}`], 'the first copy is gone');
      assert.deepEqual((await store.deviceTokens([u2])).map((t) => t.token), [shared]);
      await store.setDeviceToken({ userId: u2, deviceId: 'laptop', token: shared });
      assert.deepEqual((await store.deviceTokens([u2])).map((t) => t.deviceId), ['laptop'], 'within one account too');
      // A device that moved on to a new token does not lose it when its old one is registered elsewhere.
      await store.setDeviceToken({ userId: u2, deviceId: 'laptop', token: `${shared}-new` });
      await store.setDeviceToken({ userId: u1, deviceId: 'phone', token: shared });
      assert.deepEqual((await store.deviceTokens([u2])).map((t) => t.token), [`${shared}-new`]);
      await store.removeDeviceToken(u1, 'phone');
      await store.setDeviceToken({ userId: u2, deviceId: 'phone', token: shared });
      assert.deepEqual((await store.deviceTokens([u2])).map((t) => t.token).sort(), [shared, `${shared}-new`].sort());
    });

    it('lists accounts that left before a time, and deletes an account for good: email and phone free, history kept', async () => {
      // Times in 1970 that no other test uses: only this test's accounts can match.
      const base = 1_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
      const early = user({ leftAt: base, phoneNumber: phone() });
      const late = user({ leftAt: base + 5 });
      const staying = user();
      for (const u of [early, late, staying]) await store.createUser(u);
      const due = async (before: number) => (await store.usersLeftBefore(before, 10_000))
        .filter((u) => [early, late, staying].some((x) => x.userId === u.userId)).map((u) => u.userId);
      assert.deepEqual(await due(base + 4), [early.userId]);
      assert.deepEqual((await due(base + 5)).sort(), [early.userId, late.userId].sort(), 'at or before');
      assert.deepEqual((await store.usersLeftBefore(base + 5, 10_000)).find((u) => u.userId === early.userId), early, 'the whole user');
      assert.equal((await store.usersLeftBefore(Date.now(), 1)).length, 1, 'at most `limit`');

      const roomId = randomUUID();
      await store.createRoom({ roomId, hostId: staying.userId, isOpen: false, createdAt: Date.now() }, [member(roomId, staying.userId)]);
      const [message] = messages(roomId, 1, 10).map((m) => ({ ...m, senderId: early.userId, nickname: early.nickname }));
      await store.appendMessages([message!]);
      await store.setDeviceToken({ userId: early.userId, deviceId: 'phone', token: `fcm-${randomUUID()}` });

      await store.deleteUser(early.userId);
      assert.equal(await store.getUser(early.userId), undefined);
      assert.equal(await store.getUserByEmail(early.email), undefined);
      assert.equal(await store.getUserByPhone(early.phoneNumber!), undefined);
      assert.deepEqual(await store.getUsers([early.userId, staying.userId]), [staying]);
      assert.deepEqual(await store.deviceTokens([early.userId]), [], 'push tokens go with the account');
      assert.deepEqual(await due(base + 5), [late.userId]);
      assert.deepEqual(await store.history(roomId, { limit: 10 }), [message], 'history is not touched');
      await store.deleteUser(early.userId);
      await store.deleteUser(randomUUID());

      const comeback = user({ email: early.email.toUpperCase(), phoneNumber: early.phoneNumber });
      await store.createUser(comeback);
      assert.equal((await store.getUserByEmail(early.email))?.userId, comeback.userId, 'the email can be registered again');
      assert.equal((await store.getUserByPhone(early.phoneNumber!))?.userId, comeback.userId, 'so can the phone number');
      await store.deleteUser(late.userId);
    });

    it('answers ping when reachable', async () => {
      await store.ping();
    });
  });
}
