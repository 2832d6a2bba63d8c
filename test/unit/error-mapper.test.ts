import { describe, expect, it } from 'vitest';
import { toApiError } from '../../src/http/error-mapper.ts';
import { createLogger } from '../../src/logger.ts';
import { DatabaseUnavailableError } from '../../src/storage/db.ts';
import { StoreUnavailableError } from '../../src/storage/store/index.ts';

const log = createLogger('silent');

describe('error mapper (resource routes)', () => {
  it('when something unexpected is thrown, then 500 internal_error with nothing internal in the message', () => {
    const e = toApiError(new Error('password=hunter2 at db.ts:42'), log, 'rid');
    expect(e.status).toBe(500);
    expect(e.code).toBe('internal_error');
    expect(e.message).not.toMatch(/hunter2|db\.ts/);
  });
  it('when a dependency is down, then 503 service_unavailable', () => {
    expect(toApiError(new StoreUnavailableError(new Error('x')), log, 'r').status).toBe(503);
    expect(toApiError(new DatabaseUnavailableError(new Error('x')), log, 'r').code).toBe('service_unavailable');
  });
  it('when body parsing fails, then 400 or 413', () => {
    expect(toApiError(Object.assign(new Error('bad'), { type: 'entity.parse.failed' }), log, 'r').status).toBe(400);
    expect(toApiError(Object.assign(new Error('big'), { type: 'entity.too.large' }), log, 'r').status).toBe(413);
  });
});
