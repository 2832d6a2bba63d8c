import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const which = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/**
 * Runs the real `.ci/run` with a PATH that holds only the few tools its first lines use and
 * the given fake `node`/`npm`. Nothing else is on that PATH (no apt-get, sudo, psql), so
 * a script that went on past its check would fail on the next command, not install anything.
 */
function ciRun(fake: { node?: string; npm?: boolean }) {
  const bin = mkdtempSync(path.join(tmpdir(), 'tessera-ci-'));
  dirs.push(bin);
  for (const tool of ['sed', 'sort', 'head', 'dirname', 'id']) symlinkSync(which(tool), path.join(bin, tool));
  if (fake.node) writeFileSync(path.join(bin, 'node'), `#!/bin/sh\necho ${fake.node}\n`);
  if (fake.npm) writeFileSync(path.join(bin, 'npm'), '#!/bin/sh\n');
  for (const f of ['node', 'npm']) if (f === 'node' ? fake.node : fake.npm) chmodSync(path.join(bin, f), 0o755);
  return spawnSync(which('bash'), [path.join(ROOT, '.ci/run')], { env: { PATH: bin }, encoding: 'utf8' });
}

describe('.ci/run on a machine without a suitable Node', () => {
  it.each([
    [{}, 'found no node, no npm'],
    [{ node: '18.19.1', npm: true }, 'found Node.js 18.19.1'],
    [{ node: '20.9.0', npm: true }, 'found Node.js 20.9.0'],
    [{ node: '22.1.0' }, 'found Node.js 22.1.0, no npm'],
  ])('when it finds %j, then it stops with exit 1 and one line saying what is needed (%s)', (fake, found) => {
    const r = ciRun(fake);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining(`ci: needs Node.js >= 20.19 with npm (${found})`)]);
    expect(r.stderr).toContain("Debian's nodejs package is too old");
  });

  it.each(['20.19.0', '22.12.0'])('when it finds Node.js %s with npm, then the check lets it through to the next step', (node) => {
    const r = ciRun({ node, npm: true });
    expect(r.stderr).not.toContain('needs Node.js');
    // The next step looks for Postgres, Redis (server and CLI) and Chromium; on this bare PATH it finds none and would install them.
    expect(r.stdout).toContain('ci: installing postgresql redis-server redis-tools chromium');
    expect(r.status).not.toBe(0);
  });
});
