import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export const SPEC_PATH = new URL('../../openapi.yaml', import.meta.url).pathname;

export interface SpecOperation {
  operationId: string;
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI path, e.g. `/apps/{app_id}/info`. */
  path: string;
  /** Express path, e.g. `/apps/:app_id/info`. */
  expressPath: string;
  public: boolean;
  /** `x-tessera-edition: enterprise`: the operation exists only in the enterprise edition. */
  enterprise: boolean;
  /** Its parameters (the path item's included): where each is (`path`, `query`, `header`, `cookie`) and whether it is required. */
  parameters: readonly { in: string; required: boolean }[];
}

type Parameter = { in?: string; required?: boolean; $ref?: string };
type OpenApiDoc = {
  security?: unknown[];
  components?: { parameters?: Record<string, Parameter> };
  paths: Record<string, Record<string, { operationId: string; security?: unknown[]; 'x-tessera-edition'?: string; parameters?: Parameter[] }> & { parameters?: Parameter[] }>;
};

let cached: { text: string; doc: OpenApiDoc } | null = null;

export function loadSpec(): { text: string; doc: OpenApiDoc } {
  if (!cached) {
    const text = readFileSync(SPEC_PATH, 'utf8');
    cached = { text, doc: parseSpec(text) as OpenApiDoc };
  }
  return cached;
}

/** Stands in for a character beyond Latin-1 while the spec is parsed (`¤index¤`); the spec itself must not contain it. */
const MARK = '\u00a4';
const WIDE = /[\u0100-\u{10ffff}]/gu;
const STAND_IN = new RegExp(`${MARK}(\\d+)${MARK}`, 'g');

/**
 * The spec's YAML parsed so that every string of it that can be one-byte in V8 is. openapi.yaml
 * has a few characters beyond Latin-1 (dashes, ellipses), which makes its text two-byte, and so
 * every key and value the parser cuts from it. V8 keeps one copy of each property name, the
 * first it meets: a two-byte `principal_type` or `X-Request-Id` from the spec becomes the
 * server's own, and every JSON body and header block built with it is two-byte, slower to
 * serialise, measure and write on every request (docs/performance.md). So the parser gets a
 * one-byte text with those characters stood in for, and they are put back in the values after.
 */
export function parseSpec(text: string): unknown {
  const wide: string[] = [];
  if (text.includes(MARK)) return parse(text);
  const narrow = text.replace(WIDE, (c) => `${MARK}${wide.push(c) - 1}${MARK}`);
  if (wide.length === 0) return parse(text);
  // A latin1 round trip makes a one-byte string of it (replace() keeps its subject's width).
  return restore(parse(Buffer.from(narrow, 'latin1').toString('latin1')), wide);
}

function restore(value: unknown, wide: readonly string[]): unknown {
  if (typeof value === 'string') return value.includes(MARK) ? value.replace(STAND_IN, (_, i: string) => wide[Number(i)]!) : value;
  if (Array.isArray(value)) return value.map((v) => restore(v, wide));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [restore(k, wide) as string, restore(v, wide)]));
}

/** Every operation in openapi.yaml; `public` when it overrides security with `[]`. */
export function specOperations(): SpecOperation[] {
  const { doc } = loadSpec();
  const ops: SpecOperation[] = [];
  const resolved = (p: Parameter) => (p.$ref ? (doc.components?.parameters?.[p.$ref.replace('#/components/parameters/', '')] ?? {}) : p);
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method) || Array.isArray(op)) continue;
      const parameters = [...(item.parameters ?? []), ...(op.parameters ?? [])];
      ops.push({
        operationId: op.operationId,
        method: method as SpecOperation['method'],
        path,
        expressPath: path.replace(/\{(\w+)\}/g, ':$1'),
        public: Array.isArray(op.security) && op.security.length === 0,
        enterprise: op['x-tessera-edition'] === 'enterprise',
        parameters: parameters.map(resolved).map((p) => ({ in: p.in ?? 'unknown', required: p.required === true })),
      });
    }
  }
  return ops;
}
