import type { SessionIdentity } from '../actors/session.ts';
import { unauthorized } from '../chat/errors.ts';
import type { User, UserId } from '../chat/model.ts';
import type { Ports } from '../infra/drivers.ts';
import { sessionActive, type Identity } from './authenticator.ts';

/**
 * The checks of a caller that need I/O: the device session is still active (flametalk's tokens)
 * and the account exists (read through `users`, the store cache of sockets); a host's users that
 * flametalk has not seen yet are created.
 */
export function admission(ports: Ports, hostAuth: boolean, users: (userId: UserId) => Promise<User | undefined>) {
  return async (identity: Identity): Promise<SessionIdentity> => {
    await sessionActive(identity, ports.tokens);
    let user = await users(identity.userId);
    // A copy may be older than a return within the leave grace: a refusal asks the store.
    if (user && user.leftAt !== null) user = await ports.store.getUser(identity.userId);
    if (!user && hostAuth) {
      user = {
        userId: identity.userId, email: `${identity.userId}@users.host.invalid`, nickname: identity.nickname ?? identity.userId,
        passwordHash: '', phoneNumber: null, birthday: null, createdAt: Date.now(), leftAt: null,
      };
      // A concurrent first contact may have created it already; either way it exists now.
      await ports.store.createUser(user).catch(() => undefined);
    }
    if (!user || user.leftAt !== null) throw unauthorized('this account does not exist', 'token_invalid');
    return { ...identity, nickname: user.nickname };
  };
}
