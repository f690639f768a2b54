// API fuzzing against the real server (src/server.ts's startServer: http.createServer + the app, on
// loopback). Two parts:
// 1. thousands of random requests over every route (bad JSON, wrong types, huge strings, unicode,
//    hostile ids and cursors, odd content types, missing or forged auth);
// 2. a hostile matrix: EVERY field of EVERY route (JSON fields and nested ones, query parameters, path
//    parameters, headers, the sign-in form field, the whole body) given NUL, other C0 controls, lone
//    surrogates and invalid UTF-8, 1 MiB strings, 10,000-deep JSON and wrong types, written byte for
//    byte on a socket (Node's client refuses most of these).
// Verdicts: no 5xx, ever; every 4xx carries `{"error":{"code","message"}}` with a stable code (except
// the HTML pages of /v1/auth/verify); a rejected request writes no row (counted by triggers).
// Seeds are fixed: a failure names route, field, generator and value, and reproduces. Method, path
// and credential come from the contract (src/contract/): every operation needs an entry in FUZZ.
import fs from 'node:fs';
import fc from 'fast-check';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { sessionFor, testConfig } from '../helpers/app.ts';
import { rawRequest, type RawRequest, type RawResult } from '../helpers/raw-http.ts';
import {
  GENERATORS,
  hostile,
  insertRaw,
  jsonKey,
  jsonValue,
  targetPart,
  textBytes,
  type ChannelLimits,
  type Generator,
  type Hostile,
} from '../helpers/hostile.ts';
import { auditedWrites, capturingLogger, envelopeProblem, installWriteAudit } from '../helpers/fuzzAudit.ts';
import { startServer, type RunningServer } from '../../src/server.ts';
import type { Config } from '../../src/config.ts';
import { encodeCursor, encodeExecutionCursor } from '../../src/jobs/representation.ts';
import { OPERATIONS } from '../../src/contract/index.ts';

const SEED = 20261123;
/** Hostile samples per (route, field, generator). */
const SAMPLES = 2;

let db: TestDb;
let config: Config;
let server: RunningServer;
let baseUrl: string;
let port: number;
let auth: string;
let logoutAuth: string;
let jobId: string;
let cancelJobId: string;
let scheduleId: string;
let apiKeyId: string;
let deleteScheduleId: string;

const { logger: captureLog, causeOf } = capturingLogger();

beforeAll(async () => {
  db = await createTestDb();
  // Every row written to our tables bumps one counter: a rejected request must leave it unchanged.
  await installWriteAudit(db.pool);
  config = testConfig(db.url, {
    HOST: '127.0.0.1',
    PORT: '0',
    TARGET_ALLOWLIST: '',
    MAGIC_LINK_RATE_PER_IP_PER_HOUR: '100000',
    MAGIC_LINK_RATE_PER_EMAIL_PER_HOUR: '10000',
  });
  server = await startServer(config, captureLog);
  baseUrl = server.url.replace('localhost', '127.0.0.1');
  port = Number(new URL(baseUrl).port);
  auth = (await sessionFor(db, config, 'fuzz@example.com')).auth;
  logoutAuth = (await sessionFor(db, config, 'fuzz-logout@example.com')).auth;
  const create = () =>
    request(baseUrl)
      .post('/v1/jobs')
      .set('Authorization', auth)
      .send({ request: { method: 'GET', url: 'https://example.com/' }, delay_seconds: 3600 });
  jobId = (await create()).body.id;
  cancelJobId = (await create()).body.id;
  expect(jobId).toMatch(/^[0-9a-f-]{36}$/);
  scheduleId = (await request(baseUrl).post('/v1/schedules').set('Authorization', auth).send(validSchedule()))
    .body.id;
  deleteScheduleId = (
    await request(baseUrl).post('/v1/schedules').set('Authorization', auth).send(validSchedule())
  ).body.id;
  apiKeyId = (
    await request(baseUrl)
      .post('/v1/api-keys')
      .set('Authorization', auth)
      .send({ name: 'fuzz', scopes: ['jobs:read'] })
  ).body.id;
  expect(scheduleId).toMatch(/^[0-9a-f-]{36}$/);
  expect(deleteScheduleId).toMatch(/^[0-9a-f-]{36}$/);
  expect(apiKeyId).toMatch(/^[0-9a-f-]{36}$/);
});
afterAll(async () => {
  await server?.stop();
  await db?.drop();
});

