import type { Routes } from '../http/operations.ts';
import type { Services } from '../services.ts';

/** Chat, completion and workflow run routes — filled in by the run-routes work. */
export function runRoutes(_s: Services): Routes<never> {
  return {};
}
