// The three systems under test, driven the same way: enqueue N jobs (each an HTTP POST to the same
// loopback target, carrying its due time), start a worker, wait until the system itself records
// every job as completed.
import { Agent, request } from 'undici';
import { PgBoss } from 'pg-boss';
import { run, runMigrations, makeWorkerUtils, type Runner } from 'graphile-worker';
import { createPool, type Pool } from '../src/db/pool.ts';
import { SchedulerEvents } from '../src/scheduler/events.ts';
import { Executor } from '../src/scheduler/executor.ts';
import type { CleanerOptions } from '../src/scheduler/cleaner.ts';
import { Scheduler } from '../src/scheduler/scheduler.ts';
import { createTargetPolicy } from '../src/jobs/urlPolicy.ts';
import { Metrics } from '../src/observability/metrics.ts';
import { silentLogger } from '../src/logger.ts';
import { upsertUserByEmail } from '../src/sql/users.ts';

export interface System {
  name: string;
  /** Inserts jobs due at the given epoch-ms times. */
  enqueue(dueAt: number[]): Promise<void>;
  start(): Promise<void>;
  /** Jobs not yet recorded as completed, by a query that uses the system's own indexes. */
  remaining(): Promise<number>;
  stop(): Promise<void>;
  reset(): Promise<void>;
}

export const SECRETS_KEY = Buffer.alloc(32, 3);

/** Our scheduler, in this process, on the full product path (claim, execute, record an execution). */
export function ours(
  databaseUrl: string,
  targetUrl: string,
  opts: {
    concurrency?: number;
    pollMs?: number;
    cleaner?: Partial<CleanerOptions>;
    perUserCap?: number;
  } = {},
): System {
  const pool: Pool = createPool(databaseUrl, { max: 10 });
  let scheduler: Scheduler | null = null;
  const metrics = new Metrics();
  let executor: Executor | null = null;
  let userId = '';
  let farFuture = false;
  return {
    name: 'dist-job-scheduler',
    async enqueue(dueAt) {
      if (dueAt.length === 1 && dueAt[0]! > Date.now() + 600_000) farFuture = true;
      userId ||= (await upsertUserByEmail(pool, 'bench@example.com')).id;
      for (let i = 0; i < dueAt.length; i += 10_000) {
        const chunk = dueAt.slice(i, i + 10_000);
        await pool.query(
          `INSERT INTO jobs (user_id, method, url, headers, body, fire_at, next_attempt_at, timeout_ms, retry_strategy, max_attempts, base_delay_ms, max_delay_ms)
           SELECT $1, 'POST', $2, jsonb_build_object('x-due', d::text), '{}', to_timestamp(d / 1000.0), to_timestamp(d / 1000.0), 10000, 'exponential', 3, 1000, 60000
             FROM unnest($3::float8[]) AS d`,
          [userId, targetUrl, chunk],
        );
        // As the API does on create: wake the schedulers for the earliest new job.
        await pool.query(`SELECT pg_notify('djs_jobs_due', $1::bigint::text)`, [Math.min(...chunk)]);
      }
      await pool.query('ANALYZE jobs');
    },
    async start() {
      const events = new SchedulerEvents();
      executor = new Executor(
        { events },
        { policy: createTargetPolicy(['127.0.0.0/8']), maxResponseBytes: 8192, userAgent: 'bench' },
      );
      scheduler = new Scheduler(
        { pool, databaseUrl, executor, log: silentLogger, metrics, events },
        {
          concurrency: opts.concurrency ?? Number(process.env.BENCH_CONCURRENCY ?? 200),
          batchSize: Number(process.env.BENCH_BATCH ?? 100),
          perUserCap: opts.perUserCap ?? 100_000,
          pollIntervalMs: opts.pollMs ?? 5000,
          leaseMs: 30_000,
          heartbeatIntervalMs: 5000,
          reaperIntervalMs: 5000,
          shutdownGraceMs: 5000,
          secretsKey: SECRETS_KEY,
          cleaner: opts.cleaner,
        },
      );
      await scheduler.start();
      if (process.env.BENCH_TRACE) {
        const t = setInterval(
          () =>
            void metrics.stuckWaits
              .get()
              .then((m) => process.stderr.write(`stuck=${m.values[0]?.value ?? 0} `)),
          1000,
        );
        t.unref();
      }
    },
    async remaining() {
      // Ordered LIMIT 2 probes of the partial indexes on live jobs (jobs_user_due_idx, jobs_running_idx),
      // polled every 25 ms: cheap however many have finished. Each system's probe is one; a count,
      // or an order no index has, is planned as a (parallel) sequential scan that taxes the system
      // under test (ours paid that from migration 0008, which dropped the due-time index, until this
      // probe followed the new index).
      const { rows } = await pool.query(
        `SELECT (SELECT count(*) FROM (SELECT 1 FROM jobs WHERE status IN ('scheduled', 'retrying') ORDER BY user_id, next_attempt_at LIMIT 2) a)
              + (SELECT count(*) FROM (SELECT 1 FROM jobs WHERE status = 'running' ORDER BY user_id LIMIT 2) b) AS n`,
      );
      return Number(rows[0].n) - (farFuture ? 1 : 0);
    },
    async stop() {
      if (process.env.BENCH_TRACE) {
        const h = await metrics.fireLateness.get();
        process.stderr.write(
          `\nsent-lateness buckets: ${h.values
            .filter((v) => v.metricName?.endsWith('bucket'))
            .map((v) => `${String((v.labels as Record<string, unknown>).le)}:${v.value}`)
            .join(' ')}\n`,
        );
      }
      await scheduler?.stop(1000);
      await executor?.close();
      scheduler = null;
    },
    async reset() {
      await pool.query(`DELETE FROM jobs`);
      farFuture = false;
    },
  };
}

