// The document serves generated clients. openapi-typescript turns the served document into types; a
// small caller typed with them (openapi-fetch) must compile, and its `@ts-expect-error` lines must be
// refused (`limit: '5'`, an unknown status, one comma-separated string for a list), so query parameters
// are typed as what they mean. The same caller then runs against the API. And the document passes
// Redocly's recommended lint, with the short allowlist below.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import openapiTS, { astToString, type OpenAPI3 } from 'openapi-typescript';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

let db: TestDb;
let t: TestApp;
let dir: string;
let docFile: string;
let doc: OpenAPI3;

beforeAll(async () => {
  db = await createTestDb();
  // A public URL that is neither localhost nor example.com (Redocly warns of both in `servers`).
  t = await createTestApp(db, { PUBLIC_URL: 'https://scheduler.test' });
  const res = await request(t.app).get('/openapi.json');
  expect(res.status).toBe(200);
  doc = res.body as OpenAPI3;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'djs-openapi-clients-'));
  // The caller imports openapi-fetch: resolved from this package's node_modules.
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  docFile = path.join(dir, 'openapi.json');
  fs.writeFileSync(docFile, res.text);
});
afterAll(async () => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  await t?.close();
  await db?.drop();
});

/** The typed caller: what a client of ours writes, against the generated `paths`. */
const CALLER = `import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './api';

type JobStatus = 'scheduled' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'cancelled';

export function client(baseUrl: string, token: string): Client<paths> {
  return createClient<paths>({
    baseUrl,
    headers: { Authorization: \`Bearer \${token}\` },
    // As the document says a list travels: one comma-separated value (style form, explode false).
    querySerializer: { array: { style: 'form', explode: false } },
  });
}

export async function calls(api: Client<paths>) {
  const page = await api.GET('/v1/jobs', { params: { query: { limit: 5, status: ['failed', 'retrying'] } } });
  const statuses: JobStatus[] = page.data?.data.map((j) => j.status) ?? [];
  const counts = await api.GET('/v1/jobs/counts', {
    params: { query: { fire_at_from: '2000-01-01T00:00:00Z' } },
  });
  const total: number | undefined = counts.data?.total;
  const preview = await api.GET('/v1/schedules/preview', {
    params: { query: { cron: '0 9 * * 1-5', timezone: 'Europe/Berlin', count: 2 } },
  });
  const missing = await api.GET('/v1/jobs/{id}', {
    params: { path: { id: '00000000-0000-4000-8000-000000000000' } },
  });
  // Each error response names the codes it can carry.
  const notFound: 'not_found' | 'unauthorized' | 'invalid_token' | 'insufficient_scope' | 'service_unavailable' | 'internal_error' | undefined =
    missing.error?.error.code;
  const tooMany = await api.GET('/v1/jobs', { params: { query: { limit: 500 } } });
  return {
    page: page.response.status,
    statuses,
    total,
    preview: preview.data?.data.length,
    notFound,
    tooMany: tooMany.error?.error.code,
  };
}

/** What the types refuse (never called). */
export function refusals(api: Client<paths>) {
  // @ts-expect-error a page size is a number, not a string
  void api.GET('/v1/jobs', { params: { query: { limit: '5' } } });
  // @ts-expect-error statuses are the job statuses
  void api.GET('/v1/jobs', { params: { query: { status: ['bogus'] } } });
  // @ts-expect-error a list of statuses, not one comma-separated string
  void api.GET('/v1/jobs', { params: { query: { status: 'failed,retrying' } } });
  // @ts-expect-error how many fire times: a number
  void api.GET('/v1/schedules/preview', { params: { query: { cron: '* * * * *', count: '2' } } });
  // @ts-expect-error the expression is required
  void api.GET('/v1/schedules/preview', { params: { query: { count: 2 } } });
}
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'es2022',
    module: 'esnext',
    moduleResolution: 'bundler',
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    lib: ['es2022', 'dom'],
  },
  files: ['caller.ts', 'api.d.ts'],
};

describe('clients generated from the document', () => {
  it('openapi-typescript types it; a typed caller compiles, and what the API refuses does not', async () => {
    const types = astToString(await openapiTS(doc));
    // Query parameters are what they mean: an integer, a list of statuses, an instant.
    expect(types).toMatch(/limit\?: number;/);
    expect(types).toContain(
      'status?: ("scheduled" | "running" | "retrying" | "succeeded" | "failed" | "cancelled")[];',
    );
    fs.writeFileSync(path.join(dir, 'api.d.ts'), types);
    fs.writeFileSync(path.join(dir, 'caller.ts'), CALLER);
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
    const out = await run(process.execPath, [tsc, '-p', dir]).then(
      () => '',
      (err: Error & { stdout?: string }) => err.stdout || err.message,
    );
    expect(out, 'tsc on the typed caller').toBe('');
  }, 60_000);

  it('the typed caller runs against the API', async () => {
    const user = await sessionFor(db, t.config);
    const create = (status: string) =>
      request(t.app)
        .post('/v1/jobs')
        .set('Authorization', user.auth)
        .send({ name: status, request: { method: 'GET', url: 'http://127.0.0.1:9/' }, delay_seconds: 3600 });
    expect((await create('one')).status).toBe(201);
    const server = http.createServer(t.app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const caller = (await import(path.join(dir, 'caller.ts'))) as {
        client(baseUrl: string, token: string): unknown;
        calls(api: unknown): Promise<Record<string, unknown>>;
      };
      const api = caller.client(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, user.token);
      expect(await caller.calls(api)).toEqual({
        page: 200,
        statuses: [],
        total: 1,
        preview: 2,
        notFound: 'not_found',
        tooMany: 'validation_failed',
      });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
    }
  }, 60_000);
});

/**
 * Redocly findings we keep, each with its reason (anything else fails the test):
 * - operation-4xx-response on the probes and the document itself: they take no input. The 400s any
 *   route answers to a body it cannot read are said once, in info.description.
 * - info-license: a private service; no license is granted.
 * - no-unused-components on Error: the envelope each error response narrows (its code to the codes
 *   it can carry) rather than references; named for clients that handle any error, and for
 *   info.description.
 */
const ALLOWED = [
  'operation-4xx-response #/paths/~1healthz/get/responses',
  'operation-4xx-response #/paths/~1readyz/get/responses',
  'operation-4xx-response #/paths/~1openapi.json/get/responses',
  'operation-4xx-response #/paths/~1docs/get/responses',
  'info-license #/info',
  'no-unused-components #/components/schemas/Error',
];

describe("Redocly's recommended lint", () => {
  it('finds no error and no warning beyond the allowlist', async () => {
    const cli = path.join(ROOT, 'node_modules/@redocly/cli/bin/cli.js');
    const { stdout } = await run(
      process.execPath,
      [cli, 'lint', docFile, '--extends', 'recommended', '--format', 'json', '--max-problems', '1000'],
      {
        cwd: dir,
        env: {
          ...process.env,
          REDOCLY_TELEMETRY: 'off',
          REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
          NO_COLOR: '1',
        },
        maxBuffer: 64 * 1024 * 1024,
      },
    ).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    const { problems } = JSON.parse(stdout) as {
      problems: { ruleId: string; severity: string; message: string; location: { pointer: string }[] }[];
    };
    const found = problems.map((p) => `${p.ruleId} ${p.location[0]?.pointer ?? ''}`);
    const unexpected = problems.filter((_, i) => !ALLOWED.includes(found[i]!));
    expect(
      unexpected.map((p) => `${p.severity} ${p.ruleId}: ${p.message} (${p.location[0]?.pointer})`),
    ).toEqual([]);
    expect(found.sort()).toEqual([...ALLOWED].sort());
  }, 60_000);
});
