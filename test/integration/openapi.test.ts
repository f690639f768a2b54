// The OpenAPI document against the real app: it is a valid OpenAPI 3.1 document; the contract's
// operations (src/contract/), the document's and the app's routes are the same set; each error code is
// listed under the catalogue's status; the access the contract states is the one the document says
// and the routes enforce, and README's route tables name every operation; its examples fit its schemas
// (and the request examples are accepted by the API); and real responses (successes and errors) fit
// the documented responses, headers included. Then the reference page: its CSP, its assets from our
// own origin, and (with Chromium) a real render with no CSP violation and no request to another origin.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type express from 'express';
import { chromium } from 'playwright-core';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { anotherApi, createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { targets } from '../helpers/http.ts';
import { startScheduler, waitForStatus, type TestScheduler } from '../helpers/scheduler.ts';
import { SCOPES } from '../../src/auth/apiKeys.ts';
import { OPERATIONS, type OperationSpec } from '../../src/contract/index.ts';
import { ERROR_CATALOGUE, ERROR_CODES } from '../../src/errors.ts';
import { DOCS_CSP } from '../../src/http/routes/docs.ts';
import { CONSOLE_PAGES } from '../../src/http/routes/console.ts';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

// The document is walked as plain JSON, as parsed.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;
type Any = Json[string];
type Method = 'get' | 'post' | 'patch' | 'delete';

const CHROMIUM = '/usr/bin/chromium';
const BASE = 'https://djs.test/';

let db: TestDb;
let t: TestApp;
let doc: Json;
let alice: Awaited<ReturnType<typeof sessionFor>>;
let ajv: Ajv2020;
let sched: TestScheduler | undefined;
const tgt = targets();
/** `METHOD /path status` of every real response checked against the document. */
const checked = new Set<string>();

/** Refs to components become absolute URIs ajv knows (each component is added under its own $id). */
const absolute = (v: unknown): Json =>
  JSON.parse(JSON.stringify(v).replaceAll('"#/components/schemas/', `"${BASE}schemas/`));
const validators = new Map<unknown, ValidateFunction>();
const validatorFor = (schema: object) => {
  let v = validators.get(schema);
  if (!v) validators.set(schema, (v = ajv.compile(absolute(schema))));
  return v;
};
function expectValid(schema: object, value: unknown, what: string) {
  const v = validatorFor(schema);
  const ok = v(value);
  expect(ok, `${what}: ${ajv.errorsText(v.errors)}\n${JSON.stringify(value)}`).toBe(true);
}

/** The operation for a concrete path (`/v1/jobs/<uuid>` matches `/v1/jobs/{id}`). */
function operationFor(method: Method, path: string): { template: string; op: Json } {
  const bare = path.split('?')[0]!;
  const exact = doc.paths[bare]?.[method];
  if (exact) return { template: bare, op: exact };
  for (const [template, item] of Object.entries(doc.paths as Record<string, Json>)) {
    const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
    if (re.test(bare) && item[method]) return { template, op: item[method] };
  }
  throw new Error(`no documented operation for ${method.toUpperCase()} ${bare}`);
}

/** Headers a response may lack although documented: they come with some codes only. */
const CONDITIONAL = new Set(['WWW-Authenticate', 'Retry-After']);

/** Checks a real response against the document: status, media type, body schema, headers. */
function conforms(method: Method, path: string, res: request.Response): request.Response {
  const { template, op } = operationFor(method, path);
  const documented = op.responses[String(res.status)];
  expect(
    documented,
    `${method.toUpperCase()} ${template} answered an undocumented ${res.status}: ${res.text}`,
  ).toBeDefined();
  const type = String(res.headers['content-type'] ?? '').split(';')[0]!;
  if (!documented.content) {
    expect(res.text ?? '', `${method} ${template} ${res.status} should have no body`).toBe('');
  } else {
    const media = documented.content[type];
    expect(media, `${method} ${template} ${res.status}: undocumented type ${type}`).toBeDefined();
    if (type === 'application/json')
      expectValid(media.schema, res.body, `${method} ${template} ${res.status}`);
  }
  for (const name of Object.keys(documented.headers ?? {})) {
    if (CONDITIONAL.has(name)) continue;
    expect(
      res.headers[name.toLowerCase()],
      `${method} ${template} ${res.status}: header ${name}`,
    ).toBeDefined();
  }
  if (res.status >= 400 && type === 'application/json')
    expect(documented.description).toContain(`\`${res.body.error.code}\``);
  checked.add(`${method.toUpperCase()} ${template} ${res.status}`);
  return res;
}

/** A request through the app, checked against the document. */
function call(
  method: Method,
  path: string,
  opts: { auth?: string; body?: unknown; headers?: Record<string, string>; raw?: [string, string] } = {},
) {
  let r = request(t.app)[method](path);
  if (opts.auth) r = r.set('Authorization', opts.auth);
  for (const [k, v] of Object.entries(opts.headers ?? {})) r = r.set(k, v);
  if (opts.raw) r = r.set('Content-Type', opts.raw[0]).send(opts.raw[1]);
  else if (opts.body !== undefined) r = r.send(opts.body as object);
  return r.then((res) => conforms(method, path, res));
}

const keys = new Map<string, string>();
/** A bearer for an API key of alice's with these scopes (one key per set of scopes). */
const keyWith = async (scopes: readonly string[]) => {
  const name = `k-${[...scopes].sort().join('+')}`;
  if (!keys.has(name)) {
    const res = await call('post', '/v1/api-keys', { auth: alice.auth, body: { name, scopes } });
    expect(res.status).toBe(201);
    keys.set(name, `Bearer ${res.body.key as string}`);
  }
  return keys.get(name)!;
};

/** Every route of an Express 5 app, as `METHOD /path` with `{param}` (router stacks, recursively). */
function appRoutes(app: express.Express): string[] {
  const out: string[] = [];
  const walk = (stack: Any[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths: string[] = [layer.route.path].flat();
        for (const p of paths)
          for (const m of Object.keys(layer.route.methods).filter((m) => m !== '_all'))
            out.push(`${m.toUpperCase()} ${prefix}${p.replace(/:(\w+)/g, '{$1}')}`);
      } else if (Array.isArray(layer.handle?.stack)) {
        // Our routers are mounted at the root (`app.use(router)`); a mount path would need adding here.
        expect(layer.slash, `a router mounted at ${String(layer.rawPath)}`).toBe(true);
        walk(layer.handle.stack, prefix);
      }
    }
  };
  walk((app as Json).router.stack, '');
  return [...new Set(out)].sort();
}

