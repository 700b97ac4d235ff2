import type { FastifyInstance } from 'fastify';
import { iso } from '../../chat/dto.ts';
import { requireAuth } from '../authentication.ts';
import type { HttpDeps } from '../deps.ts';
import { ok } from '../envelope.ts';
import { body, deviceId } from '../schemas.ts';

export async function deviceRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  requireAuth(app, deps.authenticate);

  app.post<{ Body: { deviceToken: string } }>('/api/device/token', {
    schema: { body: body({ deviceToken: { type: 'string', minLength: 1, maxLength: 4096 } }, ['deviceToken']) },
  }, async (request, reply) => {
    const { userId, deviceId: device } = request.identity;
    await deps.store.setDeviceToken({ userId, deviceId: device, token: request.body.deviceToken });
    return ok(reply, 'push token registered for this device', null);
  });

  app.delete('/api/device/token', async (request, reply) => {
    await deps.store.removeDeviceToken(request.identity.userId, request.identity.deviceId);
    return ok(reply, 'push token removed for this device', null);
  });

  app.get('/api/device', async (request, reply) => {
    const sessions = await deps.accounts.devices(request.identity.userId);
    return ok(reply, 'signed-in devices', sessions.map((s) => ({
      deviceId: s.deviceId, signedInAt: iso(s.createdAt), current: s.deviceId === request.identity.deviceId,
    })));
  });

  app.delete<{ Params: { deviceId: string } }>('/api/device/:deviceId', {
    schema: { params: { type: 'object', required: ['deviceId'], properties: { deviceId } } },
  }, async (request, reply) => {
    await deps.accounts.revokeDevice(request.identity.userId, request.params.deviceId);
    return ok(reply, 'device signed out', null);
  });
}
