import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SnowflakeGenerator } from '../../src/chat/snowflake.ts';
import type { FeedItem, Friend, OpenProfile, Profile, StoredFile } from '../../src/people/model.ts';
import { CodeTakenError, type PeopleStore } from '../../src/infra/ports/people.ts';

let clock = Date.now();
const ids = new SnowflakeGenerator(9, () => clock++);
const id = (): string => ids.next();

function profile(userId: string, overrides: Partial<Profile> = {}): Profile {
  return {
    profileId: id(), userId, isDefault: false, nickname: `nick-${randomUUID().slice(0, 6)}`, description: '', imageUrl: null,
    backgroundUrl: null, stickers: [], createdAt: Date.now(), ...overrides,
  };
}

function friend(userId: string, friendId: string, overrides: Partial<Friend> = {}): Friend {
  return { userId, friendId, marked: false, hidden: false, blocked: false, assignedProfileId: null, createdAt: Date.now(), ...overrides };
}

function file(uploaderId: string, roomId: string | null, overrides: Partial<StoredFile> = {}): StoredFile {
  return { fileId: id(), uploaderId, roomId, title: 'photo.png', extension: 'png', size: 10, contentType: 'image/png', createdAt: Date.now(), ...overrides };
}

/** One suite for every PeopleStore driver: `makeStore` opens a fresh (empty or uniquely keyed) store. */
export function peopleConformance(driver: string, makeStore: () => Promise<PeopleStore>): void {
  describe(`PeopleStore conformance: ${driver}`, { timeout: 120_000 }, () => {
    let store: PeopleStore;
    before(async () => {
      store = await makeStore();
    });
    after(async () => store?.close());

    it('keeps profiles per user, oldest first, with stickers, and finds each user\'s default', async () => {
      const ann = randomUUID();
      const bob = randomUUID();
      const main = profile(ann, { isDefault: true, nickname: 'Ann', stickers: [{ stickerId: 's1', x: 0.5, y: 12 }] });
      const work = profile(ann, { nickname: 'Ann at work', description: 'd'.repeat(60), imageUrl: 'https://i/1', backgroundUrl: 'https://b/1' });
      const bobs = profile(bob, { isDefault: true, nickname: 'Bob' });
      for (const p of [main, work, bobs]) await store.putProfile(p);
      assert.deepEqual(await store.getProfile(main.profileId), main);
      assert.deepEqual(await store.profilesOf(ann), [main, work]);
      assert.deepEqual(await store.defaultProfiles([bob, randomUUID(), ann]), [bobs, main]);
      assert.equal(await store.getProfile(id()), undefined);
    });

    it('patches only the fields set, and deleting a profile deletes its feed', async () => {
      const user = randomUUID();
      const p = profile(user, { nickname: 'before', description: 'keep' });
      await store.putProfile(p);
      await store.updateProfile(p.profileId, { nickname: 'after', imageUrl: 'https://i/2', stickers: [{ stickerId: 'x', x: 1, y: 2 }], description: undefined });
      assert.deepEqual(await store.getProfile(p.profileId), { ...p, nickname: 'after', imageUrl: 'https://i/2', stickers: [{ stickerId: 'x', x: 1, y: 2 }] });
      await store.updateProfile(p.profileId, { imageUrl: null });
      assert.equal((await store.getProfile(p.profileId))!.imageUrl, null);

      const items: FeedItem[] = [1, 2, 3].map((n) => ({ feedId: id(), profileId: p.profileId, userId: user, imageUrl: `https://i/${n}`, locked: false, createdAt: Date.now() }));
      for (const item of items) await store.addFeedItem(item);
      assert.deepEqual(await store.feedOf(p.profileId), [...items].reverse(), 'newest first');
      await store.setFeedLock(items[1]!.feedId, true);
      assert.deepEqual(await store.getFeedItem(items[1]!.feedId), { ...items[1]!, locked: true });
      await store.deleteProfile(p.profileId);
      assert.equal(await store.getProfile(p.profileId), undefined);
      assert.deepEqual(await store.feedOf(p.profileId), []);
      assert.equal(await store.getFeedItem(items[0]!.feedId), undefined);
    });

    it('adds friends idempotently: a friend added again keeps its flags', async () => {
      const me = randomUUID();
      const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
      const added = await store.addFriends([friend(me, a), friend(me, b)]);
      assert.deepEqual(added.map((f) => f.friendId).sort(), [a, b].sort());
      await store.updateFriend(me, a, { marked: true, blocked: true, assignedProfileId: 'p1' });
      const again = await store.addFriends([friend(me, a), friend(me, c)]);
      assert.deepEqual(again.map((f) => f.friendId), [c]);
      const friendA = await store.getFriend(me, a);
      assert.equal(friendA!.marked, true);
      assert.equal(friendA!.blocked, true);
      assert.equal(friendA!.hidden, false);
      assert.equal(friendA!.assignedProfileId, 'p1');
      assert.deepEqual((await store.friendsOf(me)).map((f) => f.friendId).sort(), [a, b, c].sort());
      assert.equal(await store.getFriend(a, me), undefined, 'friendship has a direction');
      await store.updateFriend(me, a, { assignedProfileId: null, hidden: true });
      assert.deepEqual(await store.getFriend(me, a), { ...friendA!, assignedProfileId: null, hidden: true });
      await store.removeFriend(me, b);
      assert.deepEqual((await store.friendsOf(me)).map((f) => f.friendId).sort(), [a, c].sort());
      assert.deepEqual(await store.friendsOf(randomUUID()), []);
    });

    it('takes purged users out of every friend list, leaving other friends alone', async () => {
      const [ann, bob, cat, gone1, gone2] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      await store.addFriends([friend(ann, gone1), friend(ann, bob), friend(bob, gone1), friend(bob, gone2), friend(cat, ann), friend(gone1, ann)]);
      await store.removeFromAllFriends([gone1, gone2]);
      assert.deepEqual((await store.friendsOf(ann)).map((f) => f.friendId), [bob]);
      assert.deepEqual(await store.friendsOf(bob), []);
      assert.deepEqual((await store.friendsOf(cat)).map((f) => f.friendId), [ann]);
      assert.deepEqual((await store.friendsOf(gone1)).map((f) => f.friendId), [ann], 'their own list is the purge\'s to remove');
      await store.removeFromAllFriends([]);
    });

    it('keeps open profiles per user', async () => {
      const user = randomUUID();
      const one: OpenProfile = { openProfileId: id(), userId: user, nickname: 'anon', description: '', imageUrl: null, createdAt: Date.now() };
      const two: OpenProfile = { ...one, openProfileId: id(), nickname: 'masked', imageUrl: 'https://i/m' };
      await store.putOpenProfile(one);
      await store.putOpenProfile(two);
      assert.deepEqual(await store.openProfilesOf(user), [one, two]);
      await store.updateOpenProfile(one.openProfileId, { nickname: 'renamed', description: 'hi' });
      assert.deepEqual(await store.getOpenProfile(one.openProfileId), { ...one, nickname: 'renamed', description: 'hi' });
      await store.deleteOpenProfile(two.openProfileId);
      assert.deepEqual((await store.openProfilesOf(user)).map((p) => p.openProfileId), [one.openProfileId]);
    });

    it('finds open rooms by code and by title, and refuses a taken code', async () => {
      const tag = randomUUID().slice(0, 8);
      const first = { roomId: id(), code: `c${tag}1`, title: `Hiking ${tag} club`, createdAt: 1_000 };
      const second = { roomId: id(), code: `c${tag}2`, title: `hiking ${tag.toUpperCase()} weekend`, createdAt: 2_000 };
      await store.createOpenRoom(first);
      await store.createOpenRoom(second);
      assert.deepEqual(await store.openRoomByCode(first.code), first);
      assert.deepEqual(await store.openRoom(second.roomId), second);
      assert.equal(await store.openRoomByCode(`c${tag}9`), undefined);
      assert.deepEqual(await store.searchOpenRooms(`HIKING ${tag}`, 10), [second, first], 'case-insensitive, newest first');
      assert.deepEqual(await store.searchOpenRooms(`${tag} club`, 10), [first]);
      assert.deepEqual(await store.searchOpenRooms(`hiking ${tag}`, 1), [second]);
      await assert.rejects(store.createOpenRoom({ ...first, roomId: id() }), CodeTakenError);
    });

    it('keeps the alias each member shows in an open room', async () => {
      const roomId = id();
      await store.setRoomAlias({ roomId, userId: 'u1', openProfileId: 'o1' });
      await store.setRoomAlias({ roomId, userId: 'u2', openProfileId: 'o2' });
      await store.setRoomAlias({ roomId, userId: 'u1', openProfileId: 'o3' });
      const aliases = (await store.roomAliases(roomId)).sort((a, b) => a.userId.localeCompare(b.userId));
      assert.deepEqual(aliases, [{ roomId, userId: 'u1', openProfileId: 'o3' }, { roomId, userId: 'u2', openProfileId: 'o2' }]);
      assert.deepEqual(await store.roomAliases(id()), []);
    });

    it('keeps file metadata and lists a room\'s files newest first', async () => {
      const roomId = id();
      const files = Array.from({ length: 7 }, (_, i) => file('u1', roomId, { title: `f${i}.png`, size: 1000 + i }));
      for (const f of files) await store.putFile(f);
      const loose = file('u1', null, { contentType: 'application/pdf', extension: 'pdf', title: 'doc.pdf' });
      await store.putFile(loose);
      assert.deepEqual(await store.getFile(loose.fileId), loose);
      assert.deepEqual(await store.filesOfRoom(roomId, 5), files.slice(2).reverse());
      await store.deleteFile(files[6]!.fileId);
      assert.equal(await store.getFile(files[6]!.fileId), undefined);
      assert.deepEqual((await store.filesOfRoom(roomId, 100)).map((f) => f.fileId), files.slice(0, 6).reverse().map((f) => f.fileId));
    });
  });
}