const documentedOperations = () =>
  Object.entries(doc.paths as Record<string, Json>)
    .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
/** `METHOD /path` of an operation of the contract (src/contract/). */
const named = (op: OperationSpec) => `${op.method.toUpperCase()} ${op.path}`;
const contractOperations = () => OPERATIONS.map(named).sort();

beforeAll(async () => {
  db = await createTestDb();
  t = await createTestApp(db, { JOB_CREATE_RATE_PER_MINUTE: '1000' });
  alice = await sessionFor(db, t.config, 'alice-openapi@example.com');
  const res = await request(t.app).get('/openapi.json');
  expect(res.status).toBe(200);
  doc = res.body;
  ajv = new Ajv2020({ allErrors: true, strictTypes: false, strictTuples: false });
  addFormats(ajv);
  for (const [id, schema] of Object.entries(doc.components.schemas as Record<string, Json>))
    ajv.addSchema({ ...absolute(schema), $id: `${BASE}schemas/${id}` });
});
afterAll(async () => {
  await sched?.stop();
  await tgt.closeAll();
  await t.close();
  await db.drop();
});

describe('the document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(doc.openapi).toMatch(/^3\.1\./);
  });

  it('documents every operation of the contract, and the app routes exactly those', () => {
    // The reference page's own script is an asset of /docs (like /docs/assets/*), not part of the API.
    // The console's pages (one HTML shell for client-side routes) are not API operations either.
    const consolePages = new Set(CONSOLE_PAGES.map((p) => `GET ${p.replace(/:(\w+)/g, '{$1}')}`));
    const api = appRoutes(t.app).filter((r) => r !== 'GET /docs/init.js' && !consolePages.has(r));
    expect(appRoutes(t.app)).toEqual(expect.arrayContaining([...consolePages]));
    expect(new Set(contractOperations()).size, 'an operation listed twice').toBe(OPERATIONS.length);
    expect(documentedOperations()).toEqual(contractOperations());
    expect(api).toEqual(contractOperations());
    for (const op of OPERATIONS) expect(doc.paths[op.path][op.method].operationId, named(op)).toBe(op.id);
    // Spot checks that the walk found the routers at all.
    expect(appRoutes(t.app)).toEqual(
      expect.arrayContaining([
        'POST /v1/jobs',
        'GET /v1/schedules/{id}/jobs',
        'GET /openapi.json',
        'GET /healthz',
      ]),
    );
  });

  it('lists each error code under the status the catalogue (src/errors.ts) gives it', () => {
    let listed = 0;
    for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
      for (const [method, op] of Object.entries(item)) {
        for (const [status, r] of Object.entries(op.responses as Record<string, Json>)) {
          const json = r.content?.['application/json'];
          // (Error responses say so; /readyz's 503 is a response of its own.)
          if (!String(r.description).startsWith('Error: ')) continue;
          const codes = [...String(r.description).matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!);
          const where = `${method.toUpperCase()} ${path} ${status}`;
          expect(codes.length, where).toBeGreaterThan(0);
          for (const code of codes) {
            expect(ERROR_CODES, `${where}: ${code}`).toContain(code);
            expect(ERROR_CATALOGUE[code as keyof typeof ERROR_CATALOGUE], `${where}: ${code}`).toBe(
              Number(status),
            );
          }
          expect(codes, where).toContain(json.example.error.code);
          listed += codes.length;
        }
      }
    }
    expect(listed).toBeGreaterThan(150);
  });

  it('has every schema compile under JSON Schema 2020-12, and every example fit its schema', () => {
    let examples = 0;
    for (const [path, item] of Object.entries(doc.paths as Record<string, Json>)) {
      for (const [method, op] of Object.entries(item)) {
        const where = `${method.toUpperCase()} ${path}`;
        const media = [
          ...Object.entries(op.requestBody?.content ?? {}).map(([type, m]) => [
            `${where} request ${type}`,
            m,
          ]),
          ...Object.entries(op.responses as Record<string, Json>).flatMap(([status, r]) =>
            Object.entries(r.content ?? {}).map(([type, m]) => [`${where} ${status} ${type}`, m]),
          ),
        ] as [string, Json][];
        for (const [what, m] of media) {
          validatorFor(m.schema);
          if (m.example !== undefined && what.includes('json')) {
            expectValid(m.schema, m.example, `example of ${what}`);
            examples++;
          }
        }
        for (const p of op.parameters ?? []) {
          if (!p.schema) continue;
          validatorFor(p.schema);
          if (p.example !== undefined) {
            expectValid(p.schema, p.example, `example of ${where} ?${p.name as string}`);
            examples++;
          }
        }
        expect(op.summary, where).toBeTruthy();
        expect(op.responses['500'], `${where} documents 500`).toBeDefined();
      }
    }
    expect(examples).toBeGreaterThan(60);
  });

  it('describes both security schemes and the error envelope', () => {
    expect(doc.components.securitySchemes).toMatchObject({
      session: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      apiKey: { type: 'http', scheme: 'bearer' },
    });
    expect(doc.components.schemas.Error).toMatchObject({
      type: 'object',
      required: ['error'],
      properties: { error: { required: ['code', 'message'] } },
    });
    const jobsCreate = doc.paths['/v1/jobs'].post;
    expect(jobsCreate.security).toEqual([{ session: [] }, { apiKey: ['jobs:write'] }]);
    expect(jobsCreate['x-scopes']).toEqual(['jobs:write']);
    expect(jobsCreate.parameters).toContainEqual({ $ref: '#/components/parameters/Idempotency-Key' });
    expect(doc.paths['/v1/schedules/{id}'].patch.parameters).toContainEqual({
      $ref: '#/components/parameters/If-Match',
    });
    // Request bodies are the services' own schemas: the job's limits come from this deployment's config.
    const body = jobsCreate.requestBody.content['application/json'].schema;
    expect(body.additionalProperties).toBe(false);
    expect(body.required).toEqual(['request']);
    expect(body.properties.timeout_ms).toMatchObject({ maximum: t.config.JOB_TIMEOUT_MAX_MS });
    expect(body.properties.request.properties.headers).toMatchObject({
      type: 'object',
      additionalProperties: { type: 'string' },
    });
    expect(doc.paths['/v1/healthz']).toBeUndefined();
    expect(doc.paths['/healthz'].get.security).toEqual([]);
  });
});

