import { Ajv, type ErrorObject } from 'ajv';
import { SETTINGS, jsonSchema, type Config, type SettingName } from './schema.ts';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const validate = new Ajv({ allErrors: true, useDefaults: true, strict: true }).compile(jsonSchema());

/** Environment strings become typed values where they clearly are; anything else is left for ajv to reject. */
function fromEnv(type: string, raw: string): unknown {
  if (type === 'integer') return /^-?[0-9]+$/.test(raw.trim()) ? Number(raw) : raw;
  if (type === 'boolean') {
    const word = raw.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(word)) return true;
    if (['false', '0', 'no', 'off'].includes(word)) return false;
    return raw;
  }
  if (type === 'array') return raw.split(',').map((item) => item.trim()).filter(Boolean);
  return raw;
}

function describe(error: ErrorObject, input: Record<string, unknown>): string {
  const [, name] = error.instancePath.split('/') as [string, SettingName | undefined];
  if (!name) {
    const unknown = (error.params as { additionalProperty?: string }).additionalProperty;
    return `unknown setting "${unknown ?? '?'}"`;
  }
  const setting: { env: string; type: string; secret?: boolean } = SETTINGS[name];
  const got = setting.secret ? '(hidden)' : JSON.stringify(input[name]);
  const problem = error.keyword === 'enum'
    ? `must be one of ${(error.params as { allowedValues: string[] }).allowedValues.join(', ')}`
    : `${error.message ?? 'is invalid'}${error.keyword === 'pattern' && setting.type === 'array' ? ' (each item host:port)' : ''}`;
  return `${setting.env} (${name}) ${problem}, got ${got}`;
}

/** Whether any backend address is configured, which makes this node part of a cluster. */
export function isClusterMode(config: Pick<Config, 'redisUrl' | 'kafkaBrokers' | 'cassandraContactPoints'>): boolean {
  return Boolean(config.redisUrl || config.kafkaBrokers || config.cassandraContactPoints);
}

/**
 * Reads settings from the environment, lets `overrides` (embedding code) win, applies defaults
 * and validates everything at once so that each bad value gets its own message.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const input: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS)) {
    const raw = env[setting.env];
    if (raw !== undefined && raw.trim() !== '') input[name] = fromEnv(setting.type, raw);
  }
  for (const [name, value] of Object.entries(overrides)) if (value !== undefined) input[name] = value;

  const problems = validate(input) ? [] : (validate.errors ?? []).map((error) => describe(error, input));
  const config = input as Config;
  if (problems.length === 0 && isClusterMode(config) && !config.jwtSecret) {
    problems.push('JWT_SECRET (jwtSecret) is required in cluster mode: every node must verify every other node\'s tokens');
  }
  if (problems.length === 0 && config.rateLimitBurst < config.rateLimitPerSecond) {
    problems.push('RATE_LIMIT_BURST (rateLimitBurst) must be at least RATE_LIMIT_PER_SECOND');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
