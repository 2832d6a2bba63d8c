import { Liquid } from 'liquidjs';
import { ApiError } from '../errors.ts';
import type { InputField } from './app-config.ts';

export type InputValue = string | number | null;
export type Inputs = Record<string, InputValue>;

type Problem = { path: string; message: string };

function check(field: InputField, value: InputValue | undefined): { value?: InputValue; problem?: string } {
  const empty = value === undefined || value === null || value === '';
  if (empty) return field.required ? { problem: 'is required' } : {};
  if (field.type === 'number') {
    // Numbers may arrive as strings (CLI `--input n=3`), so a numeric string counts.
    const n = typeof value === 'number' ? value : Number(String(value).trim());
    return Number.isFinite(n) && String(value).trim() !== '' ? { value: n } : { problem: 'must be a number' };
  }
  if (typeof value !== 'string') return { problem: 'must be a string' };
  if (value.includes('\u0000')) return { problem: 'must not contain NUL characters' };
  if (field.type === 'select' && !field.options?.includes(value)) {
    return { problem: `must be one of: ${field.options?.join(', ')}` };
  }
  if (field.max_length !== undefined && [...value].length > field.max_length) {
    return { problem: `must be at most ${field.max_length} characters` };
  }
  return { value };
}

/**
 * Checks run inputs against the app's input schema before anything runs
 * (docs/apps.md). Unknown variables are rejected so a typo is not silently ignored.
 * Returns only the declared variables, numbers coerced.
 */
export function validateInputs(schema: InputField[], raw: Record<string, unknown>): Inputs {
  const problems: Problem[] = [];
  const out: Inputs = {};
  const known = new Set(schema.map((f) => f.variable));
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) problems.push({ path: `/body/inputs/${key}`, message: `${key} is not an input of this app` });
  }
  for (const field of schema) {
    const result = check(field, raw[field.variable] as InputValue | undefined);
    if (result.problem) problems.push({ path: `/body/inputs/${field.variable}`, message: `${field.variable} ${result.problem}` });
    else if (result.value !== undefined) out[field.variable] = result.value;
  }
  if (problems.length > 0) {
    // The message names a few problems; details has them all (the renderer caps the list).
    const named = problems.slice(0, 3).map((p) => p.message).join('; ');
    const more = problems.length > 3 ? `; and ${problems.length - 3} more` : '';
    throw new ApiError(400, 'invalid_request', `Invalid inputs: ${named}${more}.`, { details: problems });
  }
  return out;
}

/** A free-text field of a run body (e.g. `query`): Postgres text cannot hold NUL, so it is refused up front. */
export function checkText(value: string | undefined, path: string): void {
  if (value?.includes('\u0000')) {
    const message = `${path.split('/').pop()} must not contain NUL characters`;
    throw new ApiError(400, 'invalid_request', `Invalid request: ${message}.`, { details: [{ path, message }] });
  }
}

const liquid = new Liquid({ strictFilters: true });

/** Renders an app template; templates were parsed when the app was created, so this only fails on data. */
export function render(template: string, vars: Record<string, unknown>): Promise<string> {
  return liquid.parseAndRender(template, vars);
}
