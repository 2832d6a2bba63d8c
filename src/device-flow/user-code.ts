import { randomInt } from 'node:crypto';

/** RFC 8628 §6.1: consonants only (no vowels, so no words), case-insensitive, 8 characters shown XXXX-XXXX. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
const LENGTH = 8;

export function generateUserCode(): string {
  let code = '';
  for (let i = 0; i < LENGTH; i++) code += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return code;
}

/**
 * Separators people type or paste: whitespace, every dash (hyphen, en and em dash, minus
 * sign, …: Unicode Dash_Punctuation plus U+2212) and the soft hyphen. NFKC first folds
 * full-width letters (from East Asian input methods) to plain ones.
 */
const SEPARATORS = /[\s\p{Pd}\u2212\u00ad]/gu;

function compact(input: string): string {
  return input.normalize('NFKC').toUpperCase().replace(SEPARATORS, '');
}

/** 'bcdf-ghjk', 'BCDF GHJK', 'bcdf–ghjk' (en dash) → 'BCDFGHJK'; null when it cannot be a user code. */
export function normalizeUserCode(input: string): string | null {
  return userCodeProblem(input) === null ? compact(input) : null;
}

/** Why the input cannot be a user code, so the page can say so: its length, or characters codes never contain. */
export function userCodeProblem(input: string): { kind: 'length'; length: number } | { kind: 'characters' } | null {
  const code = [...compact(input)];
  for (const ch of code) if (!USER_CODE_ALPHABET.includes(ch)) return { kind: 'characters' };
  return code.length === LENGTH ? null : { kind: 'length', length: code.length };
}

export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}

const FORMATTED = new RegExp(`^[${USER_CODE_ALPHABET}]{4}-[${USER_CODE_ALPHABET}]{4}$`);

/** Exactly a code as the server shows it (XXXX-XXXX, upper case): what a client may copy and display. */
export const isFormattedUserCode = (text: string): boolean => FORMATTED.test(text);