describe('the rules the contract states are the ones the document says and the routes enforce', () => {
  it('scopes, session-only routes and public routes', async () => {
    const allScopes = await keyWith(SCOPES);
    for (const contractOp of OPERATIONS) {
      const { method, path, access } = contractOp;
      const op = doc.paths[path][method];
      const concrete = path.replace('{id}', crypto.randomUUID());
      const where = named(contractOp);
      if (access.kind === 'public') {
        expect(op.security, where).toEqual([]);
        // (POST /v1/auth/verify answers 401 for a missing sign-in token: an HTML page, not this.)
        const res = await request(t.app)[method](concrete);
        expect(res.body?.error?.code, where).not.toBe('unauthorized');
      } else if (access.kind === 'session') {
        expect([op.security, op['x-session-only']], where).toEqual([[{ session: [] }], true]);
        const res = await request(t.app)[method](concrete).set('Authorization', allScopes);
        expect([res.status, res.body.error?.code], where).toEqual([403, 'session_required']);
      } else if (access.kind === 'scope') {
        const { scope } = access;
        expect(op['x-scopes'], where).toEqual([scope]);
        const others = await keyWith(SCOPES.filter((s) => s !== scope));
        const refused = await request(t.app)[method](concrete).set('Authorization', others);
        expect([refused.status, refused.body.error?.code], where).toEqual([403, 'insufficient_scope']);
        const only = await keyWith([scope]);
        const allowed = await request(t.app)[method](concrete).set('Authorization', only);
        expect(allowed.status, where).not.toBe(403);
        expect(allowed.status, where).not.toBe(401);
      } else {
        // A session or any key (GET /v1/me).
        expect([op.security.length, op['x-scopes'], op['x-session-only']], where).toEqual([
          2,
          undefined,
          undefined,
        ]);
        const anyKey = await keyWith(['schedules:read']);
        const res = await request(t.app)[method](concrete).set('Authorization', anyKey);
        expect(res.status, where).toBe(200);
      }
      if (access.kind !== 'public') {
        const res = await request(t.app)[method](concrete);
        expect([res.status, res.body.error?.code], `${where} without a credential`).toEqual([
          401,
          'unauthorized',
        ]);
      }
    }
  });
});

