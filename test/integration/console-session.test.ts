// The console's server side on the real app: its pages (the table in src/contract/consolePages.ts)
// and assets, the cookie session and its CSRF rule on real routes, logout, and the two list helpers
// it needs (counts by status, name search).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { anotherApi, createTestApp, sessionFor, type TestApp } from '../helpers/app.ts';
import { CONSOLE_CSP, defaultConsoleDir } from '../../src/http/routes/console.ts';
import { PAGES } from '../../src/contract/consolePages.ts';

const ORIGIN = 'http://localhost:3000'; // testConfig's PUBLIC_URL
let db: TestDb;
let t: TestApp;
let alice: Awaited<ReturnType<typeof sessionFor>>;
const job = (name: string) => ({
  name,
  request: { method: 'POST', url: 'https://example.com/hook' },
  delay_seconds: 3600,
});

beforeAll(async () => {
  db = await createTestDb();
  t = await createTestApp(db, { TARGET_ALLOWLIST: '', JOB_CREATE_RATE_PER_MINUTE: '1000' });
  alice = await sessionFor(db, t.config, 'alice-console@example.com');
});
afterAll(async () => {
  await t.close();
  await db.drop();
});

/** A request authenticated by the console cookie only. */
const withCookie = (r: request.Test, token = alice.token) => r.set('Cookie', `other=1; djs_session=${token}`);

describe('console pages and assets', () => {
  it('serves one HTML shell at every console page of the table, under a strict CSP, naming hashed assets', async () => {
    // Each page's pattern with its parameters filled in: a page added to the table must be served.
    const pages = Object.values(PAGES).map((p) =>
      p.path.replace(/:\w+/g, '3f6c1a52-8d0e-4b7a-9c55-2e1f0a7b9d14'),
    );
    expect(pages).toEqual(expect.arrayContaining(['/', '/sign-in', '/jobs/new', '/schedules/new']));
    for (const p of [...pages, '/schedules/x']) {
      const res = await request(t.app).get(p);
      expect(res.status, p).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.text).toMatch(/<script type="module" src="\/assets\/app-[A-Z0-9]+\.js"><\/script>/);
      expect(res.text).not.toMatch(/<script>|<style>|style="/); // nothing inline: the CSP would block it
    }
    expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
    expect(CONSOLE_CSP).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
  });

  it('answers a path that is no console page with a JSON 404, not the shell', async () => {
    for (const p of ['/nope', '/jobs/x/y', '/schedules/x/edit', '/api-keys/x', '/signing-secret/x']) {
      const res = await request(t.app).get(p);
      expect(res.status, p).toBe(404);
      expect(res.body.error.code, p).toBe('not_found');
    }
  });

  it('serves the built assets with long caching; anything else under /assets is a JSON 404', async () => {
    const index = (await request(t.app).get('/')).text;
    const js = /src="(\/assets\/app-[A-Z0-9]+\.js)"/.exec(index)![1]!;
    const css = /href="(\/assets\/app-[A-Z0-9]+\.css)"/.exec(index)![1]!;
    const a = await request(t.app).get(js);
    expect(a.status).toBe(200);
    expect(a.headers['content-type']).toMatch(/javascript/);
    expect(a.headers['cache-control']).toMatch(/immutable/);
    expect(a.headers['x-content-type-options']).toBe('nosniff');
    expect((await request(t.app).get(css)).headers['content-type']).toMatch(/^text\/css/);
    for (const bad of [
      '/assets/../package.json',
      '/assets/%2e%2e/package.json',
      '/assets/index.html',
      '/assets/nope-1.js',
    ]) {
      const res = await request(t.app).get(bad);
      expect(res.status, bad).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect((await request(t.app).get('/favicon.ico')).status).toBe(404);
  });

  it('says how to build it when it was not built', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'djs-console-'));
    const { app } = anotherApi(db, t, { consoleDir: empty });
    const res = await request(app).get('/jobs');
    expect(res.status).toBe(503);
    expect(res.text).toContain('npm run build');
    expect(defaultConsoleDir()).toMatch(/dist[/\\]console$/);
  });
});