const writes = () => auditedWrites(db.pool);

// ---------------------------------------------------------------------------------------------------
// Part 1: random requests (supertest over real HTTP).

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

// ---------------------------------------------------------------------------------------------------
// Part 2: the hostile matrix. A route is a valid base request; a field says where a hostile value goes.

type Field =
  | { in: 'json'; path: string[]; omit?: string[] } // a JSON value (nested by path)
  | { in: 'json-key'; path: string[]; value: string } // a key of the object at path
  | { in: 'body' } // the whole body, hostile bytes inserted raw or replacing it
  | { in: 'query'; name: string } // a query parameter's value
  | { in: 'query-key' } // a query parameter's name
  | { in: 'path' } // the {id} path parameter
  | { in: 'header'; name: string }
  | { in: 'form'; name: string }; // a field of the urlencoded sign-in form

/** A valid base request of one operation, and the fields the hostile matrix spoils one at a time. */
interface Fuzz {
  /** The credential: by default the session for an operation that needs one; null for none. */
  auth?: (() => string) | null;
  id?: () => string;
  query?: [string, string][];
  json?: Record<string, unknown>;
  form?: [string, string][];
  /** Routes whose own 4xx answers are HTML pages (the browser sign-in flow). */
  html?: boolean;
  /** Body limit of the route's parser (characters that fit, nesting that fits, 100k-deep worth trying). */
  limits: ChannelLimits;
  /** label, where, and the field's valid value (what the generators mutate; a function when known late). */
  fields: [string, Field, string | (() => string)][];
}

/** A fuzz entry on its operation: method, path and credential come from the contract (src/contract/). */
interface Route extends Omit<Fuzz, 'auth'> {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string; // may hold {id}
  auth?: () => string;
}

// Sizes that fit: the 16 KiB small-JSON limit, the 4 KiB form, the job limit (256 KiB + 64 KiB of
// envelope), Node's 16 KiB for all headers, and a third of that in the target (percent-encoding).
const SMALL: ChannelLimits = { bodyChars: 15_000, fitDepth: 5_000 };
const FORM: ChannelLimits = { bodyChars: 1_000, fitDepth: 500 };
const JOB: ChannelLimits = { bodyChars: 300_000, fitDepth: 50_000, veryDeep: true };
const HEADER: ChannelLimits = { bodyChars: 12_000, fitDepth: 4_000 };
const TARGET: ChannelLimits = { bodyChars: 4_000, fitDepth: 1_500 };
const FAKE_LINK_TOKEN = 'q'.repeat(43);

const validJob = () => ({
  name: 'nightly-report',
  request: {
    method: 'POST',
    url: 'https://example.com/hook',
    headers: { 'content-type': 'application/json', 'x-fuzz': 'v' },
    body: '{"hello":"world"}',
  },
  delay_seconds: 3600,
  timeout_ms: 10000,
  retry: { strategy: 'exponential', max_attempts: 5, base_delay_ms: 1000, max_delay_ms: 3600000 },
});
function validSchedule() {
  return {
    name: 'fuzz schedule',
    cron: '0 9 * * 1-5',
    timezone: 'Europe/Berlin',
    request: { method: 'POST', url: 'https://example.com/hook', headers: { 'x-fuzz': 'v' }, body: '{}' },
    start_at: '2030-01-01T00:00:00Z',
    end_at: '2031-01-01T00:00:00Z',
    overlap: 'skip',
    misfire: 'run_once',
    paused: false,
  };
}
const json = (path: string[], omit?: string[]): Field => ({ in: 'json', path, ...(omit ? { omit } : {}) });

