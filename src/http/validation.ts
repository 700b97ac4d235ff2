import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

function ajv(coerceTypes: boolean): Ajv {
  const instance = new Ajv({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  addFormats.default(instance);
  return instance;
}

/**
 * Query strings, params and headers arrive as text and are coerced ("50" → 50); JSON bodies are
 * typed already, so a number where a string belongs is a 400, not silently "42".
 */
export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const text = ajv(true);
  const json = ajv(false);
  // Fastify formats the errors of a returned ajv function itself ("body/email must match ...").
  return ({ schema, httpPart }): ValidateFunction => (httpPart === 'body' ? json : text).compile(schema as object);
}