describe("the README's tables of routes", () => {
  const readme = fs.readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  /** The rows of the Markdown table whose header starts with `header`. */
  const rows = (header: string) => {
    const table = readme.split(`\n| ${header}`)[1]?.split('\n\n')[0];
    expect(table, `the README table "${header}"`).toBeDefined();
    return table!
      .split('\n')
      .slice(2)
      .map((row) =>
        row
          .split('|')
          .slice(1, 3)
          .map((c) => c.trim()),
      );
  };
  /** `METHOD /path` of every route a cell names (a query string is an example, not the path). */
  const routesIn = (cell: string) =>
    [...cell.matchAll(/`(GET|POST|PATCH|DELETE) (\/[^`?\s]*)/g)].map(([, m, p]) => `${m} ${p}`);

  it('"Route": names every operation of the contract once', () => {
    const listed = rows('Route').flatMap(([routes]) => routesIn(routes!));
    expect(listed.sort()).toEqual(contractOperations());
  });

  it('"A route needs": names every operation once, with the access the contract states', () => {
    const listed: string[] = [];
    for (const [needs, routes] of rows('A route needs')) {
      for (const route of routesIn(routes!)) {
        const op = OPERATIONS.find((o) => named(o) === route);
        const where = `${route} (README: ${needs})`;
        expect(op, where).toBeDefined();
        const scope = /^a session or `([a-z:]+)`$/.exec(needs!)?.[1];
        const expected =
          needs === 'no credential'
            ? { kind: 'public' }
            : needs === 'a session (keys: 403)'
              ? { kind: 'session' }
              : needs === 'a session or any key'
                ? { kind: 'any' }
                : { kind: 'scope', scope };
        expect(scope !== undefined || expected.kind !== 'scope', `README: unknown "${needs}"`).toBe(true);
        expect(op!.access, where).toEqual(expected);
        listed.push(route);
      }
    }
    expect(listed.sort()).toEqual(contractOperations());
  });
});

