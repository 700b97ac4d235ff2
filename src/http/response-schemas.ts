/** Response schemas: the envelope around each route's data, plus the error envelope every route may answer with. */

export const nullable = (schema: Record<string, unknown>) => ({ anyOf: [schema, { type: 'null' }] });
export const isoTime = { type: 'string', format: 'date-time' } as const;

export const errorEnvelope = {
  description: 'Refused: bad input (400), token (401), not allowed (403), unknown (404), taken (409), too large (413), too many (429)',
  type: 'object', required: ['status', 'message', 'data'],
  properties: {
    status: { type: 'integer' }, message: { type: 'string' },
    data: { type: 'object', required: ['code'], properties: { code: { type: 'string' } }, additionalProperties: true },
  },
} as const;

/** `{ [status]: envelope(data) , 4xx: error }` for a route's `schema.response`. */
export function replies(status: 200 | 201, description: string, data: Record<string, unknown>) {
  return {
    [status]: {
      description, type: 'object', required: ['status', 'message', 'data'],
      properties: { status: { type: 'integer' }, message: { type: 'string' }, data },
    },
    '4xx': errorEnvelope,
  };
}

export const object = (properties: Record<string, unknown>, required = Object.keys(properties)) => ({
  type: 'object', required, properties,
}) as const;

export const arrayOf = (items: Record<string, unknown>) => ({ type: 'array', items }) as const;
