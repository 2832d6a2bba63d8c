import { describe, expect, it } from 'vitest';
import { apiError } from '../../src/cli/api.ts';
import { EXIT, network } from '../../src/cli/errors.ts';
import { CliContext, normalizeHost } from '../../src/cli/session.ts';
import { colorOn, relativeTime, table, terminalJson, terminalLine, terminalSafe, terminalText } from '../../src/cli/term.ts';

// Pure pieces of the CLI's output; the e2e suites drive the same rules through bin/tessera.js.
const tty = { isTTY: true } as NodeJS.WriteStream;
const pipe = { isTTY: false } as NodeJS.WriteStream;

describe('colour rules', () => {
  it('when deciding colour, then a terminal gets it, a pipe does not, FORCE_COLOR forces it and NO_COLOR beats everything', () => {
    expect(colorOn(tty, {})).toBe(true);
    expect(colorOn(tty, { TERM: 'dumb' })).toBe(false);
    expect(colorOn(pipe, {})).toBe(false);
    expect(colorOn(pipe, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorOn(tty, { FORCE_COLOR: '0' })).toBe(false);
    expect(colorOn(tty, { NO_COLOR: '1' })).toBe(false);
    expect(colorOn(pipe, { NO_COLOR: '1', FORCE_COLOR: '1' })).toBe(false);
    // no-color.org: an empty NO_COLOR does not count.
    expect(colorOn(tty, { NO_COLOR: '' })).toBe(true);
  });
});

describe('times and tables', () => {
  it('when a time is shown relative to now, then the largest unit that fits is used, rounded', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(relativeTime('2026-01-14T23:00:00Z', now)).toBe('in 14 days');
    expect(relativeTime('2026-01-01T03:00:00Z', now)).toBe('in 3 hours');
    expect(relativeTime('2025-12-31T23:58:00Z', now)).toBe('2 minutes ago');
  });

  it('when rows are wider than the width, then shrinkable columns are cut with … and the others are kept whole', () => {
    const out = table([{ header: 'ID' }, { header: 'NAME', shrink: true }], [['0123456789', 'a name far too long for the space']], 30);
    expect(out.split('\n')).toEqual(['ID          NAME', '0123456789  a name far too lo…']);
    for (const line of out.split('\n')) expect(line.length).toBeLessThanOrEqual(30);
    expect(table([{ header: 'ID' }, { header: 'NAME', shrink: true }], [['1', 'whole']], null)).toBe('ID  NAME\n1   whole');
  });
});

describe('hints', () => {
  it('when a host does not resolve, then the hint asks about the host name; when nothing listens, whether the server runs', () => {
    const noHost = network('https://tesera.example.com', Object.assign(new TypeError('fetch failed'), { cause: { code: 'ENOTFOUND' } }));
    expect([noHost.exitCode, noHost.message, noHost.hint]).toEqual([EXIT.network, 'Could not reach https://tesera.example.com: ENOTFOUND', 'Is the host name in https://tesera.example.com right?']);
    const refused = network('http://localhost:8080', Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }));
    expect(refused.hint).toBe('Is the server running at http://localhost:8080?');
    const dropped = network('http://10.0.0.9:8080', Object.assign(new TypeError('fetch failed'), { cause: { code: 'UND_ERR_CONNECT_TIMEOUT' } }));
    expect([dropped.exitCode, dropped.message, dropped.hint]).toEqual([EXIT.network, 'Could not reach http://10.0.0.9:8080: ETIMEDOUT (no answer within 2.5 s)', 'Is the server running at http://10.0.0.9:8080?']);
  });

  it('when the server rate-limits, then the hint says when to try again', () => {
    const e = apiError({ ctx: new CliContext({}, []), host: 'http://h' }, 429, { error: 'rate_limited', message: 'Too many requests.', retry_after_ms: 2_500 });
    expect([e.exitCode, e.message, e.hint]).toEqual([EXIT.api, 'Error 429 rate_limited: Too many requests.', 'Try again in 3 s.']);
  });

  it('when a host has no scheme, then loopback hosts are offered http and others https', () => {
    const fix = (s: string) => s;
    expect(() => normalizeHost('[::1]:8080', fix)).toThrow('[::1]:8080 has no scheme. Did you mean http://[::1]:8080?');
    expect(() => normalizeHost('api.example.com/', fix)).toThrow('Did you mean https://api.example.com/?');
    expect(normalizeHost('https://api.example.com/base/', fix)).toBe('https://api.example.com/base');
  });
});

describe('server text on the terminal', () => {
  const hostile = 'a\x1b[2J\x1b]52;c;ZXZpbA==\x07b\r\nc\td\u009b31me\u007f\x00';

  it('when server text is shown, then every control character is removed; only multi-line text keeps its newlines and tabs', () => {
    expect(terminalLine(hostile)).toBe('a[2J]52;c;ZXZpbA==bcd31me');
    expect(terminalText(hostile)).toBe('a[2J]52;c;ZXZpbA==b\nc\td31me');
    expect(terminalLine('Ünïcödé ✓ 日本')).toBe('Ünïcödé ✓ 日本');
  });

  it('when server text carries invisible bidirectional controls, then they are removed, so a name cannot reorder what is shown after it', () => {
    const reordering = 'app\u202e\u2066txt.exe\u2069\u202a\u202b\u202c\u202d\u2067\u2068\u200e\u200f\u061c';
    expect(terminalLine(reordering)).toBe('apptxt.exe');
    expect(terminalText(`${reordering}\nline`)).toBe('apptxt.exe\nline');
    expect(terminalLine('שלום עולם مرحبا')).toBe('שלום עולם مرحبا');
    expect(terminalSafe({ name: hostile, tags: [hostile], n: 3, none: null })).toEqual({ name: terminalLine(hostile), tags: [terminalLine(hostile)], n: 3, none: null });
  });

  it('when data is printed as JSON, then DEL and C1 controls are escaped too, and the document parses to the same data', () => {
    const json = terminalJson({ text: hostile });
    expect(json).not.toMatch(/(?![\t\n])\p{Cc}/u);
    expect(json).toContain('\\u009b31m');
    expect(JSON.parse(json)).toEqual({ text: hostile });
  });
});
