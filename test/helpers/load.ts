/** Steady background load for fault tests: every answer is counted by status, and a hang shows as `timeout`. */
export interface Load {
  /** status (or `timeout` / `error`) → count */
  histogram: Map<string, number>;
  stop(): Promise<Map<string, number>>;
}

export function startLoad(targets: { url: string; headers?: Record<string, string> }[], workers = 6, timeoutMs = 5_000): Load {
  const histogram = new Map<string, number>();
  let running = true;
  const count = (k: string) => histogram.set(k, (histogram.get(k) ?? 0) + 1);
  const worker = async (i: number) => {
    for (let n = i; running; n++) {
      const t = targets[n % targets.length]!;
      try {
        const res = await fetch(t.url, { headers: t.headers, signal: AbortSignal.timeout(timeoutMs) });
        await res.arrayBuffer();
        count(String(res.status));
      } catch (err) {
        count((err as Error).name === 'TimeoutError' ? 'timeout' : 'error');
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  const all = Promise.all(Array.from({ length: workers }, (_, i) => worker(i)));
  return {
    histogram,
    async stop() {
      running = false;
      await all;
      return histogram;
    },
  };
}

/** Fault timings go to stderr when REPORT_TIMINGS is set (for the hardening notes); tests stay quiet otherwise. */
export function reportTiming(what: string, ms: number): void {
  if (process.env.REPORT_TIMINGS) process.stderr.write(`timing: ${what}: ${ms} ms\n`);
}
