/** Deltas kept apart before they are folded into the text: few enough that they cost little. */
const FOLD_EVERY = 256;

/**
 * An answer built from many small deltas. `answer += delta` keeps every delta as a string
 * of its own, tied to the rest by a rope node, about 50 bytes a word until something reads
 * the answer whole; a run whose client stopped reading held that for every one of the
 * thousands of deltas its socket had taken (docs/apps.md, "Backpressure"). This folds the
 * deltas into one string every FOLD_EVERY, so the text costs about a byte a character.
 */
export class AnswerText {
  private text = '';
  private readonly pending: string[] = [];

  append(delta: string): void {
    this.pending.push(delta);
    if (this.pending.length >= FOLD_EVERY) this.fold();
  }

  /** Deltas not yet folded (at most FOLD_EVERY − 1). */
  get unfolded(): number {
    return this.pending.length;
  }

  toString(): string {
    this.fold();
    return this.text;
  }

  private fold(): void {
    if (this.pending.length === 0) return;
    this.text += this.pending.join('');
    this.pending.length = 0;
  }
}
