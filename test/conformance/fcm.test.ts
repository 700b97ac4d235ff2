import { startFakeFcm } from '../support/fake-fcm.ts';
import { FcmPusher } from '../../src/infra/fcm/pusher.ts';
import { pushConformance } from './push.ts';

pushConformance('fcm (firebase-admin against a local FCM fake)', async () => {
  const fake = await startFakeFcm();
  const pusher = new FcmPusher({ serviceAccountPath: fake.serviceAccountPath, httpAgent: fake.agent });
  return {
    pusher,
    markUnregistered: (token) => fake.markUnregistered(token),
    // A data message: title and body travel inside `data`, beside the notification's own fields.
    delivered: () => fake.delivered.map(({ token, data: { title = '', body = '', ...data } }) => ({ token, title, body, data })),
    close: async () => {
      await pusher.close();
      await fake.close();
    },
  };
});
