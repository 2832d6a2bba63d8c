import cliTruncate from 'cli-truncate';
import { createColors } from 'picocolors';
import stringWidth from 'string-width';

/**
 * Colour on a stream: never when NO_COLOR is set (no-color.org), always when
 * FORCE_COLOR is set to anything but 0/false, otherwise only on a terminal that is
 * not "dumb". NO_COLOR wins over FORCE_COLOR: it is the user's own opt-out.
 */
export function colorOn(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '') return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  return stream.isTTY === true && env.TERM !== 'dumb';
}

/** Colours for stdout (output) and stderr (chatter), each decided for its own stream. */
export const out = createColors(colorOn(process.stdout));
export const err = createColors(colorOn(process.stderr));

/** Prompts need a person at both ends: a terminal to read from and one to write to. */
export const interactive = () => process.stdin.isTTY === true && process.stderr.isTTY === true && !process.env.CI;

/** Width to fit tables into: the terminal's, or none when stdout is a pipe (scripts want every character). */
export const outputWidth = (): number | null => (process.stdout.isTTY ? process.stdout.columns || 80 : null);

export interface Column {
  header: string;
  /** May be cut (with …) to fit the terminal; ids never are, since people copy them. */
  shrink?: boolean;
}

/**
 * Plain aligned columns (like `gh`): two spaces apart, the header bold. When the
 * rows are wider than the terminal, the shrinkable columns give up width, the
 * widest first, down to 8 characters each.
 */
export function table(columns: Column[], rows: string[][], width = outputWidth()): string {
  const widths = columns.map((c, i) => Math.max(stringWidth(c.header), ...rows.map((r) => stringWidth(r[i] ?? ''))));
  if (width !== null) {
    const total = () => widths.reduce((a, b) => a + b, 0) + 2 * (columns.length - 1);
    while (total() > width) {
      let widest = -1;
      columns.forEach((c, i) => {
        if (c.shrink && widths[i]! > 8 && (widest < 0 || widths[i]! > widths[widest]!)) widest = i;
      });
      if (widest < 0) break;
      widths[widest] = Math.max(8, widths[widest]! - (total() - width));
    }
  }
  const line = (cells: string[], style: (s: string) => string = (s) => s) =>
    cells
      .map((cell, i) => {
        const last = i === cells.length - 1;
        const fitted = stringWidth(cell) > widths[i]! ? cliTruncate(cell, widths[i]!) : cell;
        return last ? style(fitted) : style(fitted) + ' '.repeat(widths[i]! - stringWidth(fitted));
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header), out.bold), ...rows.map((r) => line(r))].join('\n');
}

/** A time for people: local date and time with its zone ("Dec 9, 2026, 3:47 PM GMT+1"). `--json` keeps ISO. */
export function localTime(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' });
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86_400_000],
  ['month', 30 * 86_400_000],
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1_000],
];

/** "in 13 days", "2 hours ago": the largest unit that fits, rounded to the nearest. */
export function relativeTime(iso: string, now = Date.now()): string {
  const diff = Date.parse(iso) - now;
  const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  for (const [unit, ms] of UNITS) {
    if (Math.abs(diff) >= ms || unit === 'second') return rtf.format(Math.round(diff / ms), unit);
  }
  return rtf.format(0, 'second');
}

/** "Dec 9, 2026, 3:47 PM GMT+1 (in 13 days)". */
export const when = (iso: string) => `${localTime(iso)} (${relativeTime(iso)})`;

// Every C0 control, DEL and every C1 control (Unicode's Cc): a terminal acts on these
// (ESC starts sequences that move the cursor, rewrite the title or the clipboard; CR
// overwrites a line; U+009B is a one-character CSI) instead of showing them. Also the
// invisible bidirectional controls (U+202E and kin): they reorder what follows, so a name
// could show one app id while naming another.
const CONTROLS = /[\p{Cc}\p{Bidi_Control}]/gu;
const CONTROLS_BUT_LINES = /(?![\n\t])[\p{Cc}\p{Bidi_Control}]/gu;

/**
 * Server text for one line of the terminal (a name, a code, an error description): every
 * control character removed, newlines and tabs too, so it can neither steer the terminal
 * nor fake a line of its own (a second "Run `…`" hint).
 */
export const terminalLine = (text: string): string => text.replace(CONTROLS, '');

/** Server text that may span lines (an answer, a description): control characters removed, newlines and tabs kept. */
export const terminalText = (text: string): string => text.replace(CONTROLS_BUT_LINES, '');

/** A copy of server data with every string made a `terminalLine`, for human output; `--json` prints the data itself. */
export function terminalSafe<T>(value: T): T {
  if (typeof value === 'string') return terminalLine(value) as T;
  if (Array.isArray(value)) return value.map(terminalSafe) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, terminalSafe(v)])) as T;
  return value;
}

/**
 * JSON for stdout. JSON.stringify escapes C0 controls but writes DEL and C1 controls
 * raw; escaping them too (`\u009b`) keeps the document the same data and the terminal
 * it may land on untouched.
 */
export const terminalJson = (data: unknown): string =>
  JSON.stringify(data, null, 2).replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
