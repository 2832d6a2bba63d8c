import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import owasp from '@stoplight/spectral-owasp-ruleset';
import { describe, expect, it } from 'vitest';
import { isMap, isSeq, parseDocument, type YAMLMap } from 'yaml';
import { loadSpec } from '../../src/http/spec.ts';

// `.spectral.yaml` is the OWASP ruleset plus a list of exceptions (npm run lint runs it).
// An exception must say why in one line, name rules that exist, and point at something
// that is still in openapi.yaml, so none of them outlives its reason or hides a typo.

const ruleset = parseDocument(readFileSync(new URL('../../.spectral.yaml', import.meta.url), 'utf8'));
const overrides = ruleset.get('overrides');
const entries = isSeq(overrides) ? (overrides.items as YAMLMap[]) : [];
const known = new Set(Object.keys((owasp as unknown as { rules: Record<string, unknown> }).rules));
const { doc } = loadSpec();
const SPECTRAL = fileURLToPath(new URL('../../node_modules/@stoplight/spectral-cli/dist/index.js', import.meta.url));

function resolves(pointer: string): boolean {
  let node: unknown = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (typeof node !== 'object' || node === null || !(key in node)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}

describe('Spectral exceptions', () => {
  it('when the ruleset is read, then it extends Spectral\'s standard OpenAPI ruleset and the OWASP ruleset, and lists its exceptions', () => {
    expect(ruleset.toJS().extends).toEqual(['spectral:oas', '@stoplight/spectral-owasp-ruleset']);
    expect(entries.length).toBeGreaterThan(0);
    expect((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: { lint: string } }).scripts.lint).toContain(
      'spectral lint openapi.yaml --fail-severity=hint',
    );
  });

  it('when openapi.yaml is linted with spectral:oas alone, then nothing is found (info.contact included)', () => {
    // Its own ruleset file, outside the repo: spectral:oas is built in, so nothing needs resolving.
    const dir = mkdtempSync(join(tmpdir(), 'spectral-oas-'));
    try {
      writeFileSync(join(dir, 'ruleset.yaml'), "extends: ['spectral:oas']\n");
      const run = spawnSync(process.execPath, [SPECTRAL, 'lint', 'openapi.yaml', '--ruleset', join(dir, 'ruleset.yaml'), '--fail-severity=hint', '--format=json'], {
        cwd: fileURLToPath(new URL('../../', import.meta.url)),
        encoding: 'utf8',
      });
      expect(run.status, run.stderr).toBe(0);
      // The JSON list, then (on success) a line of its own text.
      expect(JSON.parse(run.stdout.slice(0, run.stdout.lastIndexOf(']') + 1))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect((doc as unknown as { info: { contact?: { name?: string } } }).info.contact?.name).toBeTruthy();
  });

  it('when an exception is listed, then a one-line reason comes right above it', () => {
    entries.forEach((entry, i) => {
      // The first item's comment is kept on the list itself.
      const comment = entry.commentBefore ?? (i === 0 && isSeq(overrides) ? overrides.commentBefore : undefined);
      const reason = comment?.trim() ?? '';
      expect(reason, JSON.stringify(entry.toJSON())).toMatch(/^reason: \S.{20,}$/);
    });
  });

  it('when an exception turns rules off, then they are OWASP rules, only turned off, at places that exist in openapi.yaml', () => {
    for (const entry of entries) {
      const { files, rules } = entry.toJSON() as { files: string[]; rules: Record<string, string> };
      for (const [rule, level] of Object.entries(rules)) {
        expect(known.has(rule), `${rule} is an OWASP rule`).toBe(true);
        expect(level).toBe('off');
      }
      for (const file of files) {
        const [name, pointer = ''] = file.split('#');
        expect(name).toBe('openapi.yaml');
        expect(resolves(pointer), `${file} exists`).toBe(true);
      }
      expect(isMap(entry)).toBe(true);
    }
  });
});
