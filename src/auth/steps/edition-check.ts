import type { Config } from '../../config.ts';
import { ApiError } from '../../errors.ts';
import type { Step } from '../pipeline.ts';

/** Enterprise-only routes do not exist in the community edition: 404 before the rate limit or anything else. */
export function editionCheck(config: Config): Step {
  return {
    name: 'EditionCheck',
    needs: [],
    provides: [],
    run() {
      if (config.edition !== 'enterprise') throw new ApiError(404, 'not_found', 'No such route.');
    },
  };
}
