import { describe, expect, it } from 'vitest';
import { capDetails, toApiError } from '../../src/http/error-mapper.ts';
import { asRequestProblem, isWellEncoded } from '../../src/http/request-problem.ts';
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
  it('when body-parser could not decode a body or does not know its encoding, then 400 or 415, not 500', () => {
    const zlib = Object.assign(new Error('unexpected end of file'), { code: 'Z_BUF_ERROR', status: 400, statusCode: 400, expose: true });
    expect(toApiError(zlib, log, 'r')).toMatchObject({ status: 400, code: 'invalid_request' });
    const compress = Object.assign(new Error('unsupported content encoding "compress"'), { type: 'encoding.unsupported', status: 415, expose: true });
    expect(toApiError(compress, log, 'r')).toMatchObject({ status: 415, code: 'unsupported_media_type' });
    const aborted = Object.assign(new Error('request aborted'), { type: 'request.aborted', status: 400, expose: true });
    expect(asRequestProblem(aborted)?.kind).toBe('body_aborted');
  });
  it('when the router cannot decode a path parameter, then 400, not 500', () => {
    expect(toApiError(new URIError("Failed to decode param '%ff'"), log, 'r')).toMatchObject({ status: 400, code: 'invalid_request' });
  });
});

describe('request problems', () => {
  it('when a path is percent-encoded, then only well-formed escapes of valid UTF-8 pass', () => {
    for (const ok of ['/apps/x', '/a%20b', '/%E2%82%AC', '/%2F%2e']) expect(isWellEncoded(ok), ok).toBe(true);
    for (const bad of ['/%ff', '/%', '/%zz', '/%E0%A4%A', '/%C0%AE%C0%AE', '/%ed%a0%80']) expect(isWellEncoded(bad), bad).toBe(false);
  });
  it('when there are more than 20 problems, then 20 are listed and one entry counts the rest', () => {
    const many = Array.from({ length: 50 }, (_, i) => ({ path: `/body/k${i}`, message: 'x'.repeat(1000) }));
    const capped = capDetails(many);
    expect(capped).toHaveLength(21);
    expect(capped[0]!.message.length).toBeLessThanOrEqual(200);
    expect(capped[20]).toEqual({ path: '', message: '30 more problems not shown' });
    expect(capDetails(many.slice(0, 20))).toHaveLength(20);
  });
});
