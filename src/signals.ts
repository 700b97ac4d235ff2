import type { Logger } from 'pino';

/** For `npm start` only (embedding hosts own their process): SIGTERM/SIGINT stop gracefully, then exit within the bound. */
export function installSignalHandlers(server: { stop(): Promise<void> }, logger: Logger, boundMs: number): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'shutting down');
    // The bound holds even if a backend hangs during the graceful part.
    setTimeout(() => {
      logger.error('graceful shutdown took too long, exiting');
      process.exit(1);
    }, boundMs).unref();
    server.stop().then(() => process.exit(0), (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
