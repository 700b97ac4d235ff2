import type { FastifyReply } from 'fastify';

/** FlameTalk's response envelope; `status` repeats the real HTTP status code. */
export interface Envelope<T> {
  status: number;
  message: string;
  data: T;
}

export function send<T>(reply: FastifyReply, status: number, message: string, data: T): FastifyReply {
  const body: Envelope<T> = { status, message, data };
  return reply.code(status).send(body);
}

export const ok = <T>(reply: FastifyReply, message: string, data: T): FastifyReply => send(reply, 200, message, data);