describe('real responses fit the documented ones', () => {
  it('sign-in, me, API keys, signing secret, probes', async () => {
    const magic = doc.paths['/v1/auth/magic-link'].post.requestBody.content['application/json'].example;
    expect((await call('post', '/v1/auth/magic-link', { body: magic })).status).toBe(202);
    expect((await call('post', '/v1/auth/magic-link', { body: { email: 'nope' } })).status).toBe(400);
    expect((await call('post', '/v1/auth/session', { body: { token: 'x'.repeat(43) } })).status).toBe(401);
    expect((await call('get', '/v1/me', { auth: alice.auth })).body.credential).toEqual({ kind: 'session' });
    expect(
      (await call('get', '/v1/me', { auth: await keyWith(['jobs:read']) })).body.credential,
    ).toMatchObject({ kind: 'api_key', scopes: ['jobs:read'] });
    expect((await call('get', '/v1/me')).status).toBe(401);
    expect((await call('get', '/v1/me', { auth: `Bearer djs_${'A'.repeat(43)}` })).status).toBe(401);

    const example = doc.paths['/v1/api-keys'].post.requestBody.content['application/json'].example;
    const created = await call('post', '/v1/api-keys', { auth: alice.auth, body: example });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject(example);
    expect(
      (await call('post', '/v1/api-keys', { auth: alice.auth, body: { name: 'x', scopes: [] } })).status,
    ).toBe(400);
    const keyAuth = `Bearer ${created.body.key as string}`;
    expect((await call('get', '/v1/api-keys', { auth: keyAuth })).status).toBe(403);
    const list = await call('get', '/v1/api-keys', { auth: alice.auth });
    expect(list.status).toBe(200);
    expect(list.body.data.length).toBeGreaterThan(0);
    expect((await call('delete', `/v1/api-keys/${created.body.id}`, { auth: alice.auth })).status).toBe(204);
    expect((await call('delete', `/v1/api-keys/${created.body.id}`, { auth: alice.auth })).status).toBe(404);
    expect((await call('get', '/v1/jobs', { auth: keyAuth })).status).toBe(401);

    expect((await call('get', '/v1/signing-secret', { auth: alice.auth })).status).toBe(200);
    const rotated = await call('post', '/v1/signing-secret/rotate', { auth: alice.auth });
    expect(rotated.status).toBe(200);
    expect(rotated.body.previous_secret).not.toBeNull();

    expect((await call('get', '/healthz')).status).toBe(200);
    expect((await call('get', '/readyz')).body).toEqual({ status: 'ready' });
    // Metrics are on the operator port (METRICS_PORT), not part of the API: an unknown path here.
    expect(doc.paths['/metrics']).toBeUndefined();
    expect((await request(t.app).get('/metrics')).status).toBe(404);
    expect((await call('get', '/v1/auth/verify?token=abc')).status).toBe(401); // no such link
    expect((await call('get', '/v1/auth/verify')).status).toBe(400);

    const bob = await sessionFor(db, t.config);
    expect((await call('post', '/v1/auth/logout', { auth: bob.auth })).status).toBe(204);
    expect((await call('get', '/v1/me', { auth: bob.auth })).status).toBe(401);
  });

  it('jobs: create (and idempotent replay), list, get, executions, cancel, retry, and their errors', async () => {
    const example = doc.paths['/v1/jobs'].post.requestBody.content['application/json'].example;
    const created = await call('post', '/v1/jobs', { auth: alice.auth, body: example });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const key = { 'Idempotency-Key': `k-${id}` };
    expect((await call('post', '/v1/jobs', { auth: alice.auth, body: example, headers: key })).status).toBe(
      201,
    );
    const replay = await call('post', '/v1/jobs', { auth: alice.auth, body: example, headers: key });
    expect([replay.status, replay.headers['idempotent-replayed']]).toEqual([200, 'true']);
    const reused = await call('post', '/v1/jobs', {
      auth: alice.auth,
      body: { ...example, name: 'another' },
      headers: key,
    });
    expect([reused.status, reused.body.error.code]).toEqual([409, 'idempotency_key_reused']);
    const invalid = await call('post', '/v1/jobs', {
      auth: alice.auth,
      body: { request: { method: 'GET', url: 'ftp://x' }, extra: 1 },
    });
    expect([invalid.status, invalid.body.error.code]).toEqual([400, 'validation_failed']);
    expect(
      (await call('post', '/v1/jobs', { auth: alice.auth, raw: ['application/json', '{"request":'] })).body
        .error.code,
    ).toBe('malformed_json');
    expect((await call('post', '/v1/jobs', { auth: alice.auth, raw: ['text/plain', 'hi'] })).status).toBe(
      415,
    );
    expect((await call('post', '/v1/jobs', { body: example })).status).toBe(401);
    const readOnly = await keyWith(['jobs:read']);
    expect((await call('post', '/v1/jobs', { auth: readOnly, body: example })).status).toBe(403);

    const list = await call('get', '/v1/jobs?status=scheduled&limit=1', { auth: readOnly });
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(1);
    expect(list.body.next_cursor).not.toBeNull();
    expect((await call('get', '/v1/jobs?status=bogus', { auth: alice.auth })).status).toBe(400);
    expect((await call('get', '/v1/jobs?unknown=1', { auth: alice.auth })).status).toBe(400);
    expect((await call('get', `/v1/jobs/${id}`, { auth: alice.auth })).status).toBe(200);
    expect((await call('get', `/v1/jobs/${crypto.randomUUID()}`, { auth: alice.auth })).status).toBe(404);
    expect((await call('get', '/v1/jobs/not-a-uuid', { auth: alice.auth })).status).toBe(404);
    expect((await call('post', `/v1/jobs/${id}/retry`, { auth: alice.auth })).status).toBe(409);
    expect((await call('post', `/v1/jobs/${id}/cancel`, { auth: alice.auth })).body.status).toBe('cancelled');

    // A job that really runs (and fails): executions with a response body, then cancel and retry.
    const target = await tgt.target((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('down');
    });
    sched = await startScheduler(db);
    const failing = await call('post', '/v1/jobs', {
      auth: alice.auth,
      body: {
        request: { method: 'POST', url: `${target.url}/hook`, body: '{}' },
        retry: { max_attempts: 1 },
      },
    });
    expect(failing.status).toBe(201);
    await waitForStatus(db, failing.body.id, ['failed']);
    const failed = await call('get', `/v1/jobs/${failing.body.id}`, { auth: alice.auth });
    expect(failed.body.last_execution).toMatchObject({ outcome: 'failed', status_code: 500 });
    const executions = await call('get', `/v1/jobs/${failing.body.id}/executions`, { auth: alice.auth });
    expect(executions.body.data).toEqual([
      expect.objectContaining({ attempt: 1, outcome: 'failed', status_code: 500, response_body: 'down' }),
    ]);
    expect(
      (await call('get', `/v1/jobs/${failing.body.id}/executions?cursor=zz`, { auth: alice.auth })).status,
    ).toBe(400);
    const finished = await call('post', `/v1/jobs/${failing.body.id}/cancel`, { auth: alice.auth });
    expect([finished.status, finished.body.error.code]).toEqual([409, 'job_finished']);
    const retried = await call('post', `/v1/jobs/${failing.body.id}/retry`, { auth: alice.auth });
    expect(retried.status).toBe(200);
    await waitForStatus(db, failing.body.id, ['failed']);
    await sched.stop();
  });

  it('schedules: create, get, list, preview, patch (If-Match), pause, resume, occurrences, delete', async () => {
    const example = doc.paths['/v1/schedules'].post.requestBody.content['application/json'].example;
    const created = await call('post', '/v1/schedules', { auth: alice.auth, body: example });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(created.headers.etag).toBe(created.body.etag);
    const bad = await call('post', '/v1/schedules', { auth: alice.auth, body: { ...example, cron: 'nope' } });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'validation_failed']);
    const key = { 'Idempotency-Key': `s-${id}` };
    expect(
      (await call('post', '/v1/schedules', { auth: alice.auth, body: example, headers: key })).status,
    ).toBe(201);
    expect(
      (await call('post', '/v1/schedules', { auth: alice.auth, body: example, headers: key })).status,
    ).toBe(200);

    expect((await call('get', `/v1/schedules/${id}`, { auth: alice.auth })).status).toBe(200);
    expect((await call('get', `/v1/schedules/${crypto.randomUUID()}`, { auth: alice.auth })).status).toBe(
      404,
    );
    const list = await call('get', '/v1/schedules?limit=1', { auth: alice.auth });
    expect([list.status, list.body.data.length]).toEqual([200, 1]);
    const previewParams = doc.paths['/v1/schedules/preview'].get.parameters as Json[];
    const query = new URLSearchParams(
      previewParams
        .filter((p) => p.example !== undefined)
        .map((p): [string, string] => [String(p.name), String(p.example)]),
    );
    const preview = await call('get', `/v1/schedules/preview?${query.toString()}`, { auth: alice.auth });
    expect([preview.status, preview.body.data.length]).toEqual([200, 2]);
    expect((await call('get', '/v1/schedules/preview?cron=61+*+*+*+*', { auth: alice.auth })).status).toBe(
      400,
    );

    const patchExample =
      doc.paths['/v1/schedules/{id}'].patch.requestBody.content['application/json'].example;
    const stale = await call('patch', `/v1/schedules/${id}`, {
      auth: alice.auth,
      body: patchExample,
      headers: { 'If-Match': '"v999"' },
    });
    expect([stale.status, stale.body.error.code]).toEqual([412, 'precondition_failed']);
    const patched = await call('patch', `/v1/schedules/${id}`, {
      auth: alice.auth,
      body: patchExample,
      headers: { 'If-Match': created.body.etag },
    });
    expect([patched.status, patched.body.cron]).toEqual([200, patchExample.cron]);
    expect((await call('post', `/v1/schedules/${id}/pause`, { auth: alice.auth })).body.status).toBe(
      'paused',
    );
    expect((await call('post', `/v1/schedules/${id}/resume`, { auth: alice.auth })).body.status).toBe(
      'active',
    );
    const occurrences = await call('get', `/v1/schedules/${id}/jobs`, { auth: alice.auth });
    expect(occurrences.body.data.length).toBeGreaterThan(0);
    expect(occurrences.body.data[0].schedule_id).toBe(id);
    // The same occurrence through the jobs routes to a key without schedules:read: the template withheld.
    const withheld = await call('get', `/v1/jobs/${occurrences.body.data[0].id as string}`, {
      auth: await keyWith(['jobs:read']),
    });
    expect(withheld.body).toMatchObject({ schedule_id: id, redacted: true, request: { body: null } });
    expect((await call('delete', `/v1/schedules/${id}`, { auth: alice.auth })).status).toBe(204);
    expect((await call('get', `/v1/schedules/${id}/jobs`, { auth: alice.auth })).status).toBe(404);
  });

  it('covered the core routes, successes and errors', () => {
    expect([...checked].sort()).toEqual(
      expect.arrayContaining([
        'POST /v1/jobs 201',
        'POST /v1/jobs 200',
        'POST /v1/jobs 400',
        'POST /v1/jobs 401',
        'POST /v1/jobs 403',
        'POST /v1/jobs 409',
        'POST /v1/jobs 415',
        'GET /v1/jobs 200',
        'GET /v1/jobs/{id} 200',
        'GET /v1/jobs/{id} 404',
        'GET /v1/jobs/{id}/executions 200',
        'POST /v1/jobs/{id}/cancel 200',
        'POST /v1/jobs/{id}/cancel 409',
        'POST /v1/jobs/{id}/retry 200',
        'POST /v1/jobs/{id}/retry 409',
        'POST /v1/schedules 201',
        'POST /v1/schedules 200',
        'GET /v1/schedules 200',
        'GET /v1/schedules/{id} 200',
        'GET /v1/schedules/preview 200',
        'PATCH /v1/schedules/{id} 412',
        'PATCH /v1/schedules/{id} 200',
        'GET /v1/schedules/{id}/jobs 200',
        'POST /v1/api-keys 201',
        'GET /v1/api-keys 200',
        'GET /v1/api-keys 403',
        'DELETE /v1/api-keys/{id} 404',
      ]),
    );
  });
});

