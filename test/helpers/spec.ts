import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { expect } from 'vitest';
import { loadSpec } from '../../src/http/spec.ts';

const ajv = new (Ajv2020 as unknown as typeof Ajv2020.default)({ strict: false, allErrors: true });
(addFormats as unknown as typeof addFormats.default)(ajv);
const { doc } = loadSpec();
ajv.addSchema(doc as object, 'spec');

function pointer(...parts: string[]): string {
  return parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

/**
 * Asserts that a body matches the spec's response schema for (method, path, status),
 * following a `$ref` to a shared response. Used for error bodies too, which bypass
 * the server's own response validation.
 */
export function expectMatchesSpec(method: string, path: string, status: number, body: unknown, mediaType = 'application/json'): void {
  const op = (doc.paths[path] as Record<string, { responses: Record<string, { $ref?: string }> }> | undefined)?.[method.toLowerCase()];
  expect(op, `${method} ${path} is in the spec`).toBeDefined();
  const response = op!.responses[String(status)];
  expect(response, `${method} ${path} declares ${status}`).toBeDefined();
  const ref = response!.$ref
    ? `spec${response!.$ref}/content/${pointer(mediaType)}/schema`
    : `spec#/${pointer('paths', path, method.toLowerCase(), 'responses', String(status), 'content', mediaType, 'schema')}`;
  const validate = ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
  const ok = validate(body);
  expect(ok, `${method} ${path} ${status} body matches the spec: ${ajv.errorsText(validate.errors)}`).toBe(true);
}

/** Validates a body against the spec's ErrorBody schema; returns the problems, or null. */
export function errorBodyProblems(body: unknown): string | null {
  const validate = ajv.getSchema('spec#/components/schemas/ErrorBody') ?? ajv.compile({ $ref: 'spec#/components/schemas/ErrorBody' });
  return validate(body) ? null : ajv.errorsText(validate.errors);
}
