// Each scheduler service on its own, against a real database: what one step of it does and returns.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EventEmitter } from 'node:events';
import { createTestDb, type TestDb } from '../helpers/db.ts';
import { recordEvents } from '../helpers/events.ts';
import { startServer, waitFor, type TestServer } from '../helpers/http.ts';
import {
  createJob,
  createUser,
  executionsOf,
  forceJobState,
  jobState,
  SECRETS_KEY,
} from '../helpers/scheduler.ts';
import { Claimer } from '../../src/scheduler/claimer.ts';
import { Heartbeater } from '../../src/scheduler/heartbeater.ts';
import { Reaper } from '../../src/scheduler/reaper.ts';
import { Dispatcher, ABORT } from '../../src/scheduler/dispatcher.ts';
import { Completer } from '../../src/scheduler/completer.ts';
import { Executor } from '../../src/scheduler/executor.ts';
import { SchedulerEvents, type SchedulerEventMap } from '../../src/scheduler/events.ts';
import { metricsFromEvents } from '../../src/scheduler/metricsFromEvents.ts';
import { SigningSecretCache } from '../../src/webhooks/secrets.ts';
import { createTargetPolicy } from '../../src/jobs/urlPolicy.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/logger.ts';
import type { ClaimedJob } from '../../src/sql/scheduler.ts';

let db: TestDb;
let userId: string;
let target: TestServer;
const once = { strategy: 'linear' as const, max_attempts: 1, base_delay_ms: 0, max_delay_ms: 0 };

beforeAll(async () => {
  db = await createTestDb();
  userId = (await createUser(db)).id;
  target = await startServer((_q, res) => void res.writeHead(204).end());
});
afterAll(async () => {
  await target.close();
  await db.drop();
});
beforeEach(async () => {
  await db.pool.query(`DELETE FROM jobs`);
});

const claimerOpts = {
  workerId: 'w1',
  concurrency: 10,
  batchSize: 10,
  perUserCap: 10,
  leaseMs: 10_000,
  pollIntervalMs: 5000,
};

function claimer(dispatched: ClaimedJob[], inFlight = () => 0) {
  const events = new SchedulerEvents();
  const c = new Claimer(
    {
      pool: db.pool,
      log: silentLogger,
      events,
      inFlight,
      dispatch: (job) => dispatched.push(job),
      afterClaim: (_tx, jobs) => Promise.resolve({ run: jobs }),
    },
    claimerOpts,
  );
  return { c, events };
}

/** What `events` reports as `name` from now on. */
const seen = <K extends keyof SchedulerEventMap>(events: EventEmitter<SchedulerEventMap>, name: K) =>
  recordEvents(events, name).seen;

describe('claimer.claimOnce', () => {
  it('nothing waiting: sleeps the poll interval', async () => {
    const { c } = claimer([]);
    expect(await c.claimOnce()).toBe(5000);
  });

  it('a job due later: sleeps until it (database clock), capped by the poll interval', async () => {
    await createJob(db, userId, { url: target.url, delaySeconds: 2 });
    const { c } = claimer([]);
    const d = await c.claimOnce();
    expect(d).toBeGreaterThan(1000);
    expect(d).toBeLessThanOrEqual(2000);
  });

  it('a job moved later: once its old time has passed, the loop sleeps the poll interval', async () => {
    await createJob(db, userId, { url: target.url, delaySeconds: 0.2 });
    const { c } = claimer([]);
    expect(await c.claimOnce()).toBeLessThanOrEqual(200);
    await db.pool.query(`UPDATE jobs SET next_attempt_at = now() + interval '1 hour'`);
    // The user's next_due stays at the old time (early is allowed, late never is); the look reads
    // past it to the real next job.
    await new Promise((r) => setTimeout(r, 250));
    expect(await c.claimOnce()).toBe(5000);
  });

  it('due jobs: claims them (leased, running) and asks to go again at once', async () => {
    const jobs = await Promise.all([1, 2, 3].map(() => createJob(db, userId, { url: target.url })));
    const got: ClaimedJob[] = [];
    const { c } = claimer(got);
    expect(await c.claimOnce()).toBe(0);
    expect(got.map((j) => j.id).sort()).toEqual(jobs.map((j) => j.id).sort());
    for (const j of jobs) expect(await jobState(db, j.id)).toMatchObject({ status: 'running', attempts: 1 });
    expect(got.every((j) => j.lease_token && j.signing_versions.length === 1)).toBe(true);
  });

  it('saturated: claims nothing and waits to be woken by a freed slot', async () => {
    await createJob(db, userId, { url: target.url });
    const got: ClaimedJob[] = [];
    const { c } = claimer(got, () => 9); // 1 free slot < minClaim (2), and not nearly idle
    expect(await c.claimOnce()).toBe(5000);
    expect(got).toHaveLength(0);
  });

  it('a due job it cannot take (another transaction holds it): once at once, then counted as a stuck wait', async () => {
    const job = await createJob(db, userId, { url: target.url });
    const other = await db.pool.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT id FROM jobs WHERE id = $1 FOR UPDATE', [job.id]);
      const { c, events } = claimer([]);
      const stuck = seen(events, 'dueNotClaimed');
      expect(await c.claimOnce()).toBe(0);
      expect(stuck).toEqual([]);
      expect(await c.claimOnce()).toBe(50);
      expect(stuck).toEqual([{ retryInMs: 50 }]);
    } finally {
      await other.query('ROLLBACK');
      other.release();
    }
    expect((await jobState(db, job.id)).status).toBe('scheduled');
  });

  it('a due job whose user is at the cap: not a stuck wait; waits for a freed slot, looking again every 100 ms', async () => {
    const job = await createJob(db, userId, { url: target.url });
    const held = await Promise.all(
      Array.from({ length: 10 }, () => createJob(db, userId, { url: target.url })),
    );
    for (const h of held) await forceJobState(db, h.id, 'running');
    const { c, events } = claimer([]);
    const stuck = seen(events, 'dueNotClaimed');
    expect(c.waitsForFreedSlot).toBe(false);
    expect(await c.claimOnce()).toBe(100);
    expect(c.waitsForFreedSlot).toBe(true);
    expect(await c.claimOnce()).toBe(100);
    expect(stuck).toEqual([]);
    expect((await jobState(db, job.id)).status).toBe('scheduled');
    // A slot frees: the next look takes the job.
    await forceJobState(db, held[0]!.id, 'succeeded');
    expect(await c.claimOnce()).toBe(0);
    expect((await jobState(db, job.id)).status).toBe('running');
    expect(await c.claimOnce()).toBe(5000);
    expect(c.waitsForFreedSlot).toBe(false);
  });
});

