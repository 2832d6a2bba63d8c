import express, { type Router } from 'express';
import type { Services } from '../services.ts';

/** The hand-written OAuth endpoints (RFC 8414, 8628, 7009). Filled in by the device-login work. */
export function oauthRouter(_s: Services): Router {
  return express.Router();
}
