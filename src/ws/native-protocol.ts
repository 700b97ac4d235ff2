import { Ajv, type ErrorObject } from 'ajv';
import type { MessageDto } from '../chat/dto.ts';
import { MESSAGE_TYPES, type RoomView } from '../chat/model.ts';

/** The native protocol (SPEC §5.1): one JSON object per text frame, each command validated by a compiled schema. */

/** A client's correlation id: a string (≤ 64 chars) or a number, echoed back exactly as it came. */
export type Ref = string | number;
const MAX_REF_LENGTH = 64;
// The bounds keep out 1e999, which JSON.parse reads as Infinity and JSON.stringify would echo as null.
const ref = { anyOf: [{ type: 'string', maxLength: MAX_REF_LENGTH }, { type: 'number', minimum: -Number.MAX_VALUE, maximum: Number.MAX_VALUE }] } as const;

/** A ref that can be echoed: an error for a frame whose ref is readable carries it, so the client waiting on it is answered. */
const readableRef = (value: unknown): value is Ref =>
  (typeof value === 'string' && value.length <= MAX_REF_LENGTH) || (typeof value === 'number' && Number.isFinite(value));
const roomId = { type: 'string', pattern: '^[0-9]{1,19}$' } as const;
const messageId = roomId;

const command = (type: string, properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object',
  additionalProperties: false,
  required: ['type', ...required],
  properties: { type: { const: type }, ref, ...properties },
});

const SCHEMAS = {
  join: command('join', { roomId, since: messageId }, ['roomId']),
  leave: command('leave', { roomId }, ['roomId']),
  send: command('send', {
    roomId,
    clientMsgId: { type: 'string', minLength: 1, maxLength: 64 },
    messageType: { enum: MESSAGE_TYPES.filter((t) => t === 'TALK' || t === 'FILE') },
    contents: { type: 'string' },
    fileUrl: { type: 'string', format: 'uri', maxLength: 2048 },
  }, ['roomId', 'clientMsgId', 'messageType', 'contents']),
  typing: command('typing', { roomId }, ['roomId']),
  read: command('read', { roomId, messageId }, ['roomId', 'messageId']),
  ping: command('ping', {}),
} as const;

export type ClientCommand =
  | { type: 'join'; ref?: Ref; roomId: string; since?: string }
  | { type: 'leave'; ref?: Ref; roomId: string }
  | { type: 'send'; ref?: Ref; roomId: string; clientMsgId: string; messageType: 'TALK' | 'FILE'; contents: string; fileUrl?: string }
  | { type: 'typing'; ref?: Ref; roomId: string }
  | { type: 'read'; ref?: Ref; roomId: string; messageId: string }
  | { type: 'ping'; ref?: Ref };

export type CommandType = ClientCommand['type'];

const ajv = new Ajv({ allErrors: false, strict: true });
ajv.addFormat('uri', /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s]+$/);
const validators = Object.fromEntries(Object.entries(SCHEMAS).map(([type, schema]) => [type, ajv.compile(schema)]));

export interface ProtocolError {
  code: 'bad_json' | 'bad_frame' | 'unknown_type';
  message: string;
  ref?: Ref;
}

function explain(error: ErrorObject | undefined): string {
  if (!error) return 'invalid frame';
  const field = error.instancePath.slice(1).replaceAll('/', '.');
  if (field === 'ref') return `ref must be a string of at most ${MAX_REF_LENGTH} characters or a number`;
  if (error.keyword === 'additionalProperties') {
    return `unknown field "${(error.params as { additionalProperty: string }).additionalProperty}"`;
  }
  if (error.keyword === 'required') return `missing field "${(error.params as { missingProperty: string }).missingProperty}"`;
  return `${field || 'frame'} ${error.message ?? 'is invalid'}`;
}

/** Parses and validates one text frame; never throws. */
export function parseCommand(text: string): { command: ClientCommand } | { error: ProtocolError } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: { code: 'bad_json', message: 'a frame must be one JSON object' } };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { error: { code: 'bad_json', message: 'a frame must be one JSON object' } };
  }
  const frame = value as { type?: unknown; ref?: unknown };
  const echo = readableRef(frame.ref) ? { ref: frame.ref } : {};
  const validate = typeof frame.type === 'string' && Object.hasOwn(validators, frame.type) ? validators[frame.type] : undefined;
  if (!validate) {
    return { error: { code: 'unknown_type', message: `unknown frame type ${JSON.stringify(frame.type) ?? 'undefined'}`, ...echo } };
  }
  if (!validate(value)) return { error: { code: 'bad_frame', message: explain(validate.errors?.[0]), ...echo } };
  return { command: value as ClientCommand };
}

/** Frames the server sends. */
export type ServerFrame =
  /** `myId`: the id that names me in this room's frames (my user id; in an open room my id there). */
  | { type: 'joined'; ref?: Ref; roomId: string; myId: string; present: string[]; missed: MessageDto[]; recovered: boolean }
  | { type: 'left'; ref?: Ref; roomId: string }
  | { type: 'ack'; ref?: Ref; clientMsgId: string; messageId: string; createdAt: string }
  | { type: 'pong'; ref?: Ref }
  | { type: 'message'; roomId: string; message: MessageDto }
  | { type: 'typing'; roomId: string; userId: string }
  | { type: 'read'; roomId: string; userId: string; messageId: string }
  | { type: 'presence'; roomId: string; event: 'enter' | 'exit'; userId: string }
  | { type: 'room'; event: 'added' | 'removed' | 'updated'; room: RoomView | { roomId: string } }
  | { type: 'error'; ref?: Ref; code: string; message: string };

export const CLOSE = {
  tokenInvalid: 4001,
  revoked: 4003,
  rateLimited: 4008,
  draining: 4200,
  tooLarge: 1009,
  internal: 1011,
} as const;
