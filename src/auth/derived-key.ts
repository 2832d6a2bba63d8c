import { createHash } from 'node:crypto';

/** A key for one purpose, derived from SECRET_KEY, so that no token of one kind verifies as another. */
export function derivedKey(secret: string, purpose: string): Buffer {
  return createHash('sha256').update(`${purpose}:${secret}`).digest();
}