/** The same HTTP POST the peers make: a shared keep-alive agent, like ours. */
function poster(targetUrl: string) {
  const agent = new Agent({ connections: 128, keepAliveTimeout: 4000 });
  return {
    agent,
    async post(due: number) {
      const res = await request(targetUrl, {
        method: 'POST',
        headers: { 'x-due': String(due) },
        body: '{}',
        dispatcher: agent,
      });
      await res.body.dump();
      if (res.statusCode >= 300) throw new Error(`status ${res.statusCode}`);
    },
  };
}

/** pg-boss 12: batchSize 50, burst on full batches, fastest polling (0.5 s). */
export function pgboss(databaseUrl: string, targetUrl: string): System {
  const boss = new PgBoss({
    connectionString: databaseUrl,
    schema: 'bench_pgboss',
    max: 10,
    supervise: false,
    schedule: false,
  });
  const http = poster(targetUrl);
  const Q = 'bench-hook';
  let started = false;
  const ensure = async () => {
    if (started) return;
    boss.on('error', () => {});
    await boss.start();
    started = true;
    if (!(await boss.getQueue(Q))) await boss.createQueue(Q);
  };
  return {
    name: 'pg-boss',
    async enqueue(dueAt) {
      await ensure();
      for (let i = 0; i < dueAt.length; i += 1000) {
        await boss.insert(
          Q,
          dueAt.slice(i, i + 1000).map((d) => ({ data: { due: d }, startAfter: new Date(d) })),
        );
      }
    },
    async start() {
      await boss.work<{ due: number }>(
        Q,
        { batchSize: 50, pollingIntervalSeconds: 0.5, burstWhenBatchFull: true, localConcurrency: 4 },
        async (jobs) => {
          await Promise.all(jobs.map((j) => http.post(j.data.due)));
        },
      );
    },
    async remaining() {
      const { rows } = await boss.getDb().executeSql(
        // A LIMIT 2 probe of the partial index on live jobs (see ours' remaining()).
        // job_common_i14 holds only live (and failed) jobs; IN, not <, lets the planner prove it fits.
        `SELECT count(*)::int AS n FROM (SELECT 1 FROM bench_pgboss.job WHERE name = $1 AND state IN ('created', 'retry', 'active')
              AND start_after < now() + interval '10 minutes' ORDER BY state, blocked, start_after LIMIT 2) l`,
        [Q],
      );
      return (rows[0] as { n: number }).n;
    },
    async stop() {
      await boss.offWork(Q);
    },
    async reset() {
      await ensure();
      await boss.deleteAllJobs(Q);
    },
  };
}

/** graphile-worker: localQueue 500, concurrency 50, batched completion, 0.5 s poll. */
export function graphile(databaseUrl: string, targetUrl: string): System {
  const http = poster(targetUrl);
  let runner: Runner | null = null;
  const pool = createPool(databaseUrl, { max: 4 });
  return {
    name: 'graphile-worker',
    async enqueue(dueAt) {
      await runMigrations({ connectionString: databaseUrl, logger: quietGraphileLogger });
      const utils = await makeWorkerUtils({ connectionString: databaseUrl, logger: quietGraphileLogger });
      try {
        for (let i = 0; i < dueAt.length; i += 1000) {
          await utils.addJobs(
            dueAt
              .slice(i, i + 1000)
              .map((d) => ({ identifier: 'hook', payload: { due: d }, runAt: new Date(d) })),
          );
        }
      } finally {
        await utils.release();
      }
    },
    async start() {
      runner = await run({
        connectionString: databaseUrl,
        concurrency: 50,
        pollInterval: 500,
        noHandleSignals: true,
        logger: quietGraphileLogger,
        taskList: { hook: async (payload) => http.post((payload as { due: number }).due) },
        preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
      });
    },
    async remaining() {
      // Completed jobs are deleted. A LIMIT 2 probe in primary-key order (see ours' remaining()).
      const { rows } = await pool.query(
        `SELECT count(*)::int AS n FROM (SELECT 1 FROM graphile_worker._private_jobs WHERE run_at < now() + interval '10 minutes'
            ORDER BY id LIMIT 2) l`,
      );
      return rows[0].n as number;
    },
    async stop() {
      await runner?.stop();
      runner = null;
    },
    async reset() {
      await pool.query(`DELETE FROM graphile_worker._private_jobs`).catch(() => {});
    },
  };
}

import { Logger as GraphileLogger } from 'graphile-worker';
const quietGraphileLogger = new GraphileLogger(() => () => {});
