/**
 * Reads a V8 `.cpuprofile` (node --cpu-prof) and says where the CPU went, grouped by
 * the layers a request passes through. Self time of a frame that belongs to no layer
 * of its own (node's event plumbing, path-to-regexp, builtins without a script) is
 * charged to the nearest caller that has one, so "route manifest" includes the
 * path-to-regexp matching it asks for, and "express" the router's.
 *
 *   npx tsx scripts/cpu-profile.ts file.cpuprofile requests cpu-µs-per-request
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export const LAYERS = [
  'node http/net',
  'express',
  'our middleware',
  'route manifest',
  'validator',
  'pipeline + handler',
  'ioredis',
  'JSON',
  'logging',
  'node core (event loop, timers, promises)',
  'GC',
  '(program)',
] as const;
export type Layer = (typeof LAYERS)[number];
const APP_LAYERS = new Set<Layer>(['express', 'our middleware', 'route manifest', 'validator', 'pipeline + handler', 'ioredis', 'logging']);

const EXPRESS_DEPS =
  /node_modules\/(express|router|finalhandler|on-finished|parseurl|content-type|type-is|accepts|mime-types|mime-db|negotiator|qs|send|fresh|range-parser|depd|encodeurl|escape-html|http-errors|statuses|vary|body-parser|raw-body|iconv-lite|media-typer|cookie|cookie-signature|proxy-addr|forwarded|ipaddr\.js|etag|merge-descriptors|setprototypeof|content-disposition|ee-first|unpipe|side-channel[\w-]*|call-bind[\w-]*|get-intrinsic|es-errors|gopd|has-symbols|hasown|object-inspect|dunder-proto|math-intrinsics|es-object-atoms|get-proto|function-bind|safe-buffer|safer-buffer|inherits|toidentifier|once|wrappy|is-promise|utils-merge)\//;

/** The layer a frame belongs to by itself, or null when it belongs to whoever called it. */
function ownLayer(f: CallFrame): Layer | 'idle' | null {
  const { url, functionName: fn } = f;
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return '(program)';
  if (url === '' && (fn === 'stringify' || fn === 'parse')) return 'JSON';
  if (/node_modules\/(pino|sonic-boom|thread-stream|pino-std-serializers|fast-redact|quick-format-unescaped|atomic-sleep|on-exit-leak-free|safe-stable-stringify)\//.test(url)) return 'logging';
  if (/node_modules\/(express-openapi-validator|ajv|ajv-formats|ajv-draft-04|fast-deep-equal|fast-uri|json-schema-traverse|lodash[\w.]*|media-typer|@apidevtools|multer)\//.test(url) && !/ioredis/.test(url)) {
    if (/express-openapi-validator|ajv/.test(url)) return 'validator';
  }
  if (/node_modules\/(ioredis|@ioredis|redis-parser|redis-errors|denque|cluster-key-slot|standard-as-callback|lodash\.defaults|lodash\.isarguments)\//.test(url)) return 'ioredis';
  if (EXPRESS_DEPS.test(url)) return 'express';
  if (/\/src\/http\/route-manifest\.[jt]s/.test(url)) return 'route manifest';
  if (/\/src\/http\/(request-id|security-headers|cors)\.[jt]s|\/src\/app\.[jt]s/.test(url)) return 'our middleware';
  if (/\/src\//.test(url)) return 'pipeline + handler';
  if (/^node:(_http_|net$|stream$|internal\/streams\/|internal\/stream_base_commons|internal\/http|internal\/net|http$)/.test(url)) return 'node http/net';
  return null;
}

export interface Summary {
  /** Sampled µs on the JS thread (idle excluded) within the window. */
  busyMicros: number;
  idleMicros: number;
  self: Map<Layer, number>;
  /**
   * Self time, with the work of node's HTTP/net, JSON and core frames charged to the
   * nearest caller of an application layer (express, our middleware, manifest, validator,
   * pipeline, ioredis, logging): what each layer costs including the I/O it asked for.
   * Work with no such caller (parsing an incoming request, the event loop) stays where it is.
   */
  charged: Map<Layer, number>;
  top: { name: string; layer: Layer; micros: number }[];
}

/** Samples whose timestamp (µs, the monotonic clock of process.hrtime) lies in [fromUs, toUs]. */
export function summarize(profile: CpuProfile, fromUs = -Infinity, toUs = Infinity): Summary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Each node's resolved layer (own, else its caller's) and the nearest application layer at or above it.
  const layerOf = new Map<number, Layer | 'idle'>();
  const appLayerOf = new Map<number, Layer | null>();
  const resolve = (id: number): Layer | 'idle' => {
    const known = layerOf.get(id);
    if (known) return known;
    const own = ownLayer(byId.get(id)!.callFrame);
    const p = parent.get(id);
    const layer = own ?? (p === undefined ? 'node core (event loop, timers, promises)' : resolve(p));
    if (p !== undefined) resolve(p);
    layerOf.set(id, layer);
    appLayerOf.set(id, APP_LAYERS.has(layer as Layer) ? (layer as Layer) : p === undefined ? null : appLayerOf.get(p)!);
    return layer;
  };
  const self = new Map<Layer, number>();
  const charged = new Map<Layer, number>();
  const perFrame = new Map<number, number>();
  let busy = 0;
  let idle = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    if (t < fromUs || t > toUs) continue;
    // A sample stands for the time until the next one.
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    const layer = resolve(id);
    if (layer === 'idle') {
      idle += dt;
      continue;
    }
    busy += dt;
    self.set(layer, (self.get(layer) ?? 0) + dt);
    const payer = layer === 'GC' || layer === '(program)' ? layer : (appLayerOf.get(id) ?? layer);
    charged.set(payer, (charged.get(payer) ?? 0) + dt);
    perFrame.set(id, (perFrame.get(id) ?? 0) + dt);
  }
  // Top functions by self time, frames of one function (several call paths) added up.
  const byFunction = new Map<string, { name: string; layer: Layer; micros: number }>();
  for (const [id, micros] of perFrame) {
    const f = byId.get(id)!.callFrame;
    const file = f.url.replace(/^.*\/node_modules\//, '').replace(/^file:\/\/.*?\/(dist\/)?(src|scripts)\//, '$2/');
    const name = `${f.functionName || '(anonymous)'} ${file ? `${file}:${f.lineNumber + 1}` : '(native)'}`;
    const entry = byFunction.get(name) ?? { name, layer: layerOf.get(id) as Layer, micros: 0 };
    entry.micros += micros;
    byFunction.set(name, entry);
  }
  const top = [...byFunction.values()].sort((a, b) => b.micros - a.micros);
  return { busyMicros: busy, idleMicros: idle, self, charged, top };
}

/**
 * The summary as text: by layer (self; with the node work it asked for) and the top
 * functions. Sampled time is wall time on the JS thread, so on a busy machine it includes
 * moments the thread was preempted; each layer's share is therefore also applied to
 * `cpuPerRequest` (process CPU / requests), which is what the tables in docs/performance.md show.
 */
export function report(s: Summary, requests: number, cpuPerRequest: number, topN = 25): string {
  const share = (us: number) => us / s.busyMicros;
  const cpu = (us: number) => (share(us) * cpuPerRequest).toFixed(1).padStart(8);
  const pct = (us: number) => `${(100 * share(us)).toFixed(1)}%`.padStart(7);
  const lines = [
    `JS thread: ${(s.busyMicros / requests).toFixed(1)} µs sampled busy per request (${requests} requests; idle ${((100 * s.idleMicros) / (s.busyMicros + s.idleMicros)).toFixed(0)}% of the window)`,
    `CPU µs per request below = share of samples × ${cpuPerRequest.toFixed(0)} µs (process CPU / requests)`,
    '',
    'layer                                    self: share  CPU µs   with node work it asked for: share  CPU µs',
  ];
  for (const layer of LAYERS) {
    const own = s.self.get(layer) ?? 0;
    const all = s.charged.get(layer) ?? 0;
    lines.push(`${layer.padEnd(40)} ${pct(own)} ${cpu(own)}   ${' '.repeat(27)}${pct(all)} ${cpu(all)}`);
  }
  lines.push('', `top ${topN} functions by self time (share, CPU µs/req, function, layer)`);
  for (const f of s.top.slice(0, topN)) lines.push(`${pct(f.micros)} ${cpu(f.micros)}  ${f.name}  [${f.layer}]`);
  return lines.join('\n');
}

if (process.argv[1] && import.meta.filename === process.argv[1] && process.argv[2]) {
  const profile = JSON.parse(readFileSync(process.argv[2], 'utf8')) as CpuProfile;
  console.log(report(summarize(profile), Number(process.argv[3] ?? 1), Number(process.argv[4] ?? 0)));
}
