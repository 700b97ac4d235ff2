#!/usr/bin/env node
import { ConfigError } from './config/load.ts';
import { BackendUnreachableError } from './infra/reach.ts';
import { createChatServer } from './server.ts';

/** The messages of an error and its causes, one line: what an operator reads, without driver stack traces. */
function explain(error: unknown): string {
  const parts: string[] = [];
  for (let current: unknown = error; current !== undefined && parts.length < 4; current = (current as { cause?: unknown }).cause) {
    const line = current instanceof Error ? current.message.split('\n')[0] || current.name : String(current);
    if (!parts.some((part) => part.includes(line))) parts.push(line);
    if (!(current instanceof Error)) break;
  }
  return parts.join(': ');
}

/** `npm start`: settings from the environment, embedded mode when no backend is configured. */
try {
  const server = createChatServer({ env: process.env, handleSignals: true });
  await server.start();
} catch (error) {
  if (error instanceof ConfigError || error instanceof BackendUnreachableError) {
    process.stderr.write(`flametalk: ${error.message}\n`);
  } else {
    process.stderr.write(`flametalk: could not start: ${explain(error)}\n`);
  }
  process.exit(1);
}