const FUZZ: Record<string, Fuzz | Fuzz[]> = {
  requestMagicLink: {
    json: { email: 'fuzz@example.com' },
    limits: SMALL,
    fields: [['email', json(['email']), 'fuzz@example.com']],
  },
  showSignInPage: {
    query: [['token', FAKE_LINK_TOKEN]],
    html: true,
    limits: SMALL,
    fields: [['?token', { in: 'query', name: 'token' }, FAKE_LINK_TOKEN]],
  },
  signInWithForm: {
    form: [['token', FAKE_LINK_TOKEN]],
    html: true,
    limits: FORM,
    fields: [
      ['form token', { in: 'form', name: 'token' }, FAKE_LINK_TOKEN],
      ['Origin', { in: 'header', name: 'Origin' }, 'http://localhost:3000'],
      ['Sec-Fetch-Site', { in: 'header', name: 'Sec-Fetch-Site' }, 'same-origin'],
    ],
  },
  createSession: {
    json: { token: FAKE_LINK_TOKEN },
    limits: SMALL,
    fields: [['token', json(['token']), FAKE_LINK_TOKEN]],
  },
  getMe: [
    { limits: SMALL, fields: [] },
    // The console's cookie session (no Authorization): the cookie and the CSRF header are inputs too.
    {
      auth: null,
      limits: HEADER,
      fields: [
        ['Cookie', { in: 'header', name: 'Cookie' }, () => `djs_session=${auth.slice('Bearer '.length)}`],
        ['X-DJS-Console', { in: 'header', name: 'X-DJS-Console' }, '1'],
      ],
    },
  ],
  logout: { auth: () => logoutAuth, limits: SMALL, fields: [] },
  createJob: {
    json: validJob(),
    limits: JOB,
    fields: [
      ['name', json(['name']), 'nightly-report'],
      ['request', json(['request']), 'https://example.com/hook'],
      ['request.method', json(['request', 'method']), 'POST'],
      ['request.url', json(['request', 'url']), 'https://example.com/hook'],
      ['request.headers', json(['request', 'headers']), 'x-fuzz'],
      ['request.headers name', { in: 'json-key', path: ['request', 'headers'], value: '"v"' }, 'x-fuzz-2'],
      ['request.headers value', json(['request', 'headers', 'x-fuzz']), 'v'],
      ['request.body', json(['request', 'body']), '{"hello":"world"}'],
      ['fire_at', json(['fire_at'], ['delay_seconds']), '2026-12-01T09:00:00+01:00'],
      ['delay_seconds', json(['delay_seconds']), '3600'],
      ['timeout_ms', json(['timeout_ms']), '10000'],
      ['retry', json(['retry']), 'exponential'],
      ['retry.strategy', json(['retry', 'strategy']), 'exponential'],
      ['retry.max_attempts', json(['retry', 'max_attempts']), '5'],
      ['retry.base_delay_ms', json(['retry', 'base_delay_ms']), '1000'],
      ['retry.max_delay_ms', json(['retry', 'max_delay_ms']), '3600000'],
      ['unknown top-level key', { in: 'json-key', path: [], value: '1' }, 'extra'],
    ],
  },
  createJobs: {
    json: { jobs: [validJob(), { ...validJob(), name: 'second' }] },
    limits: JOB,
    fields: [
      ['jobs', json(['jobs']), 'nightly-report'],
      ['jobs.0', json(['jobs', '0']), 'nightly-report'],
      ['jobs.0.name', json(['jobs', '0', 'name']), 'nightly-report'],
      ['jobs.0.request.url', json(['jobs', '0', 'request', 'url']), 'https://example.com/hook'],
      ['jobs.1.request.body', json(['jobs', '1', 'request', 'body']), '{"hello":"world"}'],
      ['jobs.1.idempotency_key', json(['jobs', '1', 'idempotency_key']), 'batch-key'],
    ],
  },
  listJobs: {
    query: [
      ['status', 'scheduled,retrying'],
      ['limit', '10'],
    ],
    limits: SMALL,
    fields: [
      ['?status', { in: 'query', name: 'status' }, 'scheduled,retrying'],
      ['?fire_at_from', { in: 'query', name: 'fire_at_from' }, '2026-01-01T00:00:00Z'],
      ['?fire_at_to', { in: 'query', name: 'fire_at_to' }, '2030-01-01T00:00:00+02:00'],
      ['?name', { in: 'query', name: 'name' }, 'nightly'],
      ['?limit', { in: 'query', name: 'limit' }, '10'],
      ['?cursor', { in: 'query', name: 'cursor' }, encodeCursor(1_000_000)],
    ],
  },
  countJobs: {
    query: [['name', 'report']],
    limits: SMALL,
    fields: [
      ['?name', { in: 'query', name: 'name' }, 'report'],
      ['?fire_at_from', { in: 'query', name: 'fire_at_from' }, '2026-01-01T00:00:00Z'],
      ['?fire_at_to', { in: 'query', name: 'fire_at_to' }, '2030-01-01T00:00:00+02:00'],
    ],
  },
  getJob: {
    id: () => jobId,
    limits: SMALL,
    fields: [['{id}', { in: 'path' }, () => jobId]],
  },
  listExecutions: {
    id: () => jobId,
    limits: SMALL,
    fields: [
      ['{id}', { in: 'path' }, () => jobId],
      ['?limit', { in: 'query', name: 'limit' }, '10'],
      ['?cursor', { in: 'query', name: 'cursor' }, encodeExecutionCursor({ round: 1, attempt: 1, id: 1 })],
    ],
  },
  cancelJob: {
    id: () => cancelJobId,
    limits: SMALL,
    fields: [['{id}', { in: 'path' }, () => cancelJobId]],
  },
  retryJob: {
    id: () => cancelJobId,
    limits: SMALL,
    fields: [['{id}', { in: 'path' }, () => cancelJobId]],
  },
  createApiKey: {
    json: { name: 'fuzz key', scopes: ['jobs:read', 'schedules:read'], expires_at: '2099-01-01T00:00:00Z' },
    limits: SMALL,
    fields: [
      ['name', json(['name']), 'fuzz key'],
      ['scopes', json(['scopes']), 'jobs:read'],
      ['scopes.0', json(['scopes', '0']), 'jobs:read'],
      ['expires_at', json(['expires_at']), '2099-01-01T00:00:00Z'],
    ],
  },
  listApiKeys: { limits: SMALL, fields: [] },
  revokeApiKey: {
    id: () => apiKeyId,
    limits: SMALL,
    fields: [['{id}', { in: 'path' }, () => apiKeyId]],
  },
  createSchedule: {
    json: validSchedule(),
    limits: SMALL,
    fields: [
      ['name', json(['name']), 'fuzz schedule'],
      ['cron', json(['cron']), '0 9 * * 1-5'],
      ['timezone', json(['timezone']), 'Europe/Berlin'],
      ['request.url', json(['request', 'url']), 'https://example.com/hook'],
      ['request.headers value', json(['request', 'headers', 'x-fuzz']), 'v'],
      ['request.body', json(['request', 'body']), '{}'],
      ['start_at', json(['start_at']), '2030-01-01T00:00:00Z'],
      ['end_at', json(['end_at']), '2031-01-01T00:00:00Z'],
      ['overlap', json(['overlap']), 'skip'],
      ['misfire', json(['misfire']), 'run_once'],
      ['paused', json(['paused']), 'false'],
    ],
  },
  listSchedules: {
    query: [['limit', '10']],
    limits: SMALL,
    fields: [
      ['?limit', { in: 'query', name: 'limit' }, '10'],
      ['?cursor', { in: 'query', name: 'cursor' }, encodeCursor(1_000_000)],
    ],
  },
  previewSchedule: {
    query: [
      ['cron', '*/5 * * * *'],
      ['timezone', 'America/New_York'],
      ['count', '3'],
    ],
    limits: SMALL,
    fields: [
      ['?cron', { in: 'query', name: 'cron' }, '*/5 * * * *'],
      ['?timezone', { in: 'query', name: 'timezone' }, 'America/New_York'],
      ['?from', { in: 'query', name: 'from' }, '2027-03-14T00:00:00Z'],
      ['?count', { in: 'query', name: 'count' }, '3'],
    ],
  },
  getSchedule: {
    id: () => scheduleId,
    limits: SMALL,
    fields: [['{id}', { in: 'path' }, () => scheduleId]],
  },
  updateSchedule: {
    id: () => scheduleId,
    json: { name: 'renamed', cron: '0 10 * * 1-5' },
    limits: SMALL,
    fields: [
      ['{id}', { in: 'path' }, () => scheduleId],
      ['name', json(['name']), 'renamed'],
      ['cron', json(['cron']), '0 10 * * 1-5'],
      ['If-Match', { in: 'header', name: 'If-Match' }, '"v1"'],
    ],
  },
  pauseSchedule: {
    id: () => scheduleId,
    limits: SMALL,
    fields: [['{id}', { in: 'path' }, () => scheduleId]],
  },
  resumeSchedule: {
    id: () => scheduleId,
    limits: SMALL,
    fields: [['{id}', { in: 'path' }, () => scheduleId]],
  },
  listScheduleJobs: {
    id: () => scheduleId,
    query: [['status', 'scheduled']],
    limits: SMALL,
    fields: [
      ['{id}', { in: 'path' }, () => scheduleId],
      ['?status', { in: 'query', name: 'status' }, 'scheduled'],
    ],
  },
  getSigningSecret: { limits: SMALL, fields: [] },
  rotateSigningSecret: { limits: SMALL, fields: [] },
  liveness: { limits: SMALL, fields: [] },
  readiness: { limits: SMALL, fields: [] },
  openapi: { limits: SMALL, fields: [] },
  docs: { limits: SMALL, fields: [] },
  // Last, on a schedule of its own: the first valid request deletes it.
  deleteSchedule: {
    id: () => deleteScheduleId,
    limits: SMALL,
    fields: [
      ['{id}', { in: 'path' }, () => deleteScheduleId],
      ['If-Match', { in: 'header', name: 'If-Match' }, '"v1"'],
    ],
  },
};

