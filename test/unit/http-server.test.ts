import express from 'express';
import { describe, expect, it } from 'vitest';
import { appServer } from '../../src/server/http-server.ts';
import { listenLocal } from '../helpers/listen.ts';

describe("the app's HTTP server", () => {
  it("when a request arrives, then it and its response already have the app's prototypes and express works on them as usual", async () => {
    const app = express();
    const seen: boolean[] = [];
    app.get('/p/:id', (req, res) => {
      seen.push(Object.getPrototypeOf(req) === app.request, Object.getPrototypeOf(res) === app.response, req.app === app);
      res.status(201).set('X-Id', req.params.id).json({ id: req.params.id, path: req.path, query: req.query });
    });
    const server = await listenLocal(appServer({ express: app, handler: app }).server);
    try {
      const res = await fetch(`${server.url}/p/a%20b?x=1`, { method: 'POST' });
      expect(res.status).toBe(404);
      const ok = await fetch(`${server.url}/p/a%20b?x=1`);
      expect(ok.status).toBe(201);
      expect(ok.headers.get('x-id')).toBe('a b');
      expect(await ok.json()).toEqual({ id: 'a b', path: '/p/a%20b', query: { x: '1' } });
      expect(seen).toEqual([true, true, true]);
    } finally {
      await server.close();
    }
  });

  it('when it listens before it has its app, then it answers 503 until then, and the app after', async () => {
    const { server, serve } = appServer();
    const listening = await listenLocal(server);
    try {
      expect((await fetch(`${listening.url}/x`)).status).toBe(503);
      const app = express();
      app.get('/x', (req, res) => void res.json({ own: Object.getPrototypeOf(req) === app.request }));
      serve({ express: app, handler: app });
      expect(await (await fetch(`${listening.url}/x`)).json()).toEqual({ own: true });
    } finally {
      await listening.close();
    }
  });
});
