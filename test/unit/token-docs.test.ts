import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kindsFor } from '../../src/auth/token-kinds.ts';

const ROOT = new URL('../../', import.meta.url);
const doc = readFileSync(new URL('docs/tokens.md', ROOT), 'utf8');

/** Every TypeScript source under src/, as text. */
function sources(dir = new URL('src/', ROOT)): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(new URL(`${e.name}/`, dir)) : e.name.endsWith('.ts') ? [readFileSync(new URL(e.name, dir), 'utf8')] : [],
  );
}

describe('docs/tokens.md against the code', () => {
  it('when the doc lists the token kinds, then each registry kind has its row, marked enterprise-only exactly when it is', () => {
    for (const kind of kindsFor('enterprise')) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${kind.prefix}\` |`));
      expect(row, kind.prefix).toBeDefined();
      expect(row!.includes('enterprise only'), kind.prefix).toBe(kind.edition === 'enterprise');
    }
  });

  it('when the doc describes the opaque token source, then it is the one strategy the code builds, with the kinds of each edition', () => {
    const built = sources().join('\n').match(/new OpaqueTokenStrategy\(/g) ?? [];
    expect(built).toHaveLength(1);
    expect(doc).toContain('There is one `OpaqueTokenStrategy`');
    expect(doc).not.toMatch(/second\s+`?OpaqueTokenStrategy/);
    expect(kindsFor('community').map((k) => k.prefix)).toEqual(['tsa_', 'tsk_']);
    expect(kindsFor('enterprise').map((k) => k.prefix)).toEqual(['tsa_', 'tse_', 'tsk_']);
    expect(doc.replace(/\s+/g, ' ')).toContain('`tsa_` and `tsk_` in the community edition, and `tse_` as well in the enterprise edition');
  });
});