/** The hostile matrix's routes: every fuzz entry on the operation it names, in the table's order. */
const ROUTES: Route[] = Object.entries(FUZZ).flatMap(([id, entries]) => {
  const op = OPERATIONS.find((o) => o.id === id);
  if (!op) throw new Error(`FUZZ names ${id}, which is no operation of the contract`);
  return [entries].flat().map(({ auth: credential, ...f }) => ({
    ...f,
    method: op.method.toUpperCase() as Route['method'],
    path: op.path,
    auth:
      credential === null
        ? undefined
        : (credential ?? (op.access.kind === 'public' ? undefined : () => auth)),
  }));
});

// Fields every route has: the headers that matter anywhere, an unknown query parameter, the body.
const COMMON: Route['fields'] = [
  ['Authorization', { in: 'header', name: 'Authorization' }, 'Bearer a.b.c'],
  ['X-Forwarded-For', { in: 'header', name: 'X-Forwarded-For' }, '203.0.113.7'],
  ['Content-Type', { in: 'header', name: 'Content-Type' }, 'application/json'],
  ['Idempotency-Key', { in: 'header', name: 'Idempotency-Key' }, 'fuzz-key-1'],
  ['X-Request-Id', { in: 'header', name: 'X-Request-Id' }, 'req-1'],
  ['?unknown value', { in: 'query', name: 'fuzz' }, 'x'],
  ['?unknown name', { in: 'query-key' }, 'fuzz'],
  ['body', { in: 'body' }, ''],
];