describe('the reference page', () => {
  it('is HTML with a strict CSP, and its scripts and styles come from our origin', async () => {
    const page = await request(t.app).get('/docs');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const csp = page.headers['content-security-policy'] as string;
    expect(csp).toBe(DOCS_CSP);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:|\*/);
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    // No inline script; every asset a same-origin path.
    expect(page.text).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
    const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const a of assets) {
      expect(a, 'same-origin path').toMatch(/^\/(?!\/)/);
      const res = await request(t.app).get(a);
      expect(res.status, a).toBe(200);
      expect(res.headers['x-content-type-options'], a).toBe('nosniff');
      if (a.endsWith('.js')) expect(res.headers['content-type'], a).toMatch(/javascript/);
      if (a.endsWith('.css')) expect(res.headers['content-type'], a).toMatch(/^text\/css/);
    }
    // Only the files the page uses are served from the package.
    expect((await request(t.app).get('/docs/assets/index.html')).status).toBe(404);
    expect((await request(t.app).get('/docs/assets/swagger-initializer.js')).status).toBe(404);
    expect((await request(t.app).get('/docs/assets/../package.json')).status).toBe(404);
  });

  it.skipIf(!fs.existsSync(CHROMIUM))(
    'renders every operation in Chromium with no CSP violation and no request elsewhere',
    async () => {
      const server = http.createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      // This deployment's public URL is the origin the browser sees: the document's server, so
      // "Try it out" calls it.
      const { app } = anotherApi(db, t, { config: { PUBLIC_URL: origin } });
      server.on('request', app);
      const browser = await chromium.launch({ executablePath: CHROMIUM });
      try {
        const page = await browser.newPage();
        const problems: string[] = [];
        const requested: string[] = [];
        page.on('console', (m) => {
          if (m.type() === 'error') problems.push(m.text());
        });
        page.on('pageerror', (e) => problems.push(String(e)));
        page.on('request', (r) => requested.push(r.url()));
        // (Chromium also logs each violation as a console error; this names the directive.)
        await page.addInitScript({
          content: `document.addEventListener('securitypolicyviolation', (e) =>
            console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));`,
        });
        await page.goto(`${origin}/docs`);
        await page.waitForSelector('.opblock', { timeout: 20_000 });
        const operations = documentedOperations().length;
        await expect.poll(() => page.locator('.opblock').count(), { timeout: 10_000 }).toBe(operations);
        expect(await page.locator('.information-container .title').innerText()).toContain(
          'dist-job-scheduler',
        );
        // The stylesheet applied (an operation's summary is a flex row only with it).
        const summary = page.locator('#operations-jobs-createJob .opblock-summary');
        // (globalThis: the tests compile without the DOM types.)
        expect(await summary.evaluate((e) => (globalThis as Json).getComputedStyle(e).display)).toBe('flex');
        // Open an operation, its schema and "Try it out", and run it (a same-origin request, answered 401).
        await summary.click();
        await page.locator('#operations-jobs-createJob .opblock-body').waitFor();
        await page.locator('#operations-jobs-createJob button.try-out__btn').click();
        await page.locator('#operations-jobs-createJob button.execute').click();
        await page.locator('#operations-jobs-createJob .responses-table.live-responses-table').waitFor();
        expect(await page.locator('#operations-jobs-createJob .live-responses-table').innerText()).toContain(
          '401',
        );
        await page
          .locator('#operations-jobs-createJob .opblock-section-request-body button:has-text("Schema")')
          .click();
        await page
          .locator('#operations-jobs-createJob .opblock-section-request-body .model-box')
          .first()
          .waitFor();
        // (The 401 of "Try it out" without a token is logged as a failed resource load: expected.)
        expect(problems.filter((p) => !p.includes('status of 401'))).toEqual([]);
        // The watch works: an inline stylesheet is refused, and reported.
        await page.evaluate(
          `document.head.append(Object.assign(document.createElement('style'), { textContent: 'a{}' }))`,
        );
        await expect
          .poll(() => problems.some((p) => p.includes('CSP violation: style-src')), { timeout: 5000 })
          .toBe(true);
        expect(requested.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('data:'))).toEqual([]);
      } finally {
        await browser.close();
        await new Promise<void>((r) => server.close(() => r()));
        server.closeAllConnections();
      }
    },
  );
});
