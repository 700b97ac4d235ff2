import { startFakeFcm } from '../../src/infra/fcm/fake-server.ts';
import { FcmPusher } from '../../src/infra/fcm/pusher.ts';
import { pushConformance } from './push.ts';

pushConformance('fcm (firebase-admin against a local FCM fake)', async () => {
  const fake = await startFakeFcm();
  const pusher = new FcmPusher({ serviceAccountPath: fake.serviceAccountPath, httpAgent: fake.agent });
  return {
    pusher,
    markUnregistered: (token) => fake.markUnregistered(token),
    delivered: () => fake.delivered.map(({ token, title, body, data }) => ({ token, title: title ?? '', body: body ?? '', data })),
    close: async () => {
      await pusher.close();
      await fake.close();
    },
  };
});
