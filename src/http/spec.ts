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
    cached = { text, doc: parse(text) as OpenApiDoc };
  }
  return cached;
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
