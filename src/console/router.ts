import express, { type Router } from 'express';
import type { Services } from '../services.ts';

/** Console sign-in and the /device and /signin pages. Filled in by the device-login work. */
export function consoleRouter(_s: Services): Router {
  return express.Router();
}
