// Leases and many schedulers: no job runs twice at once, fenced writes, the reaper, cancel during a
// request, graceful hand-back, fairness. Invariants are checked from what the target recorded.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { EventLog, nextEvent } from '../helpers/events.ts';
import { targets, waitFor, type Recorded } from '../helpers/http.ts';
import {
  createJob,
  createUser,
  executionsOf,
  forceJobState,
  insertDueJobs,
  jobState,
  startScheduler,
  type TestScheduler,
} from '../helpers/scheduler.ts';
import { cancelJob } from '../../src/sql/jobs.ts';

let db: TestDb;
const { target, closeAll } = targets();
const scheds: TestScheduler[] = [];

async function scheduler(over: Parameters<typeof startScheduler>[1] = {}) {
  const s = await startScheduler(db, over);
  scheds.push(s);
  return s;
}
const hold =
  (ms: number) => (_q: unknown, res: { writeHead(c: number): { end(): void }; destroyed?: boolean }) => {
    setTimeout(() => res.writeHead(200).end(), ms);
  };
/** Resolves when `n` distinct jobs have succeeded on these schedulers (their logs began before they started). */
function succeeded(on: TestScheduler[], n: number, timeoutMs?: number) {
  const log = EventLog.merge(on.map((s) => s.attempts));
  return log
    .until(
      (seen) => new Set(seen.filter((a) => a.status === 'succeeded').map((a) => a.jobId)).size >= n,
      `${n} jobs to succeed`,
      timeoutMs,
    )
    .finally(() => log.close());
}
const countByStatus = async () => {
  const { rows } = await db.pool.query(`SELECT status, count(*)::int AS n FROM jobs GROUP BY status`);
  return Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>;
};

function overlaps(requests: Recorded[]): string[] {
  const byJob = new Map<string, Recorded[]>();
  for (const r of requests) {
    const id = String(r.headers['webhook-id']);
    byJob.set(id, [...(byJob.get(id) ?? []), r]);
  }
  const bad: string[] = [];
  for (const [id, rs] of byJob) {
    const sorted = rs.sort((a, b) => a.start - b.start);
    for (let i = 1; i < sorted.length; i++) if (sorted[i]!.start < sorted[i - 1]!.end) bad.push(id);
  }
  return bad;
}

beforeAll(async () => {
  db = await createTestDb();
});
afterEach(async () => {
  await Promise.all(scheds.splice(0).map((s) => s.stop(0)));
  await closeAll();
  await db.pool.query('DELETE FROM jobs');
});
afterAll(() => db.drop());

