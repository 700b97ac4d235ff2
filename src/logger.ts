import pino, { type Logger } from 'pino';
import type { Config } from './config/schema.ts';

/** pino JSON logs; human-readable in a terminal (or when LOG_PRETTY says so). */
export function createLogger(config: Pick<Config, 'logLevel' | 'logPretty'>): Logger {
  const pretty = config.logPretty ?? Boolean(process.stdout.isTTY);
  return pino({
    level: config.logLevel,
    base: { pid: process.pid },
    redact: ['*.password', '*.accessToken', '*.refreshToken', '*.authorization'],
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}