const PLACEHOLDER = '@@HOSTILE@@';

/** Sets `value` at `path` in a copy of `obj`. */
function setAt(obj: Record<string, unknown>, path: string[], value: unknown, omit: string[] = []) {
  const copy = structuredClone(obj);
  for (const k of omit) delete copy[k];
  let at: Record<string, unknown> = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string, unknown>;
  at[path.at(-1)!] = value;
  return copy;
}

/** Replaces the quoted placeholder in JSON text with raw bytes. */
function splice(text: string, quoted: string, bytes: Buffer): Buffer {
  const i = text.indexOf(quoted);
  return Buffer.concat([
    Buffer.from(text.slice(0, i), 'utf8'),
    bytes,
    Buffer.from(text.slice(i + quoted.length), 'utf8'),
  ]);
}

const formBody = (fields: [string, string][]) =>
  fields.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');

/** The base request of a route with one hostile value in one field, as raw request parts. */
function build(route: Route, field: Field, h: Hostile, pos: number): RawRequest {
  const headers: [string, string | Buffer][] = [];
  const a = route.auth?.();
  if (a) headers.push(['Authorization', a]);
  if (route.json) headers.push(['Content-Type', 'application/json']);
  if (route.form) headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
  let body: Buffer | undefined = route.json
    ? Buffer.from(JSON.stringify(route.json))
    : route.form
      ? Buffer.from(formBody(route.form))
      : undefined;
  const query: Buffer[] = (route.query ?? []).map(([k, v]) =>
    Buffer.from(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
  );
  let path: Buffer = Buffer.from(route.path.replace('{id}', route.id?.() ?? ''));

  const values = (): Buffer[] =>
    h.repeat ? h.repeat.map((s) => targetPart({ ...h, repeat: undefined }, Buffer.from(s))) : [targetPart(h)];
  switch (field.in) {
    case 'json': {
      const text = JSON.stringify(setAt(route.json!, field.path, PLACEHOLDER, field.omit));
      body = splice(text, JSON.stringify(PLACEHOLDER), jsonValue(h));
      break;
    }
    case 'json-key': {
      const obj = structuredClone(route.json!);
      let at: Record<string, unknown> = obj;
      for (const k of field.path) at = at[k] as Record<string, unknown>;
      at[PLACEHOLDER] = 0;
      body = splice(JSON.stringify(obj), `${JSON.stringify(PLACEHOLDER)}:0`, jsonKey(h, field.value));
      break;
    }
    case 'body': {
      const base = body?.toString('utf8') ?? '{}';
      body = insertRaw(h, base, pos);
      if (!route.json && !route.form) headers.push(['Content-Type', 'application/json']);
      break;
    }
    case 'query': {
      const rest = query.filter((q) => !q.toString('latin1').startsWith(`${field.name}=`));
      query.length = 0;
      query.push(...rest, ...values().map((v) => Buffer.concat([Buffer.from(`${field.name}=`), v])));
      break;
    }
    case 'query-key':
      query.push(...values().map((v) => Buffer.concat([v, Buffer.from('=1')])));
      break;
    case 'path': {
      const [head, tail] = route.path.split('{id}') as [string, string];
      // Given twice, a path parameter becomes two segments.
      const segments = values().flatMap((v, i) => (i ? [Buffer.from('/'), v] : [v]));
      path = Buffer.concat([Buffer.from(head), ...segments, Buffer.from(tail)]);
      break;
    }
    case 'header': {
      const kept = headers.filter(([n]) => n.toLowerCase() !== field.name.toLowerCase());
      headers.length = 0;
      headers.push(...kept);
      for (const v of h.repeat ?? [textBytes(h)]) headers.push([field.name, v]);
      break;
    }
    case 'form': {
      const rest = route.form!.filter(([k]) => k !== field.name);
      const parts = [
        Buffer.from(formBody(rest)),
        ...values().map((v) => Buffer.concat([Buffer.from(`${field.name}=`), v])),
      ];
      body = Buffer.concat(
        parts.filter((p) => p.length).flatMap((p, i) => (i ? [Buffer.from('&'), p] : [p])),
      );
      break;
    }
  }
  const target = query.length
    ? Buffer.concat([path, Buffer.from('?'), ...query.flatMap((q, i) => (i ? [Buffer.from('&'), q] : [q]))])
    : path;
  return { method: route.method, target, headers, ...(body ? { body } : {}) };
}

/**
 * Part 1's random requests: every route of the matrix (so every operation of the contract) with a
 * hostile id and hostile values of its query parameters (and an unknown one); and methods that no
 * route of a path takes, and a path that is none.
 */
const routes = fc.oneof(
  fc.constantFrom(...ROUTES).chain((route) => {
    const names = route.fields.flatMap(([, f]) => (f.in === 'query' ? [f.name] : []));
    return fc
      .tuple(id, fc.array(fc.tuple(fc.constantFrom(...names, 'fuzz'), weirdString), { maxLength: 3 }))
      .map(([i, query]) => ({
        route,
        m: route.method.toLowerCase(),
        p:
          route.path.replace('{id}', encodeURIComponent(i)) +
          (query.length ? `?${query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}` : ''),
      }));
  }),
  fc.record({
    route: fc.constant(undefined),
    m: fc.constantFrom('get', 'put', 'delete', 'patch'),
    p: fc.constantFrom(...new Set(ROUTES.map((r) => r.path.split('/{id}')[0]!)), '/nope'),
  }),
);

/** Which channel (for the generators) a field is: JSON value, JSON key, or text. */
const channelOf = (f: Field) =>
  f.in === 'json' || f.in === 'body' ? 'json' : f.in === 'json-key' ? 'key' : 'text';
const limitsOf = (route: Route, f: Field): ChannelLimits =>
  f.in === 'header'
    ? HEADER
    : f.in === 'query' || f.in === 'query-key' || f.in === 'path'
      ? TARGET
      : route.limits;

interface Violation {
  kind: string;
  example: string;
}

describe('API fuzzing', () => {
  it('has a fuzz entry for every operation of the contract', () => {
    expect(OPERATIONS.filter((op) => !(op.id in FUZZ)).map((op) => op.id)).toEqual([]);
    expect(ROUTES.length).toBeGreaterThanOrEqual(OPERATIONS.length);
  });

  it('2,000 random requests over all routes: zero 5xx, zero rows written by rejected requests', async () => {
    const statuses = new Map<number, number>();
    const violations: Violation[] = [];
    let sent = 0;
    let before = await writes();
    await fc.assert(
      fc.asyncProperty(
        routes,
        jsonish,
        contentType,
        authHeader,
        fc.boolean(),
        async (route, body, ct, authz, targetRealJob) => {
          const path = targetRealJob ? route.p.replace(/\/v1\/jobs\/[^/?]+/, `/v1/jobs/${jobId}`) : route.p;
          let req = request(baseUrl)[route.m as 'get'](path);
          // The route's own credential (logout ends the sessions of a user of its own).
          const a = authz === 'AUTH' ? (route.route?.auth?.() ?? auth) : authz;
          try {
            if (a) req = req.set('Authorization', a);
            if (ct) req = req.set('Content-Type', ct);
          } catch {
            return; // the HTTP client itself refuses such a header (CR/LF): the raw matrix sends those
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
          if (route.route?.path === '/v1/auth/logout' && res.status === 204) {
            logoutAuth = (await sessionFor(db, config, 'fuzz-logout@example.com')).auth;
            before = await writes();
          }
          const after = await writes();
          const what = `${route.m.toUpperCase()} ${path.slice(0, 200)} -> ${res.status}`;
          if (res.status >= 500)
            violations.push({
              kind: `${res.status}`,
              example: `${what} ${res.text.slice(0, 200)}; cause: ${causeOf(res.headers['x-request-id']).join('; ')}`,
            });
          if (res.status >= 400) {
            if (after.n !== before.n)
              violations.push({ kind: 'rejected but wrote', example: `${what}: ${after.last}` });
            const problem = envelopeProblem(
              res.headers['content-type'],
              res.text,
              path.startsWith('/v1/auth/verify'),
            );
            if (problem)
              violations.push({ kind: `${res.status} without envelope`, example: `${what}: ${problem}` });
          }
          before = after;
        },
      ),
      { numRuns: 2300, seed: SEED },
    );
    console.log(
      `[fuzz] ${sent} requests, statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}, violations: ${violations.length}`,
    );
    expect(violations.slice(0, 20), `${violations.length} violations`).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(2000);
  }, 300_000);

  it('hostile values (NUL, C0, lone surrogates, 1 MiB, 10k-deep, wrong types) in every field of every route', async () => {
    const statuses = new Map<number, number>();
    const byGen = new Map<Generator, number>();
    const codes = new Set<string>();
    // Violations grouped by kind, with a few examples and every field × generator that showed it.
    const violations = new Map<string, { n: number; examples: string[]; where: Map<string, Set<string>> }>();
    const violation = (kind: string, example: string, field: string, gen: string) => {
      const v = violations.get(kind) ?? { n: 0, examples: [], where: new Map<string, Set<string>>() };
      v.n++;
      if (v.examples.length < 3) v.examples.push(example);
      v.where.set(field, (v.where.get(field) ?? new Set()).add(gen));
      violations.set(kind, v);
    };
    // FUZZ_TRACE=/path/file writes one line per request (route, field, generator, value, status, body).
    const trace = process.env.FUZZ_TRACE ? ([] as string[]) : undefined;
    let sent = 0;
    let nodeRefusals = 0;
    let fields = 0;
    let caseNo = 0;
    let before = await writes();
    for (const route of ROUTES) {
      for (const [label, field, valid] of [...route.fields, ...COMMON]) {
        const base = typeof valid === 'function' ? valid() : valid;
        fields++;
        const limits = limitsOf(route, field);
        for (const gen of GENERATORS) {
          const arb = fc.tuple(hostile(gen, base, channelOf(field), limits), fc.nat({ max: 64 }));
          const seed = SEED + caseNo++;
          for (const [h, pos] of fc.sample(arb, { seed, numRuns: SAMPLES })) {
            const req = build(route, field, h, pos);
            // Only the target and the form percent-encode; `raw` there means the bytes go as they are.
            const unencoded = h.raw === true && ['query', 'query-key', 'path', 'form'].includes(field.in);
            const what = `${route.method} ${route.path} field=${label} gen=${gen} value=${h.desc}${unencoded ? ' unencoded' : ''} (seed ${seed})`;
            const r: RawResult = await rawRequest(port, req);
            sent++;
            byGen.set(gen, (byGen.get(gen) ?? 0) + 1);
            const after = await writes();
            if (!r.ok) {
              violation(`no response: ${r.error}`, what, label, gen);
              before = after;
              continue;
            }
            const { res } = r;
            trace?.push(`${what} -> ${res.status} ${res.body.slice(0, 160)}`);
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            // Every answer of the app carries X-Request-Id; without it, Node's HTTP parser refused the
            // request before the app saw it (its default clientError answer: status line, no body).
            const source = res.headers['x-request-id'] ? 'app' : 'node http parser';
            if (source !== 'app') nodeRefusals++;
            const how = `${gen}${unencoded ? ' unencoded' : ''}`;
            if (res.status >= 500)
              violation(
                `${res.status} from ${source}`,
                `${what} -> ${res.body.slice(0, 160)}; cause: ${causeOf(res.headers['x-request-id']).join('; ')}`,
                label,
                how,
              );
            if (res.status >= 400) {
              if (after.n !== before.n)
                violation(
                  `rejected (${res.status}) but wrote a row`,
                  `${what}; last write: ${after.last}`,
                  label,
                  how,
                );
              const problem = envelopeProblem(res.headers['content-type'], res.body, route.html === true);
              if (problem)
                violation(
                  `${res.status} from ${source} without the error envelope`,
                  `${what}: ${problem}`,
                  label,
                  how,
                );
              else if (/json/.test(res.headers['content-type'] ?? ''))
                codes.add((JSON.parse(res.body) as { error: { code: string } }).error.code);
            }
            before = after;
            if (route.path === '/v1/auth/logout' && res.status === 204) {
              // A fresh session for the next logout; its own write is not the next request's.
              logoutAuth = (await sessionFor(db, config, 'fuzz-logout@example.com')).auth;
              before = await writes();
            }
          }
        }
      }
    }
    if (trace) fs.writeFileSync(process.env.FUZZ_TRACE!, `${trace.join('\n')}\n`);
    const report = [...violations]
      .sort((a, b) => b[1].n - a[1].n)
      .map(
        ([kind, v]) =>
          `  ${v.n}× ${kind}\n      in: ${[...v.where].map(([f, g]) => `${f} (${[...g].sort().join(', ')})`).join('; ')}\n` +
          v.examples.map((e) => `      e.g. ${e}`).join('\n'),
      );
    console.log(
      `[fuzz-hostile] ${sent} requests: ${ROUTES.length} routes, ${fields} route fields × ${GENERATORS.length} generators × ${SAMPLES} samples (seed ${SEED}); ` +
        `per generator ${JSON.stringify(Object.fromEntries(byGen))}; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}; ` +
        `refused by Node's parser ${nodeRefusals}; codes ${[...codes].sort().join(',')}; violations ${[...violations.values()].reduce((n, v) => n + v.n, 0)}` +
        (report.length ? `\n${report.join('\n')}` : ''),
    );
    expect(report, 'hostile-input violations (see the [fuzz-hostile] line)').toEqual([]);
  }, 300_000);
});
