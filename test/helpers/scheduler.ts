// Test factories for the scheduler: jobs inserted through the real repository, schedulers with
// their own pools (as separate processes would have), loopback targets allowed unless told otherwise.
import crypto from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { Executor, type LookupFn } from '../../src/scheduler/executor.ts';
import { Scheduler, type SchedulerOptions } from '../../src/scheduler/scheduler.ts';
import {
  SchedulerEvents,
  type AttemptRecorded,
  type OccurrencePlanned,
  type SchedulerEventMap,
} from '../../src/scheduler/events.ts';
import { createTargetPolicy } from '../../src/jobs/urlPolicy.ts';
import { createPool } from '../../src/db/pool.ts';
import { insertJobs } from '../../src/sql/jobs.ts';
import type { JobRow, NewJob } from '../../src/sql/jobRows.ts';
import { upsertUserByEmail } from '../../src/sql/users.ts';
import type { AttemptRecord } from '../../src/sql/attempts.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { silentLogger } from '../../src/logger.ts';
import type { TestDb } from './db.ts';
import { TEST_SECRETS_KEY } from './app.ts';
import { waitFor } from './http.ts';
import { recordEvents, type EventLog } from './events.ts';

export const SECRETS_KEY = Buffer.from(TEST_SECRETS_KEY, 'base64');

export async function createUser(db: TestDb, email = `u-${Math.random().toString(36).slice(2)}@example.com`) {
  return upsertUserByEmail(db.pool, email);
}

/** Inserts a job (defaults: POST to `url`, due now, 5 s timeout, 3 exponential attempts of 100 ms base). */
export async function createJob(
  db: TestDb,
  userId: string,
  over: Partial<NewJob> & { url: string },
): Promise<JobRow> {
  const { notifyWithinMs, ...job }: NewJob = {
    userId,
    name: null,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"ok":true}',
    fireAt: null,
    delaySeconds: 0,
    timeoutMs: 5000,
    retry: { strategy: 'exponential', max_attempts: 3, base_delay_ms: 100, max_delay_ms: 60_000 },
    idempotencyKey: null,
    requestHash: null,
    notifyWithinMs: 5000,
    traceParent: null,
    ...over,
  };
  const [row] = await insertJobs(db.pool, [{ ...job, id: crypto.randomUUID() }], notifyWithinMs);
  return row!;
}

export interface TestScheduler {
  scheduler: Scheduler;
  metrics: Metrics;
  /** scheduler.events, typed so that nextEvent (./events.ts) knows each event's payload. */
  events: EventEmitter<SchedulerEventMap>;
  /** Every attempt this scheduler recorded, from before it started: none can be missed. */
  attempts: EventLog<AttemptRecorded>;
  /** Every occurrence it created or skipped (and missed times it skipped), from before it started. */
  occurrences: EventLog<OccurrencePlanned>;
  /**
   * Resolves with the recorded attempt that left job `id` in one of `statuses` (default: finished,
   * succeeded or failed), whenever it was recorded.
   */
  finished(id: string, statuses?: readonly string[], timeoutMs?: number): Promise<AttemptRecorded>;
  stop(graceMs?: number): Promise<void>;
}

export async function startScheduler(
  db: TestDb,
  over: Partial<SchedulerOptions> & {
    allowlist?: string[];
    lookup?: LookupFn;
    maxResponseBytes?: number;
  } = {},
): Promise<TestScheduler> {
  const pool = createPool(db.url, { max: 5, applicationName: 'test-scheduler' });
  // A listener that throws surfaces as an uncaught error: the test fails, the scheduler goes on.
  const events = new SchedulerEvents();
  const executor = new Executor(
    { events, lookup: over.lookup },
    {
      policy: createTargetPolicy(over.allowlist ?? ['127.0.0.0/8', '::1/128']),
      maxResponseBytes: over.maxResponseBytes ?? 8192,
      userAgent: 'dist-job-scheduler/test',
    },
  );
  const metrics = new Metrics();
  const scheduler = new Scheduler(
    { pool, databaseUrl: db.url, executor, log: silentLogger, metrics, events },
    {
      concurrency: 50,
      batchSize: 50,
      perUserCap: 50,
      pollIntervalMs: 5000,
      leaseMs: 10_000,
      heartbeatIntervalMs: 1000,
      reaperIntervalMs: 500,
      shutdownGraceMs: 2000,
      secretsKey: SECRETS_KEY,
      ...over,
    },
  );
  // Typed as the emitter, so that the helpers of ./events.ts know each event's payload.
  const typed: EventEmitter<SchedulerEventMap> = events;
  const attempts = recordEvents(typed, 'attemptRecorded');
  const occurrences = recordEvents(typed, 'occurrencePlanned');
  await scheduler.start();
  let stopped = false;
  return {
    scheduler,
    metrics,
    events: typed,
    attempts,
    occurrences,
    finished: (id, statuses = ['succeeded', 'failed'], timeoutMs) =>
      attempts.first(
        (a) => a.jobId === id && a.status !== null && statuses.includes(a.status),
        `job ${id} to be ${statuses.join(' or ')}`,
        timeoutMs,
      ),
    async stop(graceMs?: number) {
      if (stopped) return;
      stopped = true;
      await scheduler.stop(graceMs);
      attempts.close();
      occurrences.close();
      await executor.close();
      await pool.end();
    },
  };
}

