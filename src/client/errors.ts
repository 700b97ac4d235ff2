/** Codes the SDK raises itself; any other code comes from the server (`bad_credentials`, `not_member`, …). */
export type ClientErrorCode =
  | 'bad_options'
  | 'network'
  | 'bad_response'
  | 'timeout'
  | 'disconnected'
  | 'closed'
  | 'not_signed_in'
  | 'signed_out'
  | 'not_joined'
  | 'no_websocket';

export type FlametalkErrorCode = ClientErrorCode | (string & {});

/** Every failure the SDK reports: a stable `code` to branch on and, for HTTP answers, the `status`. */
export class FlametalkError extends Error {
  constructor(
    readonly code: FlametalkErrorCode,
    message: string,
    /** The HTTP status when the server answered over HTTP (0 when it could not be reached). */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FlametalkError';
  }
}

export const isFlametalkError = (error: unknown, code?: FlametalkErrorCode): error is FlametalkError =>
  error instanceof FlametalkError && (code === undefined || error.code === code);

/** Codes that mean "this connection or attempt failed, try again", as opposed to the server refusing the request. */
const CONNECTION_FAILURES = new Set<string>(['disconnected', 'timeout', 'network', 'bad_response', 'unavailable']);

/** The server refused the request itself (not a member, bad input, …): retrying will not help. */
export const isRefusal = (error: unknown): error is FlametalkError => error instanceof FlametalkError && !CONNECTION_FAILURES.has(error.code);
