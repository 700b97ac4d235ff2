import type { FastifyInstance } from 'fastify';
import { iso } from '../../chat/dto.ts';
import type { FeedItem, OpenProfile, Profile } from '../../people/model.ts';
import { FRIEND_FILTERS, MAX_SYNC_NUMBERS, publicProfile, type FriendFilter, type FriendView, type PeopleService, type PublicProfile } from '../../people/people.ts';
import { PHONE_PATTERN } from '../../people/phone.ts';
import { requireAuth } from '../authentication.ts';
import type { HttpDeps } from '../deps.ts';
import { ok, send } from '../envelope.ts';
import { arrayOf, isoTime, nullable, object, replies } from '../response-schemas.ts';
import { body, email, snowflakeId, userId } from '../schemas.ts';

const phoneNumber = { type: 'string', pattern: PHONE_PATTERN } as const;
const url = { type: 'string', minLength: 1, maxLength: 2048 } as const;
const nickname = { type: 'string', minLength: 1, maxLength: 40 } as const;
const description = { type: 'string', maxLength: 60 } as const;
const sticker = { type: 'object', additionalProperties: false, required: ['stickerId', 'x', 'y'],
  properties: { stickerId: { type: 'string', minLength: 1, maxLength: 64 }, x: { type: 'number' }, y: { type: 'number' } } } as const;
const stickers = { type: 'array', items: sticker, maxItems: 20 } as const;
const idParams = (name: string) => ({ type: 'object', required: [name], additionalProperties: false, properties: { [name]: snowflakeId } }) as const;

const publicProfileSchema = object({
  profileId: { type: 'string' }, isDefault: { type: 'boolean' }, nickname: { type: 'string' }, description: { type: 'string' },
  imageUrl: nullable({ type: 'string' }), backgroundUrl: nullable({ type: 'string' }), stickers: arrayOf(object({ stickerId: { type: 'string' }, x: { type: 'number' }, y: { type: 'number' } })),
});
const profileSchema = object({ ...publicProfileSchema.properties, userId: { type: 'string' }, createdAt: isoTime });
const friendSchema = object({
  userId: { type: 'string' }, nickname: { type: 'string' }, birthday: nullable({ type: 'string' }), marked: { type: 'boolean' },
  hidden: { type: 'boolean' }, blocked: { type: 'boolean' }, assignedProfileId: nullable({ type: 'string' }), profile: nullable(publicProfileSchema),
  createdAt: isoTime,
});
const feedSchema = object({ feedId: { type: 'string' }, profileId: { type: 'string' }, imageUrl: { type: 'string' }, locked: { type: 'boolean' }, createdAt: isoTime });
const openProfileSchema = object({
  openProfileId: { type: 'string' }, nickname: { type: 'string' }, description: { type: 'string' }, imageUrl: nullable({ type: 'string' }), createdAt: isoTime,
});

const profileDto = (p: Profile) => ({ ...publicProfile(p), userId: p.userId, createdAt: iso(p.createdAt) });
const friendDto = (f: FriendView) => ({ ...f, createdAt: iso(f.createdAt) });
const feedDto = (f: FeedItem) => ({ feedId: f.feedId, profileId: f.profileId, imageUrl: f.imageUrl, locked: f.locked, createdAt: iso(f.createdAt) });
const openProfileDto = (p: OpenProfile) => ({ openProfileId: p.openProfileId, nickname: p.nickname, description: p.description, imageUrl: p.imageUrl, createdAt: iso(p.createdAt) });

interface ProfileBody { nickname: string; description?: string; imageUrl?: string | null; backgroundUrl?: string | null; stickers?: PublicProfile['stickers'] }

