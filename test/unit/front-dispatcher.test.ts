import { createServer, type RequestListener } from 'node:http';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frontDispatcher, runFirst, type Before } from '../../src/http/front-dispatcher.ts';
import { appServer } from '../../src/server/http-server.ts';
import { listenLocal, type Listening } from '../helpers/listen.ts';
import { rawRequest } from '../helpers/raw-http.ts';

// The API way in front of express (docs/performance.md) must hand the surface what express's
// way would: the same trimming, the same first steps; everything else goes to the app.
const seen: { way: 'api' | 'app'; url: string; baseUrl: string; originalUrl: string; linked: boolean; first: unknown }[] = [];
const later: { error: string; url: string; headersSent: boolean }[] = [];

/** An app with an API surface at /api/v1 (also mounted in the app), an earlier mount under it, and later handlers. */
function build(surface: RequestHandler, before: Before[] = [(_req, res) => void res.setHeader('X-First', 'yes')]): RequestListener {
  const app = express();
  app.disable('x-powered-by');
  app.use(runFirst(before));
  app.use('/api/v1/other', (_req, res) => void res.json({ other: true }));
  app.use('/api/v1', (req, res, next) => {
    (req as { way?: string }).way = 'app';
    surface(req, res, next);
  });
  app.use((_req, res) => void res.status(404).json({ nowhere: true }));
  app.use(((err: Error, req, res, next) => {
    later.push({ error: err.message, url: req.url, headersSent: res.headersSent });
    if (res.headersSent) return next(err);
    res.status(500).json({ handled: err.message });
  }) as ErrorRequestHandler);
  return frontDispatcher({ app, before, api: { base: '/api/v1', elsewhere: ['/api/v1/other'], surface } });
}

const surface: RequestHandler = (req, res, next) => {
  if (req.url.startsWith('/fail-late')) {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.write('partial');
    return next(new Error('late failure'));
  }
  if (req.headers['x-throw'] === 'surface') throw new Error('thrown by the surface');
  const way = (req as { way?: 'app' }).way ?? 'api';
  seen.push({ way, url: req.url, baseUrl: req.baseUrl, originalUrl: req.originalUrl, linked: req.res === res && res.req === req, first: res.getHeader('x-first') });
  res.json({ url: req.url, query: req.query, path: req.path });
};

let plain: Listening;
let born: Listening;
beforeAll(async () => {
  const handler = build(surface);
  // A server of node's own (requests get the app's prototypes from the dispatcher) and the app's server (made with them).
  plain = await listenLocal(createServer(handler));
  const { server, serve } = appServer();
  born = await listenLocal(server);
  serve({ express: express(), handler });
});
afterAll(async () => {
  await plain.close();
  await born.close();
});

const get = async (base: string, path: string, headers: Record<string, string> = {}) => {
  seen.length = 0;
  const r = await rawRequest(base, { method: 'GET', path, headers });
  return { status: r.status, body: r.body.length ? (JSON.parse(r.body.toString()) as Record<string, unknown>) : null, first: r.headers['x-first'], seen: seen[0] };
};

describe('the front dispatcher', () => {
  it('when a URL is a plain API URL, then the surface gets it trimmed as express would, with the first steps run, without entering the app', async () => {
    for (const base of [plain.url, born.url]) {
      for (const [path, url] of [
        ['/api/v1/me', '/me'],
        ['/api/v1/me?x=1', '/me?x=1'],
        ['/api/v1/', '/'],
        ['/api/v1/apps/a%20b/info', '/apps/a%20b/info'],
      ] as const) {
        const r = await get(base, path);
        expect(r.status, path).toBe(200);
        expect(r.first, path).toBe('yes');
        expect(r.seen, path).toEqual({ way: 'api', url, baseUrl: '/api/v1', originalUrl: path, linked: true, first: 'yes' });
      }
      expect((await get(base, '/api/v1/me?x=1&y=2')).body).toEqual({ url: '/me?x=1&y=2', query: { x: '1', y: '2' }, path: '/me' });
    }
  });

  it('when a URL is an API URL in another form express reads the same, then the app serves it with the same trimming', async () => {
    for (const [path, url, baseUrl] of [
      ['/API/v1/me', '/me', '/API/v1'],
      ['http://127.0.0.1/api/v1/me', 'http://127.0.0.1/me', '/api/v1'],
      ['/api/v1/me#frag', '/me#frag', '/api/v1'],
    ] as const) {
      const r = await get(plain.url, path);
      expect(r.status, path).toBe(200);
      expect(r.seen, path).toEqual({ way: 'app', url, baseUrl, originalUrl: path, linked: true, first: 'yes' });
    }
  });

  it('when a URL belongs to an earlier mount or to no surface, then the app routes it', async () => {
    expect((await get(plain.url, '/api/v1/other/x')).body).toEqual({ other: true });
    expect((await get(plain.url, '/api/v1/OTHER?y')).body).toEqual({ other: true });
    expect((await get(plain.url, '/api/v1x')).body).toEqual({ nowhere: true });
    expect((await get(plain.url, '/elsewhere')).first).toBe('yes');
    // Only a whole segment is the earlier mount's.
    expect((await get(plain.url, '/api/v1/otherwise')).seen).toMatchObject({ way: 'api', url: '/otherwise' });
  });

  it('when the surface passes an error on after answering, then the response is cut off there and the server carries on', async () => {
    later.length = 0;
    const r = await rawRequest(plain.url, { method: 'GET', path: '/api/v1/fail-late' }).catch((err: Error) => err);
    // What was sent arrived, then the connection was destroyed before the response ended.
    expect(r instanceof Error ? r.message : 'answered in full').toMatch(/aborted|socket hang up|ECONNRESET/);
    expect(later).toEqual([]);
    expect((await get(plain.url, '/api/v1/me')).status).toBe(200);
  });

  it('when a first step or the surface throws, then a bare 500 and the server carries on', async () => {
    const thrower = build(surface, [
      (req) => {
        if (req.headers['x-throw'] === 'before') throw new Error('thrown before');
      },
    ]);
    const server = await listenLocal(createServer(thrower));
    try {
      for (const where of ['before', 'surface']) {
        const r = await rawRequest(server.url, { method: 'GET', path: '/api/v1/me', headers: { 'x-throw': where } });
        expect(r.status, where).toBe(500);
        expect(r.body.length, where).toBe(0);
      }
      expect((await rawRequest(server.url, { method: 'GET', path: '/api/v1/me' })).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('when the app has X-Powered-By on, then the dispatcher refuses to be built (the two ways would answer differently)', () => {
    const app = express();
    expect(() => frontDispatcher({ app, before: [], api: { base: '/api/v1', elsewhere: [], surface } })).toThrow(/x-powered-by/);
  });
});
