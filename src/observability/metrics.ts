import { collectDefaultMetrics, Counter as PromCounter, Gauge as PromGauge, Histogram as PromHistogram, Registry } from 'prom-client';
import { requestChannel, type RequestTrace } from '../http/request-tracing.ts';
import { METRICS, type Counter, type Dependency, type Family, type Gauge, type Histogram, type LabelValues } from './metric-catalog.ts';

/**
 * The process's metrics (prom-client), exported on METRICS_PORT (metrics-server.ts). Until
 * `enableMetrics` runs, every emitter below returns at once: with metrics off they cost a
 * call and a null check. One registry per process, like the process metrics it carries and
 * the `tessera.request` channel it listens on.
 */
let exporting: Exporting | null = null;

interface Child {
  inc(n?: number): void;
  dec?(n?: number): void;
  observe?(v: number): void;
}

type AnyMetric = PromCounter | PromGauge | PromHistogram;

class Exporting {
  readonly registry = new Registry();
  private readonly metrics = new Map<Family<LabelValues>, AnyMetric>();
  /** Children by label values, so an emission is one map lookup (prom-client hashes the labels object on every call otherwise). */
  private readonly children = new Map<Family<LabelValues>, Map<string, Child>>();
  probe: (() => Promise<Partial<Record<Dependency, boolean>>>) | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Gauges whose names end in _total, which promtool flags; the same counts by type stay (nodejs_active_handles{type}, …).
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    for (const f of Object.values(METRICS) as Family<LabelValues>[]) this.create(f);
  }

  private create(f: Family<LabelValues>): void {
    const common = { name: f.name, help: f.help, labelNames: [...f.labels], registers: [this.registry] };
    let metric: AnyMetric;
    if (f.kind === 'counter') metric = new PromCounter(common);
    else if (f.kind === 'histogram') metric = new PromHistogram({ ...common, buckets: [...f.buckets!] });
    else if (f === METRICS.dependencyUp) metric = this.dependencyGauge(common);
    else metric = new PromGauge(common);
    this.metrics.set(f, metric);
    this.children.set(f, new Map());
    for (const labels of combinations(f)) {
      if (metric instanceof PromHistogram) metric.zero(labels);
      else if (metric instanceof PromCounter) metric.inc(labels, 0);
      else metric.set(labels, 0);
    }
    if (f.labels.length === 0 && metric instanceof PromGauge) metric.set(0);
  }

  /** Probed when scraped (each probe bounded in time), so the value is never older than the scrape. */
  private dependencyGauge(common: ConstructorParameters<typeof PromGauge>[0]): PromGauge {
    const probe = () => this.probe?.() ?? Promise.resolve({});
    return new PromGauge({
      ...common,
      async collect() {
        const up = await probe();
        this.reset();
        for (const [dependency, ok] of Object.entries(up)) this.set({ dependency }, ok ? 1 : 0);
      },
    });
  }

  child(f: Family<LabelValues>, labels: LabelValues): Child {
    const children = this.children.get(f)!;
    let key = '';
    for (const name of f.labels) key += labels[name] + '\u0000';
    let c = children.get(key);
    if (c === undefined) {
      c = (this.metrics.get(f) as PromCounter).labels(labels) as Child;
      children.set(key, c);
    }
    return c;
  }
}

function combinations(f: Family<LabelValues>): LabelValues[] {
  const known = f.known as Record<string, readonly string[] | undefined> | undefined;
  if (!known || f.labels.length === 0) return [];
  let all: LabelValues[] = [{}];
  for (const name of f.labels) {
    const values = known[name];
    if (!values) return [];
    all = all.flatMap((partial) => values.map((v) => ({ ...partial, [name]: v })));
  }
  return all;
}

export function count<L extends LabelValues>(f: Counter<L>, labels: L, n = 1): void {
  exporting?.child(f as Family<LabelValues>, labels).inc(n);
}

export function observe<L extends LabelValues>(f: Histogram<L>, labels: L, value: number): void {
  exporting?.child(f as Family<LabelValues>, labels).observe!(value);
}

/** Adds `n` (negative to take away) to a gauge. */
export function add<L extends LabelValues>(f: Gauge<L>, labels: L, n: number): void {
  const c = exporting?.child(f as Family<LabelValues>, labels);
  if (c) c.inc(n);
}

/** What `tessera_dependency_up` reports when scraped; the app that serves sets it. */
export function probeDependencies(probe: () => Promise<Partial<Record<Dependency, boolean>>>): void {
  if (exporting) exporting.probe = probe;
}

export function metricsEnabled(): boolean {
  return exporting !== null;
}

const STARTED = Symbol('tessera.metrics.started');
type Timed = RequestTrace & { [STARTED]?: number };

// The methods node's parser accepts are a fixed set, but only these name routes; the rest are counted together.
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** Request durations, from the `tessera.request` channel: every request, whichever way it was served. */
const requestTimer = {
  start(t: Timed) {
    t[STARTED] = performance.now();
  },
  asyncEnd(t: Timed) {
    const started = t[STARTED];
    if (started === undefined) return;
    const method = t.request.method ?? '';
    const labels = { method: METHODS.has(method) ? method : '_OTHER', route: t.route, status_code: String(t.response.statusCode) };
    observe(METRICS.requestDuration, labels, (performance.now() - started) / 1000);
  },
};

/** Turns metrics on for this process (idempotent) and returns the registry to serve. */
export function enableMetrics(): Registry {
  if (!exporting) {
    exporting = new Exporting();
    requestChannel.subscribe(requestTimer as Parameters<typeof requestChannel.subscribe>[0]);
  }
  return exporting.registry;
}
