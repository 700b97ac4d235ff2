/**
 * The native WebSocket protocol as the SDK sees it. The frame types are the server's own
 * (type-only imports, erased from the emitted JavaScript), so the SDK cannot drift from what the
 * server validates; nothing here pulls server code into a browser bundle.
 */
import type { MessageDto } from '../chat/dto.ts';
import type { CLOSE as SERVER_CLOSE, ClientCommand, ServerFrame } from '../ws/native-protocol.ts';

export type { ClientCommand, MessageDto, ServerFrame };

/** Room changes pushed to a user's own sockets (SPEC §5.1); servers without them simply never send one. */
export interface RoomChangeFrame {
  type: 'room';
  event: 'added' | 'removed' | 'updated';
  room: { roomId: string } & Record<string, unknown>;
}

export type IncomingFrame = ServerFrame | RoomChangeFrame;

/** Close codes; typed against the server's table so a renumbering there breaks the SDK's build. */
export const CLOSE: typeof SERVER_CLOSE = {
  tokenInvalid: 4001,
  revoked: 4003,
  rateLimited: 4008,
  draining: 4200,
  tooLarge: 1009,
  internal: 1011,
};

/** Close codes the SDK itself uses when it gives up on a socket (3000–4999 are free for applications). */
export const CLIENT_CLOSE = {
  normal: 1000,
  heartbeatTimeout: 4900,
  replaced: 4901,
  /** A join on a live socket failed without a refusal (timeout, server busy): start over on a new one. */
  retry: 4902,
} as const;
