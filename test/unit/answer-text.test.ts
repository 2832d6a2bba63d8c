import { describe, expect, it } from 'vitest';
import { AnswerText } from '../../src/apps/answer-text.ts';

describe('the answer of a run, built delta by delta', () => {
  it('when 100,000 deltas arrive, then at most 255 are ever kept apart and the text is their concatenation, in order', () => {
    const text = new AnswerText();
    const deltas = Array.from({ length: 100_000 }, (_, i) => `w${i} `);
    let mostApart = 0;
    for (const d of deltas) {
      text.append(d);
      mostApart = Math.max(mostApart, text.unfolded);
    }
    expect(mostApart).toBe(255);
    expect(text.toString()).toBe(deltas.join(''));
    expect(text.unfolded).toBe(0);
  });

  it('when it is read part way, then it is the text so far, and appending goes on after it', () => {
    const text = new AnswerText();
    text.append('Hello, ');
    expect(text.toString()).toBe('Hello, ');
    text.append('world');
    expect(text.toString()).toBe('Hello, world');
    expect(new AnswerText().toString()).toBe('');
  });
});
