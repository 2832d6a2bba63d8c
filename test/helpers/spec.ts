import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { expect } from 'vitest';
import { loadSpec } from '../../src/http/spec.ts';
import { reportSpecViolation } from './spec-violations.ts';

const ajv = new (Ajv2020 as unknown as typeof Ajv2020.default)({ strict: false, allErrors: true });
(addFormats as unknown as typeof addFormats.default)(ajv);
const { doc } = loadSpec();
ajv.addSchema(doc as object, 'spec');

type Ref = { $ref?: string };
type HeaderObject = Ref & { required?: boolean; schema?: Ref & { type?: string } };
type MediaTypeObject = { schema?: Ref };
type ResponseObject = Ref & { headers?: Record<string, HeaderObject>; content?: Record<string, MediaTypeObject> };
type OperationObject = { operationId: string; responses: Record<string, ResponseObject> };
type PathItem = Record<string, OperationObject>;

const API_PREFIX = '/openapi/v1';
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

function pointer(...parts: string[]): string {
  return parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

function validator(ref: string) {
  return ajv.getSchema(ref) ?? ajv.compile({ $ref: ref });
}

/** Follows a local `$ref` (`#/components/…`) to the object and the spec pointer it lives at. */
function resolve<T extends Ref>(node: T, at: string): { node: T; at: string } {
  let current = node;
  let where = at;
  while (current.$ref) {
    where = current.$ref;
    current = current.$ref
      .slice(2)
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], doc) as T;
  }
  return { node: current, at: where };
}

/**
 * Asserts that a body matches the spec's response schema for (method, path, status),
 * following a `$ref` to a shared response. Used for error bodies too, which bypass
 * the server's own response validation.
 */
export function expectMatchesSpec(method: string, path: string, status: number, body: unknown, mediaType = 'application/json'): void {
  const op = (doc.paths[path] as PathItem | undefined)?.[method.toLowerCase()];
  expect(op, `${method} ${path} is in the spec`).toBeDefined();
  const response = op!.responses[String(status)];
  expect(response, `${method} ${path} declares ${status}`).toBeDefined();
  const ref = response!.$ref
    ? `spec${response!.$ref}/content/${pointer(mediaType)}/schema`
    : `spec#/${pointer('paths', path, method.toLowerCase(), 'responses', String(status), 'content', mediaType, 'schema')}`;
  const validate = validator(ref);
  const ok = validate(body);
  expect(ok, `${method} ${path} ${status} body matches the spec: ${ajv.errorsText(validate.errors)}`).toBe(true);
}

/** Validates a body against the spec's ErrorBody schema; returns the problems, or null. */
export function errorBodyProblems(body: unknown): string | null {
  const validate = validator('spec#/components/schemas/ErrorBody');
  return validate(body) ? null : ajv.errorsText(validate.errors);
}

// ---------------------------------------------------------------------------------------
// Every response of the in-process test servers is checked against the spec (see
// startServer): status declared, declared headers present and valid, no undeclared
// headers, body (each streamed event too) valid against the declared media type.

/**
 * Headers that belong to HTTP itself or to the deployment rather than to an operation's
 * contract: transport and framing, CORS (configured per deployment and described once in
 * the spec's introduction), and the hardening headers every response carries.
 */
const GENERIC_HEADERS = new Set([
  'connection',
  'content-length',
  'content-type',
  'date',
  'keep-alive',
  'transfer-encoding',
  'vary',
  'x-content-type-options',
  'referrer-policy',
]);
const isGeneric = (name: string) => GENERIC_HEADERS.has(name) || name.startsWith('access-control-');

export interface RecordedResponse {
  method: string;
  /** The request target as sent (path and query). */
  url: string;
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: Buffer;
  /** The body was cut off (the connection closed early, or it was too large to keep). */
  partial: boolean;
}

interface Route {
  template: string;
  item: PathItem;
  test: RegExp;
  literals: number;
}