describe('several schedulers on one database', () => {
  it('three schedulers drain 600 jobs: each runs exactly once, never concurrently with itself', async () => {
    const t = await target(hold(5));
    const user = await createUser(db);
    await db.pool.query(
      `INSERT INTO jobs (user_id, method, url, fire_at, next_attempt_at, timeout_ms, retry_strategy, max_attempts, base_delay_ms, max_delay_ms)
       SELECT $1, 'POST', $2, now(), now(), 5000, 'linear', 3, 100, 1000 FROM generate_series(1, 600)`,
      [user.id, t.url],
    );
    const three = await Promise.all([
      scheduler({ batchSize: 20 }),
      scheduler({ batchSize: 20 }),
      scheduler({ batchSize: 20 }),
    ]);
    await succeeded(three, 600, 60_000);
    expect(await countByStatus()).toEqual({ succeeded: 600 });
    expect(overlaps(t.requests)).toEqual([]);
    expect(t.requests).toHaveLength(600);
    expect(new Set(t.requests.map((r) => r.headers['webhook-id'])).size).toBe(600);
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT job_id)::int AS jobs FROM job_executions`,
    );
    expect(rows[0]).toEqual({ n: 600, jobs: 600 });
  });
});

describe('leases', () => {
  it('a worker whose lease was reaped cannot overwrite the result: its late result is superseded', async () => {
    let release: () => void = () => {};
    const t = await target((_q, res, _b, n) => {
      if (n === 1) release = () => res.writeHead(200).end('late');
      else res.writeHead(500).end('second attempt fails');
    });
    const user = await createUser(db);
    // Each scheduler's first reaper pass comes at once (random 0), the next a minute later: only B's
    // first pass can rescue the job. A heartbeats too slowly to notice the reap before its request ends.
    const a = await scheduler({
      heartbeatIntervalMs: 60_000,
      leaseMs: 120_000,
      reaperIntervalMs: 60_000,
      random: () => 0,
    });
    // Listening before any pass can end: a pass needs database round trips.
    const aFirstPass = nextEvent(a.events, 'reaped');
    const job = await createJob(db, user.id, {
      url: t.url,
      retry: { strategy: 'linear', max_attempts: 3, base_delay_ms: 60_000, max_delay_ms: 60_000 },
    });
    await waitFor(() => t.requests.length === 1, 'first request');
    await aFirstPass;
    // The lease expires (as if A had stalled); another scheduler's reaper rescues the job.
    await forceJobState(db, job.id, 'running', { leaseExpiresIn: '-1 second' });
    const b = await scheduler({ reaperIntervalMs: 60_000, random: () => 0 });
    // Listening before B's first pass can end; the event follows the rescue's commit.
    expect(await nextEvent(b.events, 'reaped', (e) => e.rescued > 0)).toEqual({ rescued: 1 });
    expect(await jobState(db, job.id)).toMatchObject({ status: 'retrying', attempts: 1 });
    release();
    expect(await a.attempts.first((e) => e.jobId === job.id, 'the late result recorded')).toMatchObject({
      outcome: 'superseded',
      status: null,
    });
    const ex = await executionsOf(db, job.id);
    expect(ex.map((e) => e.outcome).sort()).toEqual(['lost', 'superseded']);
    expect(await jobState(db, job.id)).toMatchObject({ status: 'retrying', attempts: 1, lease_token: null });
    // Derived from the same event, before anyone else heard of it.
    expect((await a.metrics.superseded.get()).values[0]?.value).toBe(1);
  });

  it('the reaper fails a job whose last attempt was lost', async () => {
    const user = await createUser(db);
    const job = await createJob(db, user.id, {
      url: 'http://127.0.0.1:9/',
      retry: { strategy: 'linear', max_attempts: 1, base_delay_ms: 0, max_delay_ms: 0 },
    });
    await forceJobState(db, job.id, 'running', { leaseOwner: 'crashed', leaseExpiresIn: '-1 second' });
    // Its first reaper pass comes at once (random 0); the event follows the rescue's commit.
    const s = await scheduler({ reaperIntervalMs: 60_000, random: () => 0 });
    expect(await nextEvent(s.events, 'reaped', (e) => e.rescued > 0)).toEqual({ rescued: 1 });
    expect(await jobState(db, job.id)).toMatchObject({ status: 'failed', attempts: 1 });
    const [ex] = await executionsOf(db, job.id);
    expect(ex).toMatchObject({ attempt: 1, outcome: 'lost' });
  });

  it('heartbeats keep a long request leased past its initial lease', async () => {
    const t = await target(hold(2500));
    const user = await createUser(db);
    const s = await scheduler({ leaseMs: 1000, heartbeatIntervalMs: 300, reaperIntervalMs: 200 });
    const job = await createJob(db, user.id, { url: t.url });
    await s.finished(job.id, ['succeeded']);
    expect((await executionsOf(db, job.id)).map((e) => e.outcome)).toEqual(['succeeded']);
    expect(t.requests).toHaveLength(1);
  });
});

describe('cancel and shutdown', () => {
  it('cancelling a running job aborts its request at once', async () => {
    let closedAt = 0;
    const t = await target((req) => {
      req.socket.on('close', () => (closedAt = performance.now()));
    });
    const user = await createUser(db);
    const s = await scheduler({ heartbeatIntervalMs: 60_000, leaseMs: 120_000 });
    const job = await createJob(db, user.id, { url: t.url, timeoutMs: 60_000 });
    await waitFor(() => t.requests.length === 1, 'request to start');
    const cancelledAt = performance.now();
    const r = await cancelJob(db.pool, user.id, job.id);
    expect(r?.before).toBe('running');
    await waitFor(() => closedAt > 0, 'target connection to be closed');
    expect(closedAt - cancelledAt).toBeLessThan(2000);
    expect(await s.finished(job.id, ['cancelled'])).toMatchObject({ outcome: 'cancelled' });
    expect((await executionsOf(db, job.id)).map((e) => e.outcome)).toEqual(['cancelled']);
    expect(await jobState(db, job.id)).toMatchObject({ status: 'cancelled' });
  });

  it('graceful shutdown hands unfinished jobs back, due now, without burning an attempt', async () => {
    const t = await target(() => {
      /* never answers */
    });
    const user = await createUser(db);
    const s = await scheduler();
    const job = await createJob(db, user.id, { url: t.url, timeoutMs: 60_000 });
    await waitFor(() => t.requests.length === 1, 'request to start');
    const quick = await target(hold(50));
    const done = await createJob(db, user.id, { url: quick.url });
    await waitFor(() => quick.requests.length === 1, 'quick request to start');
    await s.stop(500);
    expect(await jobState(db, done.id)).toMatchObject({ status: 'succeeded' });
    const st = await jobState(db, job.id);
    expect(st).toMatchObject({ status: 'retrying', attempts: 0, lease_token: null });
    const { rows } = await db.pool.query(`SELECT next_attempt_at <= now() AS due FROM jobs WHERE id = $1`, [
      job.id,
    ]);
    expect(rows[0].due).toBe(true);
    expect(await executionsOf(db, job.id)).toEqual([]);
  });
});

describe('fairness', () => {
  it("one user's backlog cannot starve another's: the per-user cap leaves room", async () => {
    const t = await target(hold(1000));
    const greedy = await createUser(db);
    const modest = await createUser(db);
    await insertDueJobs(db, greedy.id, `${t.url}/greedy`, 200, { dueAgo: '1 minute' });
    await insertDueJobs(db, modest.id, `${t.url}/modest`, 10);
    await scheduler({ concurrency: 20, batchSize: 20, perUserCap: 10 });
    await waitFor(
      () => t.requests.filter((r) => r.url === '/modest').length === 10,
      "the modest user's 10 jobs to start",
      10_000,
    );
    const greedyStarted = t.requests.filter((r) => r.url === '/greedy');
    const firstGreedyEnd = Math.min(...greedyStarted.map((r) => r.end || Infinity));
    const lastModestStart = Math.max(...t.requests.filter((r) => r.url === '/modest').map((r) => r.start));
    // All of the modest user's jobs started while the greedy user's first wave was still in flight…
    expect(lastModestStart).toBeLessThan(firstGreedyEnd);
    // …and the greedy user never had more than its cap in flight at once.
    expect(greedyStarted.length).toBe(10);
  });

  it('a user at the cap goes on the moment a result frees a slot, without polling for it', async () => {
    const t = await target(hold(100));
    const user = await createUser(db);
    await insertDueJobs(db, user.id, `${t.url}/capped`, 4);
    // One slot, and no polling that could find the freed slot instead (a minute between looks):
    // only the wake of each recorded result can start the next job in time.
    const s = await scheduler({ perUserCap: 1, pollIntervalMs: 60_000, cappedPollMs: 60_000 });
    await succeeded([s], 4, 10_000);
    const starts = t.requests.map((r) => r.start).sort((a, b) => a - b);
    const ends = t.requests.map((r) => r.end).sort((a, b) => a - b);
    // Never two at once.
    for (let k = 1; k < 4; k++) expect(starts[k]!).toBeGreaterThanOrEqual(ends[k - 1]!);
  });
});
