import pino, { type Logger } from 'pino';
import type { Config } from './config/schema.ts';

/** An access token in a URL query, wherever a line quotes one (a library's message about a request). */
const TOKEN_IN_URL = /(access(?:_|%5f)token=)[^&"\s\\#]+/gi;

/** pino JSON logs; human-readable in a terminal (or when LOG_PRETTY says so). */
export function createLogger(config: Pick<Config, 'logLevel' | 'logPretty'>): Logger {
  const pretty = config.logPretty ?? Boolean(process.stdout.isTTY);
  return pino({
    level: config.logLevel,
    base: { pid: process.pid },
    redact: ['*.password', '*.accessToken', '*.refreshToken', '*.authorization'],
    // The last guard: the places that log URLs drop the token themselves (withoutAccessToken).
    hooks: { streamWrite: (line) => (line.includes('token=') ? line.replace(TOKEN_IN_URL, '$1redacted') : line) },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  });
}
