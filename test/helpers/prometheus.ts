import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Registry } from 'prom-client';
import { executable, freePort, launch, onPath, ServerProcess } from './processes.ts';

/**
 * Prometheus's own tools (Debian's `prometheus` package: `promtool`, `prometheus`); a test
 * that needs them fails loudly when they are missing (.ci/run installs the package).
 */
function binary(name: 'promtool' | 'prometheus'): string {
  const found = [process.env[`${name.toUpperCase()}_BIN`], `/usr/bin/${name}`, `/usr/local/bin/${name}`].find((f) => f && executable(f)) ?? onPath(name);
  if (!found) throw new Error(`metrics tests need ${name}: install the Debian package \`prometheus\` (.ci/run does), or set ${name.toUpperCase()}_BIN`);
  return found;
}

/** `promtool check metrics` on an exposition: resolves with what it printed (nothing when clean); rejects when it fails. */
export function promtoolCheckMetrics(exposition: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary('promtool'), ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    child.stderr.on('data', (d) => (out += String(d)));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`promtool check metrics exited ${code}: ${out}`))));
    child.stdin.end(exposition);
  });
}

/** A sample's value in the registry (the producer's side); 0 when the series does not exist. Histograms: their `_count`. */
export async function sampleOf(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const wanted = String(metric?.type) === 'histogram' ? `${name}_count` : undefined;
  let total = 0;
  for (const v of metric?.values ?? []) {
    if (wanted && (v as { metricName?: string }).metricName !== wanted) continue;
    const l = v.labels as Record<string, string | number>;
    if (Object.entries(labels).every(([k, want]) => String(l[k]) === want)) total += v.value;
  }
  return total;
}

interface Vector {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * A real Prometheus server on a free port with its own storage in a temp dir, scraping
 * `targets` (job `tessera`) every second.
 */
export class PrometheusProcess extends ServerProcess {
  private constructor(
    port: number,
    dir: string,
    private readonly targets: string[],
  ) {
    super(port, dir);
  }

  static async start(targets: string[]): Promise<PrometheusProcess> {
    const p = new PrometheusProcess(await freePort(), mkdtempSync(path.join(tmpdir(), 'tessera-prometheus-')), targets);
    await p.start();
    return p;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  protected spawnServer(): void {
    const config = path.join(this.dir, 'prometheus.yml');
    const targets = this.targets.map((t) => `'${t}'`).join(', ');
    writeFileSync(
      config,
      ['global:', '  scrape_interval: 1s', '  evaluation_interval: 1s', 'scrape_configs:', '  - job_name: tessera', '    static_configs:', `      - targets: [${targets}]`, ''].join('\n'),
    );
    const args = [`--config.file=${config}`, `--storage.tsdb.path=${path.join(this.dir, 'data')}`, `--web.listen-address=127.0.0.1:${this.port}`, '--log.level=warn'];
    ({ child: this.child, output: this.output } = launch(binary('prometheus'), args));
  }

  protected async ready(): Promise<boolean> {
    return (await fetch(`${this.url}/-/ready`)).ok;
  }

  /** An instant query through the HTTP API. */
  async query(promql: string): Promise<Vector[]> {
    return (await this.api<{ result: Vector[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`)).result;
  }

  /** Every label set of the series that match. */
  series(match: string): Promise<Record<string, string>[]> {
    return this.api(`/api/v1/series?match[]=${encodeURIComponent(match)}`);
  }

  private async api<T>(pathAndQuery: string): Promise<T> {
    const res = await fetch(`${this.url}${pathAndQuery}`);
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${pathAndQuery}: ${body.error ?? res.status}`);
    return body.data;
  }
}
