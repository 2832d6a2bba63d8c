import { expect } from 'vitest';

/** An RFC 6749 §5.2 error answer of the token endpoint: status, code, a description, no-store, and no challenge. */
export async function expectOAuthError(res: Response, status: number, error: string): Promise<{ error: string; error_description: string }> {
  expect(res.status).toBe(status);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.headers.get('www-authenticate')).toBeNull();
  const body = await res.json();
  expect(body.error).toBe(error);
  expect(typeof body.error_description).toBe('string');
  return body;
}