describe('heartbeater.beatOnce', () => {
  it('extends the leases it still holds and reports the lost ones', async () => {
    const a = await createJob(db, userId, { url: target.url });
    const b = await createJob(db, userId, { url: target.url });
    const got: ClaimedJob[] = [];
    await claimer(got).c.claimOnce();
    const before = await db.pool.query(`SELECT id, lease_expires_at FROM jobs`);
    // b is cancelled meanwhile: its lease is gone.
    await forceJobState(db, b.id, 'cancelled');
    const lost: string[] = [];
    const events = new SchedulerEvents();
    const beats = seen(events, 'heartbeat');
    const h = new Heartbeater(
      {
        pool: db.pool,
        log: silentLogger,
        events,
        leases: () => got.map((j) => ({ id: j.id, leaseToken: j.lease_token })),
        onLost: (l) => lost.push(l.id),
      },
      { intervalMs: 1000, leaseMs: 60_000 },
    );
    expect(await h.beatOnce()).toEqual({ held: 1, lost: 1 });
    expect(lost).toEqual([b.id]);
    expect(beats).toEqual([{ held: 1, lost: 1 }]);
    const after = await db.pool.query(`SELECT lease_expires_at FROM jobs WHERE id = $1`, [a.id]);
    const was = before.rows.find((r) => r.id === a.id).lease_expires_at as Date;
    expect(new Date(after.rows[0].lease_expires_at).getTime()).toBeGreaterThan(was.getTime() + 40_000);
  });
});

