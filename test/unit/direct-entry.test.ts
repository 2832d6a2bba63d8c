import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import express, { type ErrorRequestHandler } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enterDirectly } from '../../src/http/direct-entry.ts';
import { rawRequest } from '../helpers/raw-http.ts';
import { listenLocal } from '../helpers/listen.ts';

// The API's way in that skips express's app router (docs/performance.md) must see what
// express's way would: the same trimming, the same first middleware, the same later handlers.
let server: Server;
let base: string;
const later: { error: string; url: string; headersSent: boolean }[] = [];

beforeAll(async () => {
  const app = express();
  app.disable('x-powered-by');
  const surface: express.RequestHandler = (req, res, next) => {
    if (req.url.startsWith('/fail-late')) {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('partial');
      return next(new Error('late failure'));
    }
    res.json({ url: req.url, baseUrl: req.baseUrl, first: res.getHeader('x-first') ?? null });
  };
  enterDirectly(app, [(_req, res) => void res.setHeader('X-First', 'yes')], { base: '/api/v1', elsewhere: ['/api/v1/other'], surface });
  app.use('/api/v1/other', (_req, res) => void res.json({ other: true }));
  app.use('/api/v1', surface);
  app.use((_req, res) => void res.status(404).json({ nowhere: true }));
  const afterwards: ErrorRequestHandler = (err: Error, req, res, next) => {
    later.push({ error: err.message, url: req.url, headersSent: res.headersSent });
    if (res.headersSent) return void res.end();
    next(err);
  };
  app.use(afterwards);
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

const get = async (path: string) => {
  const r = await rawRequest(base, { method: 'GET', path });
  return { status: r.status, body: r.body.length ? (JSON.parse(r.body.toString()) as Record<string, unknown>) : null, first: r.headers['x-first'] };
};

describe('a surface entered directly', () => {
  it('when its path comes in the usual form or another one express reads the same, then the surface sees the same trimming and the first middleware ran', async () => {
    for (const [path, url] of [
      ['/api/v1/me', '/me'],
      ['/api/v1/me?x=1', '/me?x=1'],
      ['/api/v1/', '/'],
      ['/api/v1/?x=1', '/?x=1'],
      ['/API/v1/me', '/me'],
      // express keeps an absolute URL's scheme and host when it trims.
      ['http://127.0.0.1/api/v1/me', 'http://127.0.0.1/me'],
      ['/api/v1/me#frag', '/me#frag'],
    ] as const) {
      const r = await get(path);
      expect(r.status, path).toBe(200);
      expect(r.body, path).toEqual({ url, baseUrl: path.startsWith('/API') ? '/API/v1' : '/api/v1', first: 'yes' });
      expect(r.first, path).toBe('yes');
    }
  });

  it('when a path belongs to an earlier mount or to no surface, then express routes it as before', async () => {
    expect((await get('/api/v1/other/x')).body).toEqual({ other: true });
    expect((await get('/api/v1/OTHER?y')).body).toEqual({ other: true });
    expect((await get('/api/v1x')).body).toEqual({ nowhere: true });
    expect((await get('/elsewhere')).first).toBe('yes');
    // Not OAuth's prefix: only a whole segment is.
    expect((await get('/api/v1/otherwise')).body).toMatchObject({ url: '/otherwise' });
  });

  it('when the surface passes an error on after answering, then the later error handlers get it with the URL as it came', async () => {
    later.length = 0;
    const r = await rawRequest(base, { method: 'GET', path: '/api/v1/fail-late?z=1' });
    expect(r.body.toString()).toBe('partial');
    expect(later).toEqual([{ error: 'late failure', url: '/api/v1/fail-late?z=1', headersSent: true }]);
  });

  it('when X-Powered-By is on and the surface passes an error on after answering, then the later error handlers get it and the server stays up', async () => {
    const seen: string[] = [];
    const { url, close } = await serve((app) => {
      // express's default: X-Powered-By on. Re-entering app.handle set it again on a started response and threw out of the server.
      const surface: express.RequestHandler = (req, res, next) => {
        if (req.url.startsWith('/fail-late')) {
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.write('partial');
          return next(new Error('late failure'));
        }
        res.json({ url: req.url });
      };
      enterDirectly(app, [], { base: '/api/v1', elsewhere: [], surface });
      app.use('/api/v1', surface);
      app.use(((err: Error, _req, res, next) => {
        seen.push(err.message);
        if (!res.headersSent) return next(err);
        res.end();
      }) as ErrorRequestHandler);
    });
    try {
      const late = await rawRequest(url, { method: 'GET', path: '/api/v1/fail-late' });
      expect(late.body.toString()).toBe('partial');
      expect(seen).toEqual(['late failure']);
      const ok = await rawRequest(url, { method: 'GET', path: '/api/v1/me' });
      expect(ok.status).toBe(200);
      expect(ok.headers['x-powered-by']).toBe('Express');
    } finally {
      await close();
    }
  });

  it('when a first middleware or the surface throws, then the later error handlers answer, as on express\'s way, and the server stays up', async () => {
    const { url, close } = await serve((app) => {
      app.disable('x-powered-by');
      const surface: express.RequestHandler = (req, res) => {
        if (req.headers['x-throw'] === 'surface') throw new Error('thrown by the surface');
        res.json({ url: req.url });
      };
      const first = (req: express.Request) => {
        if (req.headers['x-throw'] === 'before') throw new Error('thrown before');
      };
      enterDirectly(app, [first], { base: '/api/v1', elsewhere: [], surface });
      app.use('/api/v1', surface);
      app.use(((err: Error, _req, res, next) => (res.headersSent ? next(err) : void res.status(500).json({ handled: err.message }))) as ErrorRequestHandler);
    });
    try {
      for (const where of ['before', 'surface']) {
        for (const path of ['/api/v1/me', '/API/v1/me']) {
          const r = await rawRequest(url, { method: 'GET', path, headers: { 'x-throw': where } });
          expect(r.status, `${where} ${path}`).toBe(500);
          expect(JSON.parse(r.body.toString()), `${where} ${path}`).toEqual({ handled: where === 'before' ? 'thrown before' : 'thrown by the surface' });
        }
      }
      expect((await rawRequest(url, { method: 'GET', path: '/api/v1/me' })).status).toBe(200);
    } finally {
      await close();
    }
  });
});

/** An app of its own on port 0, set up by `build`. */
async function serve(build: (app: express.Express) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express();
  build(app);
  return listenLocal(createServer(app));
}