/** FlameTalk's membership service: user search, friends and contact sync, profiles and feeds, open profiles. */
export async function peopleRoutes(app: FastifyInstance, deps: HttpDeps & { people: PeopleService }): Promise<void> {
  const { people } = deps;
  requireAuth(app, deps.authenticate);

  app.get<{ Querystring: { phoneNumber?: string; email?: string } }>('/api/users/search', {
    // Counted per signed-in user after authentication, so that one account cannot walk the phone book.
    config: {
      rateLimit: {
        max: deps.config.userSearchesPerWindow, timeWindow: deps.config.userSearchWindowSeconds * 1000, hook: 'preHandler',
        keyGenerator: (request) => `usersearch:${request.identity.userId}`,
      },
    },
    schema: {
      summary: 'Find a user by exact phone number or email (rate-limited per caller)',
      querystring: {
        type: 'object', additionalProperties: false, properties: { phoneNumber, email },
        oneOf: [{ required: ['phoneNumber'] }, { required: ['email'] }],
      },
      response: replies(200, 'The user and their default profile', object({ userId: { type: 'string' }, nickname: { type: 'string' }, profile: nullable(publicProfileSchema) })),
    },
  }, async (request, reply) => ok(reply, 'user found', await people.search(request.query)));

  // ---- friends ----

  app.post<{ Body: { phoneNumbers?: string[]; phoneNumber?: string } }>('/api/membership/friend', {
    schema: {
      summary: 'Contact sync ({phoneNumbers[]}, at most 1,000) or add one friend by phone ({phoneNumber})',
      body: {
        ...body({ phoneNumbers: { type: 'array', items: phoneNumber, maxItems: MAX_SYNC_NUMBERS }, phoneNumber }),
        oneOf: [{ required: ['phoneNumbers'] }, { required: ['phoneNumber'] }],
      },
      response: replies(200, 'The friends found: every registered user among the numbers', object({ friends: arrayOf(friendSchema) })),
    },
  }, async (request, reply) => {
    const me = request.identity.userId;
    const { phoneNumbers, phoneNumber: one } = request.body;
    const friends = phoneNumbers ? await people.syncContacts(me, phoneNumbers) : [await people.addByPhone(me, one!)];
    return ok(reply, phoneNumbers ? 'contacts synced' : 'friend added', { friends: friends.map(friendDto) });
  });

  app.get<{ Querystring: { filter?: FriendFilter } }>('/api/membership/friend', {
    schema: {
      summary: 'My friends sorted by nickname (default: neither hidden nor blocked)',
      querystring: { type: 'object', additionalProperties: false, properties: { filter: { type: 'string', enum: FRIEND_FILTERS } } },
      response: replies(200, 'Friends, each with the profile they show me', object({ friends: arrayOf(friendSchema) })),
    },
  }, async (request, reply) => ok(reply, 'friends', { friends: (await people.listFriends(request.identity.userId, request.query.filter)).map(friendDto) }));

  app.put<{ Params: { userId: string }; Body: { marked?: boolean; hidden?: boolean; blocked?: boolean; assignedProfileId?: string | null } }>('/api/membership/friend/:userId', {
    schema: {
      summary: 'Mark, hide, block a friend, or choose which of my profiles they see',
      params: { type: 'object', required: ['userId'], additionalProperties: false, properties: { userId } },
      body: { ...body({ marked: { type: 'boolean' }, hidden: { type: 'boolean' }, blocked: { type: 'boolean' }, assignedProfileId: nullable(snowflakeId) }), minProperties: 1 },
      response: replies(200, 'The friend as saved', friendSchema),
    },
  }, async (request, reply) => ok(reply, 'friend saved', friendDto(await people.updateFriend(request.identity.userId, request.params.userId, request.body))));

  app.delete<{ Params: { userId: string } }>('/api/membership/friend/:userId', {
    schema: {
      summary: 'Remove a friend',
      params: { type: 'object', required: ['userId'], additionalProperties: false, properties: { userId } },
      response: replies(200, 'Removed', { type: 'null' }),
    },
  }, async (request, reply) => {
    await people.removeFriend(request.identity.userId, request.params.userId);
    return ok(reply, 'friend removed', null);
  });

  // ---- profiles ----

  const profileBody = { nickname, description, imageUrl: nullable(url), backgroundUrl: nullable(url), stickers };

  app.post<{ Body: ProfileBody }>('/api/membership/profile', {
    schema: { summary: 'Create another profile', body: body(profileBody, ['nickname']), response: replies(201, 'The new profile', profileSchema) },
  }, async (request, reply) => send(reply, 201, 'profile created', profileDto(await people.createProfile(request.identity.userId, request.body))));

  app.get('/api/membership/profile', {
    schema: { summary: 'My profiles (the default first)', response: replies(200, 'My profiles', object({ profiles: arrayOf(profileSchema) })) },
  }, async (request, reply) => ok(reply, 'my profiles', { profiles: (await people.myProfiles(request.identity.userId)).map(profileDto) }));

  app.get<{ Params: { id: string } }>('/api/membership/profile/:id', {
    schema: {
      summary: 'A profile: mine, a default one, or one assigned to me by a friend', params: idParams('id'),
      response: replies(200, 'The profile', profileSchema),
    },
  }, async (request, reply) => ok(reply, 'profile', profileDto(await people.viewProfile(request.identity.userId, request.params.id))));

  app.put<{ Params: { id: string }; Body: Partial<ProfileBody> }>('/api/membership/profile/:id', {
    schema: {
      summary: 'Change one of my profiles (a new image goes into its feed)', params: idParams('id'),
      body: { ...body(profileBody), minProperties: 1 }, response: replies(200, 'The profile as saved', profileSchema),
    },
  }, async (request, reply) => ok(reply, 'profile saved', profileDto(await people.updateProfile(request.identity.userId, request.params.id, request.body))));

  app.delete<{ Params: { id: string } }>('/api/membership/profile/:id', {
    schema: { summary: 'Delete one of my profiles (not the default)', params: idParams('id'), response: replies(200, 'Deleted', { type: 'null' }) },
  }, async (request, reply) => {
    await people.deleteProfile(request.identity.userId, request.params.id);
    return ok(reply, 'profile deleted', null);
  });

  // Both feed routes name their parameter `id` (a profile id here, a feed item id below): fastify's
  // router keeps one parameter name per path segment.
  app.get<{ Params: { id: string } }>('/api/membership/feed/:id', {
    schema: {
      summary: "A profile's past images (id: the profile id), newest first (others see the unlocked ones)", params: idParams('id'),
      response: replies(200, 'Feed items', object({ feed: arrayOf(feedSchema) })),
    },
  }, async (request, reply) => ok(reply, 'feed', { feed: (await people.feed(request.identity.userId, request.params.id)).map(feedDto) }));

  app.put<{ Params: { id: string }; Body: { locked: boolean } }>('/api/membership/feed/:id', {
    schema: {
      summary: 'Lock (private) or unlock (public) one feed item (id: the feed item id) of my profile', params: idParams('id'),
      body: body({ locked: { type: 'boolean' } }, ['locked']), response: replies(200, 'The feed item', feedSchema),
    },
  }, async (request, reply) => ok(reply, 'feed item saved', feedDto(await people.lockFeedItem(request.identity.userId, request.params.id, request.body.locked))));

  // ---- open profiles ----

  const openBody = { nickname: { type: 'string', minLength: 1, maxLength: 20 }, description, imageUrl: nullable(url) };

  app.post<{ Body: { nickname: string; description?: string; imageUrl?: string | null } }>('/api/membership/openprofile', {
    schema: { summary: 'Create an open profile (for open rooms)', body: body(openBody, ['nickname']), response: replies(201, 'The open profile', openProfileSchema) },
  }, async (request, reply) => send(reply, 201, 'open profile created', openProfileDto(await people.createOpenProfile(request.identity.userId, request.body))));

  app.get('/api/membership/openprofile', {
    schema: { summary: 'My open profiles', response: replies(200, 'My open profiles', object({ openProfiles: arrayOf(openProfileSchema) })) },
  }, async (request, reply) => ok(reply, 'my open profiles', { openProfiles: (await people.openProfiles(request.identity.userId)).map(openProfileDto) }));

  app.put<{ Params: { id: string }; Body: { nickname?: string; description?: string; imageUrl?: string | null } }>('/api/membership/openprofile/:id', {
    schema: {
      summary: 'Change one of my open profiles', params: idParams('id'), body: { ...body(openBody), minProperties: 1 },
      response: replies(200, 'The open profile as saved', openProfileSchema),
    },
  }, async (request, reply) => ok(reply, 'open profile saved', openProfileDto(await people.updateOpenProfile(request.identity.userId, request.params.id, request.body))));

  app.delete<{ Params: { id: string } }>('/api/membership/openprofile/:id', {
    schema: { summary: 'Delete one of my open profiles', params: idParams('id'), response: replies(200, 'Deleted', { type: 'null' }) },
  }, async (request, reply) => {
    await people.deleteOpenProfile(request.identity.userId, request.params.id);
    return ok(reply, 'open profile deleted', null);
  });
}
