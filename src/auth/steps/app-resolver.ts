import { notFound } from '../../errors.ts';
import type { PipelineDeps, Step } from '../pipeline.ts';

/** The app in the path, from the per-replica app cache, else Postgres; unknown → 404. */
export function appResolver(d: Pick<PipelineDeps, 'apps' | 'appCache'>): Step {
  return {
    name: 'AppResolver',
    needs: ['auth'],
    provides: ['app'],
    run(req) {
      // Lower-cased: Postgres and the validator take a UUID in any case, but the cache (and its
      // invalidations, which carry the stored lower-case id) must see one key per app.
      const id = String(req.params.app_id ?? '').toLowerCase();
      const cached = d.appCache.get(id);
      if (cached) {
        req.tessera.app = cached;
        return;
      }
      return d.apps.findById(id).then((app) => {
        if (!app) throw notFound('App');
        d.appCache.set(id, app);
        req.tessera.app = app;
      });
    },
  };
}
