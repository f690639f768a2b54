// The registrar on a bare Express app (no database): what it refuses at startup (a route that an
// earlier one would swallow, an access that contradicts its guard, an operation left without a
// route), and what it does per request (a malformed id is the resource's 404, the query is parsed,
// Cache-Control is set before the handler runs, the declared headers are sent).
import express, { type RequestHandler } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineOperations, type RequestSchemas } from '../../src/contract/index.ts';
import { errorHandler } from '../../src/http/middleware.ts';
import { Registrar } from '../../src/http/registrar.ts';
import { silentLogger } from '../../src/logger.ts';

const Thing = z.strictObject({ id: z.string(), n: z.number() });
const ops = defineOperations({
  listThings: {
    method: 'get',
    path: '/things',
    tag: 'jobs',
    summary: 'things',
    access: { kind: 'public' },
    query: {
      schema: z.strictObject({
        n: z.string().regex(/^\d+$/, 'must be digits').transform(Number).optional(),
      }),
    },
    responses: { 200: { description: 'ok', schema: Thing } },
  },
  countThings: {
    method: 'get',
    path: '/things/counts',
    tag: 'jobs',
    summary: 'counts',
    access: { kind: 'public' },
    responses: { 200: { description: 'ok', schema: Thing } },
  },
  getThing: {
    method: 'get',
    path: '/things/{id}',
    tag: 'jobs',
    summary: 'a thing',
    access: { kind: 'public' },
    params: { id: { resource: 'thing', description: 'its id' } },
    responses: {
      201: { description: 'made', schema: Thing, headers: ['Location', 'Cache-Control'] },
      200: { description: 'replayed', schema: Thing, headers: ['Idempotent-Replayed'] },
    },
  },
  guarded: {
    method: 'get',
    path: '/keys',
    tag: 'api-keys',
    summary: 'keys',
    access: { kind: 'scope', scope: 'jobs:read' },
    responses: { 204: { description: 'none' } },
  },
});

const noUser: RequestHandler = (_req, _res, next) => next(new Error('requireUser ran'));
const registrar = () =>
  new Registrar({
    requireUser: noUser,
    schemas: {} as RequestSchemas,
    parsers: { job: express.json(), batch: express.json() },
  });
const app = (router: express.Router) =>
  express().use(router).use(errorHandler(silentLogger)) as express.Express;

describe('the registrar', () => {
  it('refuses, at startup, a route that an earlier one would swallow', () => {
    const r = registrar().router();
    r.json(ops.getThing, ({ id }) => ({ status: 200, body: { id, n: 1 } }));
    expect(() => r.json(ops.countThings, () => ({ status: 200, body: { id: 'c', n: 0 } }))).toThrow(
      'countThings: register it before getThing',
    );
  });

  it('refuses an access that contradicts the guard of its prefix, and an operation without a route', () => {
    const reg = registrar();
    const r = reg.router([{ prefix: '/keys', access: 'session' }]);
    expect(() => r.json(ops.guarded, () => ({ status: 204 }))).toThrow('contradicts the guard of /keys');
    expect(() => reg.assertComplete([ops.guarded])).toThrow('no route for guarded');
  });

  it('types a reply by its operation (checked by npm run typecheck: an unused @ts-expect-error fails it)', () => {
    const r = registrar().router();
    // @ts-expect-error a field of the response schema (`n`) is missing
    r.json(ops.countThings, () => ({ status: 200, body: { id: 'c' } }));
    // @ts-expect-error a status the operation does not declare
    r.json(ops.listThings, () => ({ status: 201, body: { id: 'c', n: 1 } }));
    // @ts-expect-error Location is declared for 201, so the handler must give it
    r.json(ops.getThing, () => ({ status: 201, body: { id: 'c', n: 1 } }));
  });

  it("answers a malformed id with the resource's 404, parses the query, and sends the declared headers", async () => {
    const r = registrar().router();
    let cacheControlSeen: unknown;
    r.json(ops.listThings, ({ query }) => ({ status: 200, body: { id: 'list', n: query.n ?? -1 } }));
    r.json(ops.getThing, ({ id, res }) => {
      cacheControlSeen = res.getHeader('Cache-Control');
      return id.startsWith('0')
        ? { status: 201, body: { id, n: 1 }, headers: { Location: `/things/${id}` } }
        : { status: 200, body: { id, n: 2 } };
    });
    const a = app(r.router);

    const bad = await request(a).get('/things/nope');
    expect([bad.status, bad.body.error]).toEqual([404, { code: 'not_found', message: 'thing not found' }]);
    expect((await request(a).get('/things?n=7')).body).toEqual({ id: 'list', n: 7 });
    const invalid = await request(a).get('/things?n=x');
    expect([invalid.status, invalid.body.error.details]).toEqual([
      400,
      [{ path: 'n', message: 'must be digits' }],
    ]);

    const id = '0f6c1a52-8d0e-4b7a-9c55-2e1f0a7b9d14';
    const made = await request(a).get(`/things/${id}`);
    expect(made.status).toBe(201);
    expect(made.headers).toMatchObject({ location: `/things/${id}`, 'cache-control': 'no-store' });
    expect(made.headers['idempotent-replayed']).toBeUndefined();
    expect(cacheControlSeen).toBe('no-store');
    const replayed = await request(a).get(`/things/${id.replace(/^0/, 'a')}`);
    expect([replayed.status, replayed.headers['idempotent-replayed']]).toEqual([200, 'true']);
  });
});