describe('the session cookie', () => {
  it('authenticates reads that carry the console header; without it, 403 csrf_rejected', async () => {
    const ok = await withCookie(request(t.app).get('/v1/me')).set('X-DJS-Console', '1');
    expect(ok.status).toBe(200);
    expect(ok.body.email).toBe('alice-console@example.com');
    const bare = await withCookie(request(t.app).get('/v1/me'));
    expect(bare.status).toBe(403);
    expect(bare.body.error.code).toBe('csrf_rejected');
  });

  it('acts only from our own origin', async () => {
    const post = (headers: Record<string, string>) => {
      let r = withCookie(request(t.app).post('/v1/jobs')).set('X-DJS-Console', '1');
      for (const [k, v] of Object.entries(headers)) r = r.set(k, v);
      return r.send(job('from-cookie'));
    };
    expect((await post({ 'Sec-Fetch-Site': 'same-origin', Origin: ORIGIN })).status).toBe(201);
    expect((await post({ Origin: ORIGIN })).status).toBe(201);
    const refusedHeaders: Record<string, string>[] = [
      { 'Sec-Fetch-Site': 'cross-site', Origin: ORIGIN },
      { 'Sec-Fetch-Site': 'same-site' },
      { Origin: 'https://evil.example' },
      { Origin: 'null' },
      {},
    ];
    for (const h of refusedHeaders) {
      const res = await post(h);
      expect(res.status, JSON.stringify(h)).toBe(403);
      expect(res.body.error.code).toBe('csrf_rejected');
    }
    // A plain HTML form: no custom header, form-encoded, cross-site.
    const form = await withCookie(request(t.app).post('/v1/jobs/x/cancel'))
      .set('Sec-Fetch-Site', 'cross-site')
      .type('form')
      .send('a=b');
    expect(form.status).toBe(403);
    const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM jobs WHERE name = 'from-cookie'`);
    expect(rows[0].n).toBe(2);
  });

  it('holds sessions only (an API key in the cookie is refused); a bearer header wins over the cookie', async () => {
    const key = await request(t.app)
      .post('/v1/api-keys')
      .set('Authorization', alice.auth)
      .send({ name: 'k', scopes: ['jobs:read'] });
    const inCookie = await withCookie(request(t.app).get('/v1/jobs'), key.body.key as string).set(
      'X-DJS-Console',
      '1',
    );
    expect(inCookie.status).toBe(401);
    const both = await withCookie(request(t.app).get('/v1/me'), 'not.a.token').set(
      'Authorization',
      alice.auth,
    );
    expect(both.status).toBe(200);
  });

  it('logout clears the cookie and ends the session; a dead cookie is cleared too', async () => {
    const bob = await sessionFor(db, t.config, 'bob-console@example.com');
    const out = await withCookie(request(t.app).post('/v1/auth/logout'), bob.token)
      .set('X-DJS-Console', '1')
      .set('Origin', ORIGIN);
    expect(out.status).toBe(204);
    expect(String(out.headers['set-cookie'])).toBe(
      'djs_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict',
    );
    const after = await withCookie(request(t.app).get('/v1/me'), bob.token).set('X-DJS-Console', '1');
    expect(after.status).toBe(401);
    const again = await withCookie(request(t.app).post('/v1/auth/logout'), bob.token)
      .set('X-DJS-Console', '1')
      .set('Origin', ORIGIN);
    expect(again.status).toBe(401);
    expect(String(again.headers['set-cookie'])).toContain('Max-Age=0');
    // Another site's form cannot sign the user out of the console: refused, and no cookie cleared.
    const carolS = await sessionFor(db, t.config, 'carol-logout@example.com');
    const forged = await withCookie(request(t.app).post('/v1/auth/logout'), carolS.token)
      .set('Sec-Fetch-Site', 'cross-site')
      .type('form')
      .send('x=1');
    expect(forged.status).toBe(403);
    expect(forged.headers['set-cookie']).toBeUndefined();
    expect(
      (await withCookie(request(t.app).get('/v1/me'), carolS.token).set('X-DJS-Console', '1')).status,
    ).toBe(200);
  });

  it('a proxy’s Basic authorization does not shut the cookie out', async () => {
    const res = await withCookie(request(t.app).get('/v1/me'))
      .set('Authorization', 'Basic c3RhZ2luZzpwYXNzd29yZA==')
      .set('X-DJS-Console', '1');
    expect(res.status).toBe(200);
    expect(res.body.email).toBe('alice-console@example.com');
  });

  it('is Secure and __Host- prefixed when the public URL is HTTPS', async () => {
    const s = await createTestApp(db, { PUBLIC_URL: 'https://djs.example.com' });
    try {
      const link = await request(s.app).post('/v1/auth/magic-link').send({ email: 'secure@example.com' });
      expect(link.status).toBe(202);
      const bob = await sessionFor(db, s.config, 'secure@example.com');
      const me = await request(s.app)
        .get('/v1/me')
        .set('Cookie', `__Host-djs_session=${bob.token}`)
        .set('X-DJS-Console', '1');
      expect(me.status).toBe(200);
      // The bare name is not read there: a sibling subdomain could have planted it.
      const planted = await request(s.app)
        .get('/v1/me')
        .set('Cookie', `djs_session=${bob.token}`)
        .set('X-DJS-Console', '1');
      expect(planted.status).toBe(401);
    } finally {
      await s.close();
    }
  });
});

describe('counts by status and name search', () => {
  it('counts every status (zeros included) under the list filters; name search is literal and case-insensitive', async () => {
    const carol = await sessionFor(db, t.config, 'carol-console@example.com');
    for (const name of ['Nightly report', 'nightly backup', '100% done', 'under_score', 'other']) {
      expect(
        (await request(t.app).post('/v1/jobs').set('Authorization', carol.auth).send(job(name))).status,
      ).toBe(201);
    }
    const created = await request(t.app)
      .post('/v1/jobs')
      .set('Authorization', carol.auth)
      .send(job('to cancel'));
    await request(t.app).post(`/v1/jobs/${created.body.id}/cancel`).set('Authorization', carol.auth);

    const all = await request(t.app).get('/v1/jobs/counts').set('Authorization', carol.auth);
    expect(all.status).toBe(200);
    expect(all.body).toEqual({
      counts: { scheduled: 5, running: 0, retrying: 0, succeeded: 0, failed: 0, cancelled: 1 },
      total: 6,
    });
    const names = async (q: string) =>
      (
        await request(t.app)
          .get(`/v1/jobs?name=${encodeURIComponent(q)}`)
          .set('Authorization', carol.auth)
      ).body.data
        .map((j: { name: string }) => j.name)
        .sort();
    expect(await names('NIGHTLY')).toEqual(['Nightly report', 'nightly backup']);
    expect(await names('%')).toEqual(['100% done']);
    expect(await names('_')).toEqual(['under_score']);
    expect(await names('\\')).toEqual([]);
    const nightly = await request(t.app).get('/v1/jobs/counts?name=nightly').set('Authorization', carol.auth);
    expect(nightly.body.total).toBe(2);
    // Another user's jobs never count.
    expect(
      (await request(t.app).get('/v1/jobs/counts?name=nightly').set('Authorization', alice.auth)).body.total,
    ).toBe(0);
    const bad = await request(t.app)
      .get('/v1/jobs/counts?fire_at_from=yesterday&status=failed')
      .set('Authorization', carol.auth);
    expect(bad.status).toBe(400);
    // Counts take no status filter (they are per status): an unknown query parameter is an error.
    expect(JSON.stringify(bad.body.error.details)).toContain('status');
  });
});
