import { ConfigError } from './config/load.ts';
import { createChatServer } from './server.ts';

/** `npm start`: settings from the environment, embedded mode when no backend is configured. */
try {
  const server = createChatServer({ env: process.env, handleSignals: true });
  await server.start();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`flametalk: ${error.message}\n`);
  } else {
    process.stderr.write(`flametalk: could not start: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  }
  process.exit(1);
}
