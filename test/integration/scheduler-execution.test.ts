// What one attempt does: signing, outcome classes, retries and their schedule, Retry-After, the
// SSRF guard at connect time. Real HTTP targets on loopback. Targets that fight back (hang, trickle,
// flood, reset, redirect) and the deadline's precision: test/verification/hostile-targets.test.ts.
import dns from 'node:dns';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { targets } from '../helpers/http.ts';
import {
  createJob,
  createUser,
  executionsOf,
  jobState,
  SECRETS_KEY,
  startScheduler,
  type TestScheduler,
} from '../helpers/scheduler.ts';
import { recordEvents } from '../helpers/events.ts';
import { verifyWebhook } from '../../src/webhooks/signing.ts';
import { deriveSigningSecret } from '../../src/webhooks/secrets.ts';
import { unreachableHostText, type LookupFn } from '../../src/scheduler/executor.ts';

let db: TestDb;
let userId: string;
let sched: TestScheduler | undefined;
const { target, closeAll } = targets();
/** The job's last attempt recorded (the scheduler's log of attempts began before it started). */
const finished = (id: string) => sched!.finished(id);

beforeAll(async () => {
  db = await createTestDb();
  userId = (await createUser(db)).id;
});
afterEach(async () => {
  await sched?.stop(0);
  sched = undefined;
  await closeAll();
});
afterAll(() => db.drop());

describe('an attempt', () => {
  it('sends the request with user headers, user-agent and a verifiable Standard Webhooks signature', async () => {
    const t = await target((_q, res) => void res.writeHead(200).end('thanks'));
    sched = await startScheduler(db, { random: () => 0.5 });
    const job = await createJob(db, userId, {
      url: `${t.url}/hook?x=1`,
      headers: { 'x-custom': 'yes' },
      body: '{"hello":"world"}',
    });
    await finished(job.id);
    expect(t.requests).toHaveLength(1);
    const r = t.requests[0]!;
    expect(r.method).toBe('POST');
    expect(r.url).toBe('/hook?x=1');
    expect(r.body).toBe('{"hello":"world"}');
    expect(r.headers['x-custom']).toBe('yes');
    expect(r.headers['user-agent']).toBe('dist-job-scheduler/test');
    expect(r.headers['webhook-id']).toBe(job.id);
    const secret = deriveSigningSecret(SECRETS_KEY, userId, 1);
    const headers = {
      id: String(r.headers['webhook-id']),
      timestamp: String(r.headers['webhook-timestamp']),
      signature: String(r.headers['webhook-signature']),
    };
    expect(verifyWebhook(secret, headers, r.body, Math.floor(Date.now() / 1000))).toBe(true);
    expect(
      verifyWebhook(
        deriveSigningSecret(SECRETS_KEY, userId, 2),
        headers,
        r.body,
        Math.floor(Date.now() / 1000),
      ),
    ).toBe(false);
    const [ex] = await executionsOf(db, job.id);
    expect(ex).toMatchObject({
      attempt: 1,
      outcome: 'succeeded',
      status_code: 200,
      response_body: 'thanks',
      response_truncated: false,
    });
    expect((await jobState(db, job.id)).status).toBe('succeeded');
  });

  it('5xx retries with the exponential schedule, then fails when attempts are used up', async () => {
    const t = await target((_q, res) => void res.writeHead(503).end('busy'));
    sched = await startScheduler(db, { random: () => 0.5 });
    const job = await createJob(db, userId, {
      url: t.url,
      retry: { strategy: 'exponential', max_attempts: 3, base_delay_ms: 200, max_delay_ms: 60_000 },
    });
    await finished(job.id);
    const ex = await executionsOf(db, job.id);
    expect(ex.map((e) => [e.attempt, e.outcome, e.status_code])).toEqual([
      [1, 'failed', 503],
      [2, 'failed', 503],
      [3, 'failed', 503],
    ]);
    expect(await jobState(db, job.id)).toMatchObject({ status: 'failed', attempts: 3 });
    const gaps = t.requests.slice(1).map((r, i) => r.start - t.requests[i]!.start);
    // Never early (the retry is due exactly base × 2^(n−1) after the attempt was recorded)…
    expect(gaps[0]).toBeGreaterThanOrEqual(195);
    expect(gaps[1]).toBeGreaterThanOrEqual(395);
    // …and not lazily late either (generous bound: shared CI machines are noisy).
    expect(gaps[0]).toBeLessThan(200 + 1000);
    expect(gaps[1]).toBeLessThan(400 + 1000);
  });

  it('linear backoff grows by the base each attempt', async () => {
    const t = await target((_q, res) => void res.writeHead(500).end());
    sched = await startScheduler(db, { random: () => 0.5 });
    const job = await createJob(db, userId, {
      url: t.url,
      retry: { strategy: 'linear', max_attempts: 4, base_delay_ms: 150, max_delay_ms: 60_000 },
    });
    await finished(job.id);
    const gaps = t.requests.slice(1).map((r, i) => r.start - t.requests[i]!.start);
    expect(gaps).toHaveLength(3);
    [150, 300, 450].forEach((d, i) => {
      expect(gaps[i]).toBeGreaterThanOrEqual(d - 5);
      expect(gaps[i]).toBeLessThan(d + 1000);
    });
  });

  it.each([
    [404, 'failed'],
    [400, 'failed'],
    [410, 'failed'],
  ])('%i is permanent: failed after one attempt', async (code) => {
    const t = await target((_q, res) => void res.writeHead(code).end());
    sched = await startScheduler(db);
    const job = await createJob(db, userId, { url: t.url });
    await finished(job.id);
    expect(await jobState(db, job.id)).toMatchObject({ status: 'failed', attempts: 1 });
    expect(t.requests).toHaveLength(1);
  });

  it('429 with Retry-After is honoured, capped by max_delay_ms', async () => {
    const t = await target(
      (_q, res, _b, n) =>
        void (n === 1 ? res.writeHead(429, { 'retry-after': '1' }).end() : res.writeHead(204).end()),
    );
    sched = await startScheduler(db, { random: () => 0.5 });
    const job = await createJob(db, userId, {
      url: t.url,
      retry: { strategy: 'exponential', max_attempts: 3, base_delay_ms: 10, max_delay_ms: 60_000 },
    });
    await finished(job.id);
    expect(t.requests).toHaveLength(2);
    expect(t.requests[1]!.start - t.requests[0]!.start).toBeGreaterThanOrEqual(995);

    const capped = await target(
      (_q, res, _b, n) =>
        void (n === 1 ? res.writeHead(503, { 'retry-after': '3600' }).end() : res.writeHead(204).end()),
    );
    const job2 = await createJob(db, userId, {
      url: capped.url,
      retry: { strategy: 'exponential', max_attempts: 3, base_delay_ms: 10, max_delay_ms: 300 },
    });
    await finished(job2.id);
    const gap = capped.requests[1]!.start - capped.requests[0]!.start;
    expect(gap).toBeGreaterThanOrEqual(295);
    expect(gap).toBeLessThan(300 + 1000);
  });

  it('a timeout is retried after the backoff; every attempt is recorded as a timeout', async () => {
    const t = await target(() => {
      /* never answers */
    });
    sched = await startScheduler(db, { random: () => 0.5 });
    const job = await createJob(db, userId, {
      url: t.url,
      timeoutMs: 300,
      retry: { strategy: 'linear', max_attempts: 2, base_delay_ms: 200, max_delay_ms: 200 },
    });
    await finished(job.id);
    const ex = await executionsOf(db, job.id);
    expect(ex.map((e) => [e.attempt, e.outcome])).toEqual([
      [1, 'timeout'],
      [2, 'timeout'],
    ]);
    // Never cut short, even by the fraction of a millisecond Node's timer clock can lag (see executor.ts).
    for (const e of ex) expect(e.duration_ms).toBeGreaterThanOrEqual(300);
    expect(await jobState(db, job.id)).toMatchObject({ status: 'failed', attempts: 2 });
    // The retry waits for the timeout and then the backoff: never sooner, and not lazily later.
    const gap = t.requests[1]!.start - t.requests[0]!.start;
    expect(gap).toBeGreaterThanOrEqual(300 + 200 - 5);
    expect(gap).toBeLessThan(300 + 200 + 1000);
  });

  it('a refused connection is a network error and is retried', async () => {
    const t = await target((_q, res) => void res.end());
    const deadUrl = t.url;
    await t.close();
    sched = await startScheduler(db, { random: () => 0.5 });
    const job = await createJob(db, userId, {
      url: deadUrl,
      retry: { strategy: 'linear', max_attempts: 2, base_delay_ms: 50, max_delay_ms: 50 },
    });
    await finished(job.id);
    const ex = await executionsOf(db, job.id);
    expect(ex.map((e) => e.outcome)).toEqual(['network_error', 'network_error']);
    expect(ex[0]!.error).toMatch(/ECONNREFUSED/);
  });
});

