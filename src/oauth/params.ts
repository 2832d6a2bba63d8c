import type { Request } from 'express';
import { clip } from '../http/request-problem.ts';
import { InvalidRequest } from './errors.ts';

/**
 * Reads the parameters of an OAuth request. Bodies are read raw so that repeated
 * parameters can be refused (RFC 6749 §3.1: "Request and response parameters MUST
 * NOT be included more than once"). JSON is accepted only where `allowJson`.
 */
export function readParams(req: Request, allowJson: boolean): Record<string, string> {
  const type = (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  if (type === 'application/x-www-form-urlencoded') {
    const out: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(raw)) {
      if (k in out) throw new InvalidRequest(`Parameter ${clip(k, 40)} is repeated.`);
      out[k] = v;
    }
    return out;
  }
  if (allowJson && type === 'application/json') {
    let body: unknown;
    try {
      body = JSON.parse(raw || '{}');
    } catch {
      throw new InvalidRequest('The request body is not valid JSON.');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InvalidRequest('The request body must be an object.');
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(body)) {
      if (typeof v !== 'string') throw new InvalidRequest(`Parameter ${clip(k, 40)} must be a string.`);
      out[k] = v;
    }
    return out;
  }
  throw new InvalidRequest(`Content-Type must be application/x-www-form-urlencoded${allowJson ? ' or application/json' : ''}.`);
}
