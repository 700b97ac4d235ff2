import type { FastifyInstance } from 'fastify';
import { requireAuth } from '../authentication.ts';
import type { HttpDeps } from '../deps.ts';
import { ok, send } from '../envelope.ts';
import { body, deviceId, email, password } from '../schemas.ts';

interface SignUpBody { email: string; password: string; nickname: string; phoneNumber?: string; birthday?: string; deviceId: string }
interface SignInBody { email: string; password: string; deviceId: string }

export async function authRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const { accounts } = deps;

  app.post<{ Body: SignUpBody }>('/api/auth/signup', {
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
    return ok(reply, 'signed in', await accounts.signIn(address, secret, device));
  });

  app.post<{ Body: { refreshToken: string } }>('/api/auth/token', {
    schema: { body: body({ refreshToken: { type: 'string', minLength: 1, maxLength: 512 } }, ['refreshToken']) },
  }, async (request, reply) => ok(reply, 'tokens refreshed', await accounts.refresh(request.body.refreshToken)));

  // FlameTalk's original refresh: the tokens come in headers.
  app.get<{ Headers: { 'refresh-token': string } }>('/api/auth/token', {
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
