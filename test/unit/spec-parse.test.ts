import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseSpec, SPEC_PATH } from '../../src/http/spec.ts';

// parseSpec hands the YAML parser a one-byte text (docs/performance.md); what it returns must be
// exactly what the parser makes of the real text.
describe('parsing the spec', () => {
  it('when openapi.yaml is parsed, then the result is the same as the plain parse, its wide characters included', () => {
    const text = readFileSync(SPEC_PATH, 'utf8');
    expect(text).toMatch(/[\u0100-\u{10ffff}]/u);
    expect(parseSpec(text)).toEqual(parse(text));
  });

  it('when wide characters stand in keys, plain and quoted values and block scalars, then each comes back where it was', () => {
    const text = ['title: "Tessera — API"', "note: 'a … b'", 'naïve→: yes 🙂', 'list:', '  - – one', 'block: |', '  line ≥ 1', '  ¢ latin-1 stays', ''].join('\n');
    expect(parseSpec(text)).toEqual(parse(text));
    expect(parseSpec(text)).toEqual({ title: 'Tessera — API', note: 'a … b', 'naïve→': 'yes 🙂', list: ['– one'], block: 'line ≥ 1\n¢ latin-1 stays\n' });
  });

  it('when the text already holds the stand-in character, then it is parsed as it is', () => {
    const text = 'price: 5 ¤ — 3 ¤7¤\n';
    expect(parseSpec(text)).toEqual({ price: '5 ¤ — 3 ¤7¤' });
  });
});
