import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { putHeader } from './held-headers.ts';

const SAFE_ID = /^[\w.:-]{1,128}$/;

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
  }
}

/** Honours a sane incoming X-Request-Id, otherwise makes one; echoes it on every response (see setBaseHeaders). */
export function requestId(req: Request, res: Response): void {
  const incoming = req.headers['x-request-id'];
  req.id = typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : randomUUID();
  putHeader(res, 'X-Request-Id', req.id);
}
