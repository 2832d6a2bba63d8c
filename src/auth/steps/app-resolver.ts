import { notFound } from '../../errors.ts';
import type { PipelineDeps, Step } from '../pipeline.ts';

/** The app in the path, from the per-replica app cache, else Postgres; unknown → 404. */
export function appResolver(d: Pick<PipelineDeps, 'apps' | 'appCache'>): Step {
  return {
    name: 'AppResolver',
    needs: ['auth'],
    provides: ['app'],
    run(req) {
      const id = String(req.params.app_id ?? '');
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