const routes: Route[] = Object.entries(doc.paths as Record<string, PathItem>).map(([template, item]) => {
  const segments = template.split('/').filter(Boolean);
  const source = segments.map((s) => (/^\{\w+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/');
  return { template, item, test: new RegExp(`^/${source}/?$`, 'i'), literals: segments.filter((s) => !s.startsWith('{')).length };
});

/** The spec path a request path belongs to; a literal segment beats a parameter, as in the router. */
function routeOf(path: string): Route | undefined {
  return routes.filter((r) => r.test.test(path)).sort((a, b) => b.literals - a.literals)[0];
}

/** Header values are text; an integer header is compared as the number it spells. */
function headerValue(raw: string, schema: HeaderObject['schema']): unknown {
  const type = schema ? (resolve(schema, '').node as { type?: string }).type : undefined;
  return type === 'integer' && /^-?\d+$/.test(raw) ? Number(raw) : raw;
}

/** The problems of one response, or an empty list when it is exactly what the spec declares. */
export function responseProblems(r: RecordedResponse): string[] {
  const path = decodeSafely(r.url.split('?')[0] ?? '');
  if (!path.toLowerCase().startsWith(`${API_PREFIX}/`)) return [];
  const rest = path.slice(API_PREFIX.length);
  // The RFC endpoints and the spec documents themselves are not operations (they are not in openapi.yaml).
  if (/^\/oauth(\/|$)/i.test(rest) || /^\/openapi\.(yaml|json)$/i.test(rest)) return [];
  const method = r.method.toLowerCase();
  if (method === 'options') return []; // CORS preflights and Allow probes: HTTP machinery.
  const label = `${r.method} ${path} → ${r.status}`;
  // A target that is not valid percent-encoding names no resource at all, whatever it looks like.
  const route = wellEncoded(r.url.split('?')[0] ?? '') ? routeOf(rest) : undefined;
  if (!route) {
    // No such operation: the API's own 4xx in the error shape is all that can be expected.
    if (r.status < 400 || r.status >= 500) return [`${label}: a path that is not in the spec answered ${r.status}`];
    return bodyProblems(label, 'spec#/components/schemas/ErrorBody', r);
  }
  const opMethod = method === 'head' ? 'get' : method;
  const op = METHODS.includes(opMethod) ? route.item[opMethod] : undefined;
  const at = `#/${pointer('paths', route.template)}`;
  let declared: { node: ResponseObject; at: string } | undefined;
  if (op) {
    const key = [String(r.status), `${String(r.status)[0]}XX`, 'default'].find((k) => op.responses[k]);
    if (key) declared = resolve(op.responses[key]!, `${at}/${opMethod}/responses/${key}`);
  } else {
    // A method the path does not have: every operation of the path declares the same 405.
    const other = Object.entries(route.item).find(([m, o]) => METHODS.includes(m) && o.responses[String(r.status)]);
    if (other && r.status === 405) declared = resolve(other[1].responses['405']!, `${at}/${other[0]}/responses/405`);
  }
  if (!declared) return [`${label}: status ${r.status} is not declared for ${op ? op.operationId : `${r.method} ${route.template}`}`];

  const problems: string[] = [];
  const headers = declared.node.headers ?? {};
  const names = new Map(Object.keys(headers).map((h) => [h.toLowerCase(), h]));
  for (const [lower, name] of names) {
    const h = resolve(headers[name]!, `${declared.at}/headers/${pointer(name)}`);
    const raw = r.headers[lower];
    if (raw === undefined) {
      if (h.node.required) problems.push(`${label}: required header ${name} is missing`);
      continue;
    }
    const schemaRef = `spec${h.at}/schema`;
    const value = headerValue(String(raw), h.node.schema);
    const validate = validator(schemaRef);
    if (!validate(value)) problems.push(`${label}: header ${name}: ${JSON.stringify(raw)} ${ajv.errorsText(validate.errors, { dataVar: name })}`);
  }
  for (const sent of Object.keys(r.headers)) {
    if (!isGeneric(sent) && !names.has(sent)) problems.push(`${label}: header ${sent} is sent but not declared`);
  }

  const content = declared.node.content;
  if (!content) {
    if (r.body.length > 0 && method !== 'head') problems.push(`${label}: a body is sent, but the response declares none`);
    return problems;
  }
  if (method === 'head') return problems;
  const mediaType = String(r.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (!content[mediaType]) return [...problems, `${label}: Content-Type ${mediaType || '(none)'} is not declared (declared: ${Object.keys(content).join(', ')})`];
  return [...problems, ...bodyProblems(label, `spec${declared.at}/content/${pointer(mediaType)}/schema`, r, mediaType)];
}

function bodyProblems(label: string, schemaRef: string, r: RecordedResponse, mediaType = 'application/json'): string[] {
  const validate = validator(schemaRef);
  const text = r.body.toString('utf8');
  if (mediaType === 'text/event-stream') {
    const problems: string[] = [];
    const frames = text.split(/\r?\n\r?\n/);
    // The last piece is either empty (the stream ended after a whole event) or an event cut off by a close.
    const complete = frames.slice(0, -1);
    if (!r.partial && frames.at(-1) !== '') problems.push(`${label}: the stream ends inside an event`);
    for (const frame of complete) {
      const lines = frame.split(/\r?\n/).filter((l) => !l.startsWith(':'));
      if (lines.length !== 1 || !lines[0]!.startsWith('data: ')) {
        problems.push(`${label}: an event is not exactly one "data:" line: ${JSON.stringify(frame.slice(0, 200))}`);
        continue;
      }
      const event = parseJson(lines[0]!.slice('data: '.length));
      if (event === undefined) problems.push(`${label}: a data line is not JSON: ${lines[0]!.slice(0, 200)}`);
      else if (!validate(event)) problems.push(`${label}: event ${JSON.stringify(event).slice(0, 200)}: ${ajv.errorsText(validate.errors)}`);
    }
    return problems;
  }
  if (r.partial) return []; // A cut-off JSON body cannot be judged.
  const body = parseJson(text);
  if (body === undefined) return [`${label}: the body is not JSON: ${JSON.stringify(text.slice(0, 200))}`];
  return validate(body) ? [] : [`${label}: body ${text.slice(0, 300)}: ${ajv.errorsText(validate.errors)}`];
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function wellEncoded(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

function decodeSafely(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** Checks a finished response and reports what breaks the spec (the running test then fails). */
export function checkResponse(r: RecordedResponse): void {
  for (const problem of responseProblems(r)) reportSpecViolation(problem);
}

/**
 * A bearer refused before any rate-limit window was touched (a token refused by its shape,
 * its edition or its signature): 401 invalid_token with the RFC 6750 challenge, no
 * RateLimit headers, and the error body the spec declares for `GET /me`.
 */
export async function expectRefusedUncounted(res: Response): Promise<void> {
  expect(res.status).toBe(401);
  expect(res.headers.get('www-authenticate')).toBe('Bearer realm="tessera", error="invalid_token"');
  expect(res.headers.get('ratelimit-limit')).toBeNull();
  const body = await res.json();
  expect(body.error).toBe('invalid_token');
  expectMatchesSpec('get', '/me', 401, body);
}
