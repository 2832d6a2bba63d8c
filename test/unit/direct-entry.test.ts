import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type ErrorRequestHandler } from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enterDirectly } from '../../src/http/direct-entry.ts';
import { rawRequest } from '../helpers/raw-http.ts';

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
  enterDirectly(app, [(_req, res) => void res.setHeader('X-First', 'yes')], { base: '/api/v1', elsewhere: /^\/api\/v1\/other(?:[/?]|$)/i, surface });
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
});
