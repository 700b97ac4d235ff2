import type { FastifyInstance } from 'fastify';
import { requireAuth } from '../authentication.ts';
import { ChatError } from '../../chat/errors.ts';
import type { HttpDeps } from '../deps.ts';
import type { AbuseLimits } from '../limits/abuse-limits.ts';
import { ok, send } from '../envelope.ts';
import { body, deviceId, email, password } from '../schemas.ts';

interface SignUpBody { email: string; password: string; nickname: string; phoneNumber?: string; birthday?: string; deviceId: string }
interface SignInBody { email: string; password: string; deviceId: string }

export async function authRoutes(app: FastifyInstance, deps: HttpDeps & { limits: AbuseLimits }): Promise<void> {
  const { accounts, limits } = deps;

  app.post<{ Body: SignUpBody }>('/api/auth/signup', {
    config: { rateLimit: limits.signUp },
    schema: {
      body: body({
        email, password, deviceId,
        nickname: { type: 'string', minLength: 1, maxLength: 40 },
        phoneNumber: { type: 'string', pattern: '^[0-9+\\- ]{4,20}$' },
        birthday: { type: 'string', format: 'date' },
      }, ['email', 'password', 'nickname', 'deviceId']),
    },
  }, async (request, reply) => send(reply, 201, 'signed up', await accounts.signUp(request.body)));

  app.post<{ Body: SignInBody }>('/api/auth/signin', {
    schema: { body: body({ email, password: { type: 'string', minLength: 1, maxLength: 128 }, deviceId }, ['email', 'password', 'deviceId']) },
  }, async (request, reply) => {
    const { email: address, password: secret, deviceId: device } = request.body;
    await limits.signIn.attempt(request, reply, address);
    let signedIn;
    try {
      signedIn = await accounts.signIn(address, secret, device);
    } catch (error) {
      // A refused password keeps its count; anything else (busy, a backend down) was not a guess.
      if (!(error instanceof ChatError && error.code === 'bad_credentials')) await limits.signIn.undecided(request, address).catch(() => undefined);
      throw error;
    }
    await limits.signIn.succeeded(request, address);
    return ok(reply, 'signed in', signedIn);
  });

  app.post<{ Body: { refreshToken: string } }>('/api/auth/token', {
    config: { rateLimit: limits.refresh },
    schema: { body: body({ refreshToken: { type: 'string', minLength: 1, maxLength: 512 } }, ['refreshToken']) },
  }, async (request, reply) => ok(reply, 'tokens refreshed', await accounts.refresh(request.body.refreshToken)));

  // FlameTalk's original refresh: the tokens come in headers.
  app.get<{ Headers: { 'refresh-token': string } }>('/api/auth/token', {
    config: { rateLimit: limits.refresh },
    schema: {
      headers: { type: 'object', required: ['refresh-token'], properties: { 'refresh-token': { type: 'string', minLength: 1, maxLength: 512 } } },
    },
  }, async (request, reply) => ok(reply, 'tokens refreshed', await accounts.refresh(request.headers['refresh-token'])));

  app.get<{ Querystring: { email: string } }>('/api/auth/check', {
    schema: { querystring: { type: 'object', required: ['email'], additionalProperties: false, properties: { email } } },
  }, async (request, reply) => {
    const available = await accounts.isEmailAvailable(request.query.email);
    return ok(reply, available ? 'email is available' : 'email is already registered', { available });
  });

  await app.register(async (signedIn) => {
    requireAuth(signedIn, deps.authenticate);

    signedIn.post('/api/auth/signout', async (request, reply) => {
      const { sessionId } = request.identity;
      if (sessionId) await accounts.signOut(sessionId);
      return ok(reply, 'signed out', null);
    });

    signedIn.delete('/api/auth/leave', async (request, reply) => {
      await accounts.leave(request.identity.userId);
      return ok(reply, 'account left: signing in within 30 days restores it', null);
    });
  });
}
