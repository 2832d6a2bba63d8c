import express, { type Router } from 'express';
import type { Services } from '../services.ts';
import { ssoPages } from '../sso/sso-complete.ts';
import { consoleApi } from './console-api.ts';
import { pages } from './pages.ts';

/** Console API and the pages (/, /signin, /device, /account): first party, cookie sessions, not in the spec. */
export function consoleRouter(s: Services): Router {
  const router = express.Router();
  router.use('/console/api', consoleApi(s));
  router.use(pages(s));
  if (s.sso) router.use(ssoPages(s));
  return router;
}
