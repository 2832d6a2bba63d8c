import type { Routes } from '../http/operations.ts';
import type { Services } from '../services.ts';

/** GET/DELETE /me/sessions… — filled in by the device-login work. */
export function sessionRoutes(_s: Services): Routes<never> {
  return {};
}
