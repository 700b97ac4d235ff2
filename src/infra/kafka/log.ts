import kafkajs, { type LogEntry, type logCreator, type logLevel as KafkaLogLevel } from 'kafkajs';
import type { Logger } from 'pino';

const { logLevel } = kafkajs;

/**
 * Messages kafkajs logs as errors, warnings or info although they are expected in normal operation
 * and handled: a coordinator still loading after a start or a broker restart, a rebalance that makes
 * a member re-join, a topic another node created first, the pause and resume the bus does on every
 * join. They go to debug so that they do not drown real trouble.
 */
const ROUTINE = [
  /group coordinator is not available/i,
  /coordinator is loading/i,
  /group is rebalancing/i,
  /not aware of this member/i,
  /topic with this name already exists/i,
  // The bus reports the outcome of creating the topic itself (created, found, or the error thrown).
  /^response createtopics/i,
  /^(pausing|resuming) fetching from/i,
  /^consumer not running, exiting/i,
];

const isRoutine = (entry: LogEntry): boolean => {
  const { message, error } = entry.log;
  return ROUTINE.some((pattern) => pattern.test(message) || (typeof error === 'string' && pattern.test(error)));
};

/** The kafkajs level that lets through what `logger` would print, so kafkajs does not build entries pino drops. */
export function kafkaLogLevel(logger: Logger): KafkaLogLevel {
  if (logger.isLevelEnabled('debug')) return logLevel.DEBUG;
  if (logger.isLevelEnabled('info')) return logLevel.INFO;
  if (logger.isLevelEnabled('warn')) return logLevel.WARN;
  if (logger.isLevelEnabled('error')) return logLevel.ERROR;
  return logLevel.NOTHING;
}

/** Routes kafkajs's logging into pino (kafkajs would otherwise print JSON lines to the console). */
export function pinoLogCreator(logger: Logger): logCreator {
  const base = logger.child({ component: 'kafkajs' });
  return () => (entry) => {
    // kafkajs puts its own timestamp, logger name and message into `log`; pino has its own.
    const { message, timestamp: _timestamp, logger: _logger, ...fields } = entry.log;
    const text = entry.namespace ? `${entry.namespace}: ${message}` : message;
    if (isRoutine(entry)) return base.debug(fields, text);
    switch (entry.level) {
      case logLevel.ERROR:
        return base.error(fields, text);
      case logLevel.WARN:
        return base.warn(fields, text);
      case logLevel.INFO:
        return base.info(fields, text);
      default:
        return base.debug(fields, text);
    }
  };
}
