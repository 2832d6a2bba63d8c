import { describe, expect, it } from 'vitest';
import { responseProblems, type RecordedResponse } from '../helpers/spec.ts';

const RID = '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f';
const rate = { 'ratelimit-limit': '60', 'ratelimit-remaining': '59', 'ratelimit-reset': '60' };
const principal = {
  sub: 'a',
  principal_type: 'user',
  email: 'ada@example.com',
  display_name: 'Ada',
  prefix: 'tsa_',
  scopes: ['full'],
  expires_at: null,
  subject_issuer: 'tessera:account',
  default_workspace_id: null,
};
const error = (code: string) => ({ error: code, message: 'm', request_id: RID });

function res(over: Partial<RecordedResponse> & { json?: unknown; text?: string }): RecordedResponse {
  const { json, text, ...rest } = over;
  return {
    method: 'GET',
    url: '/openapi/v1/me',
    status: 200,
    headers: { 'x-request-id': RID, 'content-type': 'application/json; charset=utf-8', ...rate },
    body: Buffer.from(text ?? JSON.stringify(json ?? principal)),
    partial: false,
    ...rest,
  };
}

const event = { event: 'message', task_id: RID, message_id: RID, answer: 'Hi ', created_at: 1 };
const sse = (...lines: string[]) => ({
  method: 'POST',
  url: `/openapi/v1/apps/${RID}/chat-messages/stream`,
  headers: { 'x-request-id': RID, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', ...rate },
  text: lines.join(''),
});

describe('the response contract check', () => {
  it('when a response is exactly what the spec declares, then it reports nothing', () => {
    expect(responseProblems(res({}))).toEqual([]);
    expect(responseProblems(res(sse(`data: ${JSON.stringify(event)}\n\n`, `data: ${JSON.stringify({ event: 'ping', task_id: RID })}\n\n`)))).toEqual([]);
  });

  it('when a status is not declared for the operation, then it is reported', () => {
    const [problem] = responseProblems(res({ status: 418, json: error('teapot') }));
    expect(problem).toMatch(/status 418 is not declared for getMe/);
  });

  it('when a required header is missing or a header is not declared, then each is reported', () => {
    const withoutId = { ...res({}).headers };
    delete withoutId['x-request-id'];
    expect(responseProblems(res({ headers: withoutId }))).toEqual([expect.stringMatching(/required header X-Request-Id is missing/)]);
    const extra = res({ headers: { ...res({}).headers, 'x-powered-by': 'Express' } });
    expect(responseProblems(extra)).toEqual([expect.stringMatching(/header x-powered-by is sent but not declared/)]);
  });

  it('when a header value breaks its schema, then it is reported', () => {
    const bad = res({ headers: { ...res({}).headers, 'ratelimit-reset': '0' } });
    expect(responseProblems(bad)).toEqual([expect.stringMatching(/header RateLimit-Reset/)]);
  });

  it('when the body or the media type breaks the spec, then it is reported', () => {
    expect(responseProblems(res({ json: { ...principal, scopes: ['root'] } }))[0]).toMatch(/body .*scopes/);
    expect(responseProblems(res({ headers: { ...res({}).headers, 'content-type': 'text/html' }, text: '<p>' }))[0]).toMatch(/Content-Type text\/html is not declared/);
  });

  it('when a stream event uses event: or id: fields, is not JSON, or breaks its schema, then it is reported', () => {
    expect(responseProblems(res(sse(`event: message\ndata: ${JSON.stringify(event)}\n\n`)))[0]).toMatch(/not exactly one "data:" line/);
    expect(responseProblems(res(sse('data: nope\n\n')))[0]).toMatch(/not JSON/);
    expect(responseProblems(res(sse(`data: ${JSON.stringify({ ...event, event: 'nope' })}\n\n`)))[0]).toMatch(/event .*nope/);
  });

  it('when a path exists but not with the method, then only a declared 405 passes', () => {
    const notAllowed = { status: 405, method: 'PUT', json: error('method_not_allowed') };
    expect(responseProblems(res({ ...notAllowed, headers: { 'x-request-id': RID, 'content-type': 'application/json', allow: 'GET, OPTIONS' } }))).toEqual([]);
    expect(responseProblems(res({ ...notAllowed, headers: { 'x-request-id': RID, 'content-type': 'application/json' } }))).toEqual([
      expect.stringMatching(/required header Allow is missing/),
    ]);
    expect(responseProblems(res({ ...notAllowed, status: 404, json: error('not_found') }))[0]).toMatch(/status 404 is not declared for PUT \/me/);
  });

  it('when the route is not a spec operation, then only the API error shape is expected', () => {
    expect(responseProblems(res({ url: '/openapi/v1/oauth/token', status: 400, json: { error: 'invalid_grant' } }))).toEqual([]);
    expect(responseProblems(res({ url: '/device', status: 200, text: '<html>' }))).toEqual([]);
    expect(responseProblems(res({ url: '/openapi/v1/nope', status: 404, json: error('not_found') }))).toEqual([]);
    expect(responseProblems(res({ url: '/openapi/v1/nope', status: 404, json: { oops: 1 } }))[0]).toMatch(/body/);
    // A target that is not valid percent-encoding names no operation, even where a parameter would match it.
    expect(responseProblems(res({ url: '/openapi/v1/me/sessions/%ff', status: 400, json: error('invalid_request') }))).toEqual([]);
  });
});
