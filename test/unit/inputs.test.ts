import { describe, expect, it } from 'vitest';
import { parseAppConfig, inputSchemaOf } from '../../src/apps/app-config.ts';
import { checkText, render, validateInputs } from '../../src/apps/inputs.ts';
import { splitWords } from '../../src/apps/providers/index.ts';
import { ApiError } from '../../src/errors.ts';

const schema = inputSchemaOf(
  parseAppConfig('completion', {
    model: { provider: 'echo', name: 'echo-1' },
    prompt: '{{ word }}',
    input_schema: [
      { variable: 'word', label: 'Word', type: 'text', required: true, max_length: 3 },
      { variable: 'n', label: 'N', type: 'number' },
      { variable: 'pick', label: 'Pick', type: 'select', options: ['a', 'b'] },
    ],
  }),
);

function problems(inputs: Record<string, unknown>) {
  try {
    validateInputs(schema, inputs);
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return (err as ApiError).extra.details ?? [];
  }
}

describe('validateInputs', () => {
  it('when every problem is present at once, then each is reported with its variable', () => {
    expect(problems({ n: 'x', pick: 'c', extra: 1 }).map((p) => p.path)).toEqual([
      '/body/inputs/extra',
      '/body/inputs/word',
      '/body/inputs/n',
      '/body/inputs/pick',
    ]);
  });

  it('when max_length is counted, then characters count, not UTF-16 units', () => {
    expect(problems({ word: '😀😀😀' })).toEqual([]);
    expect(problems({ word: '😀😀😀😀' })).toHaveLength(1);
  });

  it('when inputs are valid, then numbers are coerced and optional blanks are dropped', () => {
    expect(validateInputs(schema, { word: 'hi', n: ' 4.5 ', pick: '' })).toEqual({ word: 'hi', n: 4.5 });
  });

  it('when a template renders, then missing variables are empty', async () => {
    expect(await render('Hi {{ name }}{{ missing }}!', { name: 'Ada' })).toBe('Hi Ada!');
  });
});

describe('echo word splitting', () => {
  it('when split, then the pieces concatenate to the text exactly, leading and trailing whitespace included', () => {
    for (const text of ['one two  three', '  lead and trail  ', 'single', '\n\ttabs\tand\nlines\n']) {
      expect(splitWords(text).join('')).toBe(text);
    }
    expect(splitWords('  a b ')).toEqual(['  a ', 'b ']);
  });

  it('when the text is only whitespace (even 100k of it), then there are no words and it returns', () => {
    expect(splitWords('')).toEqual([]);
    expect(splitWords(' '.repeat(100_000))).toEqual([]);
    expect(splitWords(`${' '.repeat(100_000)}x`)).toEqual([`${' '.repeat(100_000)}x`]);
  });
});

describe('NUL characters', () => {
  it('when an input or the query holds a NUL, then 400 naming it', () => {
    expect(problems({ word: 'a\u0000' })).toEqual([{ path: '/body/inputs/word', message: 'word must not contain NUL characters' }]);
    let err: unknown;
    try {
      checkText('hi\u0000there', '/body/query');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).extra.details).toEqual([{ path: '/body/query', message: 'query must not contain NUL characters' }]);
    expect(() => checkText('fine', '/body/query')).not.toThrow();
  });
});
