import type { AddressInfo } from 'node:net';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { httpServerFor } from '../../src/server/http-server.ts';

describe("the app's HTTP server", () => {
  it("when a request arrives, then it and its response already have the app's prototypes and express works on them as usual", async () => {
    const app = express();
    const seen: boolean[] = [];
    app.get('/p/:id', (req, res) => {
      seen.push(Object.getPrototypeOf(req) === app.request, Object.getPrototypeOf(res) === app.response, req.app === app);
      res.status(201).set('X-Id', req.params.id).json({ id: req.params.id, path: req.path, query: req.query });
    });
    const server = httpServerFor(app).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/p/a%20b?x=1`, { method: 'POST' });
      expect(res.status).toBe(404);
      const ok = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/p/a%20b?x=1`);
      expect(ok.status).toBe(201);
      expect(ok.headers.get('x-id')).toBe('a b');
      expect(await ok.json()).toEqual({ id: 'a b', path: '/p/a%20b', query: { x: '1' } });
      expect(seen).toEqual([true, true, true]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
