/** Shared pieces of route schemas. */

export const snowflakeId = { type: 'string', pattern: '^[0-9]{1,19}$' } as const;
export const userId = { type: 'string', minLength: 1, maxLength: 128 } as const;
export const deviceId = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[^\\s]+$' } as const;
export const email = { type: 'string', format: 'email', maxLength: 254 } as const;
export const password = { type: 'string', minLength: 8, maxLength: 128 } as const;

export const roomParams = (name: string) => ({
  type: 'object', required: [name], additionalProperties: false, properties: { [name]: snowflakeId },
}) as const;

/** Bodies reject unknown fields so that a typo is a 400, not silently ignored. */
export const body = (properties: Record<string, unknown>, required: string[] = []) => ({
  type: 'object', additionalProperties: false, required, properties,
}) as const;