export async function jobState(db: TestDb, id: string) {
  const { rows } = await db.pool.query(
    `SELECT status, attempts, next_attempt_at, lease_token FROM jobs WHERE id = $1`,
    [id],
  );
  return rows[0] as { status: string; attempts: number; next_attempt_at: Date; lease_token: string | null };
}

export async function executionsOf(db: TestDb, id: string) {
  const { rows } = await db.pool.query(
    `SELECT * FROM job_executions WHERE job_id = $1 ORDER BY round, attempt, id`,
    [id],
  );
  return rows as {
    round: number;
    attempt: number;
    outcome: string;
    status_code: number | null;
    error: string | null;
    response_body: string | null;
    response_truncated: boolean;
    duration_ms: number | null;
    started_at: Date | null;
    finished_at: Date;
  }[];
}

/** Waits until the job is in one of `statuses` (default: finished by the scheduler) and returns its state. */
export function waitForStatus(
  db: TestDb,
  id: string,
  statuses: readonly string[] = ['succeeded', 'failed'],
  timeoutMs = 15_000,
) {
  return waitFor(
    async () => {
      const s = await jobState(db, id);
      return statuses.includes(s.status) && s;
    },
    `job ${id} to be ${statuses.join(' or ')}`,
    timeoutMs,
  );
}

/** How a forced job looks besides its status; what is left out is as a scheduler would leave it. */
export interface ForcedState {
  /** Attempts used (default: one more than before, as a claim counts one; a running job keeps its count). */
  attempts?: number;
  /** Who holds the lease (default: the current holder of a running job, else 'test'). */
  leaseOwner?: string;
  /**
   * When the lease ends, as a Postgres interval from now: '-1 second' is a lease that already expired,
   * ready for a reaper (default: a running job keeps its lease, a claimed one gets '1 minute').
   */
  leaseExpiresIn?: string;
  /** Terminal states: completed_at this Postgres interval ago, e.g. '8 days' (default: now). */
  finishedAgo?: string;
}

/**
 * Moves a live job to `status` through legal transitions only (the database trigger refuses others),
 * as a running or finished job would look: claimed first (scheduled/retrying → running, lease and
 * attempt as a scheduler sets them), then finished. Time is driven through the database, never slept
 * through. Returns the lease token the job held while running.
 */
export async function forceJobState(
  db: TestDb,
  id: string,
  status: 'running' | 'succeeded' | 'failed' | 'cancelled',
  opts: ForcedState = {},
): Promise<{ leaseToken: string }> {
  // SET expressions read the row as it was, so `status <> 'running'` means "this is the claim".
  const { rows } = await db.pool.query<{ lease_token: string }>(
    `UPDATE jobs SET status = 'running',
            attempts = COALESCE($2::int, attempts + (status <> 'running')::int),
            lease_token = COALESCE(lease_token, gen_random_uuid()),
            lease_owner = COALESCE($3::text, lease_owner, 'test'),
            lease_expires_at = COALESCE(now() + $4::interval, lease_expires_at, now() + interval '1 minute')
      WHERE id = $1 AND status IN ('scheduled', 'retrying', 'running')
      RETURNING lease_token`,
    [id, opts.attempts ?? null, opts.leaseOwner ?? null, opts.leaseExpiresIn ?? null],
  );
  if (!rows[0]) throw new Error(`forceJobState: job ${id} is missing or already finished`);
  if (status !== 'running') {
    await db.pool.query(
      `UPDATE jobs SET status = $2, completed_at = now() - $3::interval,
              lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL, heartbeat_at = NULL
        WHERE id = $1`,
      [id, status, opts.finishedAgo ?? '0 seconds'],
    );
  }
  return { leaseToken: rows[0].lease_token };
}

/**
 * Inserts `n` jobs of one user in one statement (faster than createJob for hundreds): POST to `url`,
 * due `dueAgo` ago (a Postgres interval, default now), 5 s timeout, linear retries.
 */
export async function insertDueJobs(
  db: TestDb,
  userId: string,
  url: string,
  n: number,
  opts: { dueAgo?: string; maxAttempts?: number; baseDelayMs?: number } = {},
): Promise<void> {
  await db.pool.query(
    `INSERT INTO jobs (user_id, method, url, fire_at, next_attempt_at, timeout_ms, retry_strategy, max_attempts,
                       base_delay_ms, max_delay_ms)
     SELECT $1, 'POST', $2, now() - $4::interval, now() - $4::interval, 5000, 'linear', $5, $6, greatest($6, 1000)
       FROM generate_series(1, $3)`,
    [userId, url, n, opts.dueAgo ?? '0 s', opts.maxAttempts ?? 1, opts.baseDelayMs ?? 0],
  );
}

/** The record of a first attempt that succeeded (200, body "fine"), for writing results directly. */
export function succeededAttempt(id: string, leaseToken: string): AttemptRecord {
  return {
    id,
    leaseToken,
    round: 1,
    attempt: 1,
    newStatus: 'succeeded',
    retryDelayMs: null,
    outcome: 'succeeded',
    statusCode: 200,
    error: null,
    responseBody: 'fine',
    responseEncoding: 'utf8',
    responseTruncated: false,
    startedAgoMs: 10,
    durationMs: 5,
  };
}
