// API fuzzing: thousands of random requests over every route (bad JSON, wrong types, huge strings,
// unicode, hostile ids and cursors, odd content types, missing or forged auth). Verdicts: no 5xx,
// ever, and a rejected request never writes a row.
import fc from 'fast-check';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';

let db: TestDb;
let app: TestApp;
let auth: string;
let jobId: string;

beforeAll(async () => {
  db = await createTestDb();
  app = await createTestApp(db, {
    TARGET_ALLOWLIST: '',
    MAGIC_LINK_RATE_PER_IP_PER_HOUR: '100000',
    MAGIC_LINK_RATE_PER_EMAIL_PER_HOUR: '10000',
  });
  auth = (await sessionFor(db, app.config, 'fuzz@example.com')).auth;
  const res = await request(app.app)
    .post('/v1/jobs')
    .set('Authorization', auth)
    .send({ request: { method: 'GET', url: 'https://example.com/' }, delay_seconds: 3600 });
  jobId = res.body.id;
});
afterAll(async () => {
  await app.close();
  await db.drop();
});

const rowCounts = async () =>
  (
    await db.pool.query(
      `SELECT (SELECT count(*) FROM jobs) + (SELECT count(*) FROM users) + (SELECT count(*) FROM magic_links)
            + (SELECT count(*) FROM job_executions) AS n,
              (SELECT string_agg(status || attempts, ',' ORDER BY id) FROM jobs) AS states,
              (SELECT string_agg(token_version::text || signing_key_version::text, ',' ORDER BY id) FROM users) AS versions`,
    )
  ).rows[0] as { n: number; states: string; versions: string };

const weirdString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\r\n',
    '%00',
    "' OR 1=1 --",
    '../../etc/passwd',
    '😀'.repeat(100),
    'a'.repeat(5000),
    'NaN',
    'null',
    '-1',
    '1e309',
  ),
);
const id = fc.oneof(fc.uuid(), weirdString, fc.constant('00000000-0000-0000-0000-000000000000'));
const jsonish = fc.oneof(
  fc.json(),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  weirdString,
  fc.constantFrom('{', '[', '{"request":', '{"email": "a@b.c"', 'true', '{"__proto__": {"admin": true}}'),
  fc
    .record(
      {
        name: weirdString,
        request: fc.record(
          {
            method: weirdString,
            url: fc.oneof(fc.webUrl(), weirdString),
            headers: fc.dictionary(weirdString, weirdString),
            body: weirdString,
          },
          { requiredKeys: [] },
        ),
        fire_at: fc.oneof(
          weirdString,
          fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        ),
        delay_seconds: fc.oneof(fc.integer(), fc.double(), weirdString),
        timeout_ms: fc.oneof(fc.integer(), fc.double()),
        retry: fc.anything(),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
);
const routes = fc.oneof(
  fc.record({ m: fc.constant('post'), p: fc.constant('/v1/jobs') }),
  fc.record({
    m: fc.constant('get'),
    p: fc
      .tuple(weirdString, weirdString, weirdString)
      .map(
        ([s, c, l]) =>
          `/v1/jobs?status=${encodeURIComponent(s)}&cursor=${encodeURIComponent(c)}&limit=${encodeURIComponent(l)}`,
      ),
  }),
  fc.record({
    m: fc.constant('get'),
    p: fc
      .tuple(weirdString, weirdString)
      .map(([a, b]) => `/v1/jobs?fire_at_from=${encodeURIComponent(a)}&fire_at_to=${encodeURIComponent(b)}`),
  }),
  fc.record({ m: fc.constant('get'), p: id.map((i) => `/v1/jobs/${encodeURIComponent(i)}`) }),
  fc.record({ m: fc.constant('get'), p: id.map((i) => `/v1/jobs/${encodeURIComponent(i)}/executions`) }),
  fc.record({
    m: fc.constantFrom('post'),
    p: fc
      .tuple(id, fc.constantFrom('cancel', 'retry'))
      .map(([i, a]) => `/v1/jobs/${encodeURIComponent(i)}/${a}`),
  }),
  fc.record({
    m: fc.constant('post'),
    p: fc.constantFrom('/v1/auth/magic-link', '/v1/auth/session', '/v1/auth/verify'),
  }),
  fc.record({
    m: fc.constant('get'),
    p: weirdString.map((t) => `/v1/auth/verify?token=${encodeURIComponent(t)}`),
  }),
  fc.record({
    m: fc.constantFrom('get', 'put', 'delete', 'patch'),
    p: fc.constantFrom('/v1/me', '/v1/signing-secret', '/v1/jobs', '/healthz', '/nope'),
  }),
);
const contentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin-9',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  undefined,
);
const authHeader = fc.oneof(
  fc.constant<string | undefined>(undefined),
  fc.constant('AUTH'),
  weirdString.map((s) => `Bearer ${s}`),
  fc.constant('Bearer a.b.c'),
);

describe('API fuzzing', () => {
  it('2,000 random requests over all routes: zero 5xx, zero rows written by rejected requests', async () => {
    const statuses = new Map<number, number>();
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(
        routes,
        jsonish,
        contentType,
        authHeader,
        fc.boolean(),
        async (route, body, ct, authz, targetRealJob) => {
          const path = targetRealJob ? route.p.replace(/\/v1\/jobs\/[^/?]+/, `/v1/jobs/${jobId}`) : route.p;
          const before = await rowCounts();
          let req = request(app.app)[route.m as 'get'](path);
          const a = authz === 'AUTH' ? auth : authz;
          try {
            if (a) req = req.set('Authorization', a);
            if (ct) req = req.set('Content-Type', ct);
          } catch {
            return; // the HTTP client itself refuses such a header (CR/LF): nothing reaches us
          }
          let res: request.Response;
          try {
            res = route.m === 'get' ? await req : await req.send(body);
          } catch (err) {
            // Node's HTTP client refuses to send a header with CR/LF or non-Latin-1: nothing reached us.
            if ((err as { code?: string }).code === 'ERR_INVALID_CHAR') return;
            throw err;
          }
          sent++;
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          expect(
            res.status,
            `${route.m.toUpperCase()} ${path} -> ${res.status} ${res.text.slice(0, 200)}`,
          ).toBeLessThan(500);
          if (res.status >= 400) {
            expect(await rowCounts(), `${route.m.toUpperCase()} ${path} was rejected but wrote`).toEqual(
              before,
            );
            expect(res.body?.error?.code ?? 'html', `${path}: error envelope`).toMatch(/^[a-z_]+$/);
          }
        },
      ),
      { numRuns: 2300, seed: 20261123 },
    );
    console.log(
      `[fuzz] ${sent} requests, statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`,
    );
    expect(sent).toBeGreaterThanOrEqual(2000);
  }, 300_000);
});