describe('reaper.runOnce', () => {
  it('takes back expired leases with the one retry decision, records them as lost, and reports', async () => {
    const retry = await createJob(db, userId, { url: target.url });
    const last = await createJob(db, userId, { url: target.url, retry: once });
    const live = await createJob(db, userId, { url: target.url });
    for (const j of [retry, last]) await forceJobState(db, j.id, 'running', { leaseExpiresIn: '-1 second' });
    await forceJobState(db, live.id, 'running');
    const events = new SchedulerEvents();
    const reaped = seen(events, 'reaped');
    const metrics = new Metrics();
    metricsFromEvents(events, metrics);
    const r = new Reaper(
      { pool: db.pool, log: silentLogger, events },
      { intervalMs: 1000, random: () => 0.5 },
    );
    expect(await r.runOnce()).toEqual({ rescued: 2 });
    expect(reaped).toEqual([{ rescued: 2 }]);
    expect((await metrics.reaperRescues.get()).values[0]!.value).toBe(2);
    const s = await jobState(db, retry.id);
    expect(s.status).toBe('retrying');
    // exponential, 100 ms base, first attempt lost: due ~100 ms later (jitter factor 1)
    const { rows } = await db.pool.query(
      `SELECT extract(epoch FROM next_attempt_at - now()) * 1000 AS ms FROM jobs WHERE id = $1`,
      [retry.id],
    );
    expect(Number(rows[0].ms)).toBeLessThanOrEqual(100);
    expect((await jobState(db, last.id)).status).toBe('failed');
    expect((await jobState(db, live.id)).status).toBe('running');
    for (const j of [retry, last])
      expect((await executionsOf(db, j.id)).map((e) => e.outcome)).toEqual(['lost']);
    expect(await r.runOnce()).toEqual({ rescued: 0 });
  });

  it('its first pass comes at a random point of the interval, not at start', async () => {
    const j = await createJob(db, userId, { url: target.url });
    await forceJobState(db, j.id, 'running', { leaseExpiresIn: '-1 second' });
    const events = new SchedulerEvents();
    const r = new Reaper(
      { pool: db.pool, log: silentLogger, events },
      { intervalMs: 400, random: () => 0.5 },
    );
    const t0 = performance.now();
    const first = new Promise<number>((resolve) =>
      events.once('reaped', () => resolve(performance.now() - t0)),
    );
    r.start();
    try {
      expect(await first).toBeGreaterThanOrEqual(199);
    } finally {
      await r.stop();
    }
    expect((await jobState(db, j.id)).status).toBe('retrying');
  });
});

/** A dispatcher wired as the scheduler wires it: a real executor, a completer writing to the database. */
function dispatcher(on: { onRecorded?: (id: string) => void; onSettled?: (inFlight: number) => void }) {
  const events = new SchedulerEvents();
  const executor = new Executor(
    { events },
    { policy: createTargetPolicy(['127.0.0.0/8']), maxResponseBytes: 1024, userAgent: 'test' },
  );
  const completer = new Completer(db.pool, 'w1', silentLogger, {
    onRecorded: (r) => on.onRecorded?.(r.id),
  });
  const d = new Dispatcher({
    executor,
    completer,
    secrets: new SigningSecretCache(SECRETS_KEY),
    log: silentLogger,
    events,
    onSettled: (n) => on.onSettled?.(n),
  });
  const close = async () => {
    completer.stop();
    await executor.close();
  };
  return { d, events, completer, close };
}

describe('dispatcher', () => {
  it('fires a claimed job, decides, hands the result to the completer; settled() waits for it', async () => {
    const job = await createJob(db, userId, { url: target.url });
    const got: ClaimedJob[] = [];
    await claimer(got).c.claimOnce();
    const settled: number[] = [];
    const { d, events, completer, close } = dispatcher({ onSettled: (n) => settled.push(n) });
    const inFlight = seen(events, 'inFlight');
    const ended = seen(events, 'requestEnded');
    try {
      d.dispatch(got[0]!, performance.now());
      expect(d.size).toBe(1);
      expect(d.leases()).toEqual([{ id: job.id, leaseToken: got[0]!.lease_token }]);
      await d.settled();
      expect(d.size).toBe(0);
      expect(settled).toEqual([0]);
      expect(inFlight).toEqual([{ count: 1 }, { count: 0 }]);
      expect(ended).toEqual([
        expect.objectContaining({ jobId: job.id, round: 1, attempt: 1, outcome: 'succeeded' }),
      ]);
      await completer.drain(5000);
      expect(await jobState(db, job.id)).toMatchObject({ status: 'succeeded' });
      expect(target.requests.at(-1)!.headers['webhook-id']).toBe(job.id);
    } finally {
      await close();
    }
  });

  it('abort() with the wrong lease token does nothing; a shutdown abort records nothing', async () => {
    const hang = await startServer(() => {});
    const job = await createJob(db, userId, { url: hang.url });
    const got: ClaimedJob[] = [];
    await claimer(got).c.claimOnce();
    const pushed: string[] = [];
    const { d, events, completer, close } = dispatcher({ onRecorded: (id) => pushed.push(id) });
    const ended = seen(events, 'requestEnded');
    try {
      d.dispatch(got[0]!, performance.now());
      await waitFor(() => hang.requests.length === 1, 'the request to arrive');
      expect(d.abort(job.id, ABORT.leaseLost, '00000000-0000-0000-0000-000000000000')).toBe(false);
      expect(d.size).toBe(1);
      expect(d.abortAll(ABORT.shutdown)).toEqual([{ id: job.id, leaseToken: got[0]!.lease_token }]);
      await d.settled();
      await completer.drain(5000);
      expect(pushed).toEqual([]);
      expect(ended.map((e) => e.outcome)).toEqual(['handed_back']);
      expect((await jobState(db, job.id)).status).toBe('running'); // stop() hands it back
    } finally {
      await close();
      await hang.close();
    }
  });
});
