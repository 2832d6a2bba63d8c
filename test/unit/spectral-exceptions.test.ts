import { readFileSync } from 'node:fs';
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
  it('when the ruleset is read, then it extends the OWASP ruleset and lists its exceptions', () => {
    expect(ruleset.toJS().extends).toEqual(['@stoplight/spectral-owasp-ruleset']);
    expect(entries.length).toBeGreaterThan(0);
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