describe('SSRF guard at connect time', () => {
  it('blocks a hostname that resolves to 127.0.0.1 when loopback is not allowlisted', async () => {
    const t = await target((_q, res) => void res.writeHead(200).end());
    // A resolver that says what an attacker's DNS would: evil.example.com → 127.0.0.1.
    const lookup = ((
      host: string,
      opts: dns.LookupOptions,
      cb: (e: Error | null, a: dns.LookupAddress[]) => void,
    ) => {
      if (host === 'evil.example.com') return cb(null, [{ address: '127.0.0.1', family: 4 }]);
      return dns.lookup(host, { ...opts, all: true }, cb);
    }) as unknown as LookupFn;
    sched = await startScheduler(db, { allowlist: [], lookup });
    const refused = recordEvents(sched.events, 'lookupRefused');
    const job = await createJob(db, userId, {
      url: `http://evil.example.com:${t.port}/`,
      retry: { strategy: 'linear', max_attempts: 3, base_delay_ms: 0, max_delay_ms: 0 },
    });
    await finished(job.id);
    const ex = await executionsOf(db, job.id);
    // What a name that does not resolve gets (a user must not learn which internal names exist):
    // a network error, retried like one, never sent; the reason is in the server log only.
    expect(ex.map((e) => e.outcome)).toEqual(['network_error', 'network_error', 'network_error']);
    expect(ex[0]!.error).toBe(unreachableHostText('evil.example.com'));
    expect(ex[0]!.error).not.toMatch(/127\.0\.0\.1|loopback/);
    expect(refused.seen).toContainEqual({
      hostname: 'evil.example.com',
      reason: 'resolves to a loopback address',
    });
    expect(t.requests).toHaveLength(0);
    expect(await jobState(db, job.id)).toMatchObject({ status: 'failed', attempts: 3 });
  });

  it('blocks IP literals that slipped into the table (policy re-checked on every attempt)', async () => {
    const t = await target((_q, res) => void res.writeHead(200).end());
    sched = await startScheduler(db, { allowlist: [] });
    const job = await createJob(db, userId, { url: `http://127.0.0.1:${t.port}/` });
    const mapped = await createJob(db, userId, { url: `http://[::ffff:127.0.0.1]:${t.port}/` });
    await finished(job.id);
    await finished(mapped.id);
    expect((await executionsOf(db, job.id))[0]!.outcome).toBe('blocked');
    expect((await executionsOf(db, mapped.id))[0]!.outcome).toBe('blocked');
    expect(t.requests).toHaveLength(0);
  });
});
