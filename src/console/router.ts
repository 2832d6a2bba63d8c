import express, { type Router } from 'express';
import type { Services } from '../services.ts';
import { ssoPages } from '../sso/sso-complete.ts';
import { consoleApi } from './console-api.ts';
import { pages } from './pages.ts';

/** Console sign-in API and the /device and /signin pages (DESIGN §9); first party, not in the spec. */
export function consoleRouter(s: Services): Router {
  const router = express.Router();
  router.use('/console/api', consoleApi(s));
  router.use(pages(s));
  if (s.sso) router.use(ssoPages(s));
  return router;
}
