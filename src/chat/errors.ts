/** A failure the client caused or may see, with the HTTP status and a stable code for sockets. */
export class ChatError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'ChatError';
  }
}

export const badRequest = (message: string, code = 'bad_request'): ChatError => new ChatError(400, code, message);
export const unauthorized = (message: string, code = 'unauthorized'): ChatError => new ChatError(401, code, message);
export const forbidden = (message: string, code = 'forbidden'): ChatError => new ChatError(403, code, message);
export const notFound = (message: string, code = 'not_found'): ChatError => new ChatError(404, code, message);
export const conflict = (message: string, code = 'conflict'): ChatError => new ChatError(409, code, message);
