// Wires the scheduler process: pool, executor, scheduler, and the operations listener on METRICS_PORT
// (/metrics, /healthz, /readyz with detail: the same one the API server runs).
import type { Config } from '../config.ts';
import { createPool } from '../db/pool.ts';
import { expectedMigration } from '../db/schemaVersion.ts';
import type { Logger } from '../logger.ts';
import { Metrics } from '../observability/metrics.ts';
import { initTracing, shutdownTracing } from '../observability/tracing.ts';
import { createTargetPolicy } from '../jobs/urlPolicy.ts';
import { databaseReady, operationsApp, startMetricsListener } from '../http/routes/health.ts';
import { SchedulerEvents } from './events.ts';
import { Executor } from './executor.ts';
import { Scheduler } from './scheduler.ts';
import { USER_AGENT, VERSION } from '../version.ts';

export interface RunningScheduler {
  scheduler: Scheduler;
  metricsUrl: string;
  stop(): Promise<void>;
}

export async function startSchedulerProcess(config: Config, log: Logger): Promise<RunningScheduler> {
  // Loads the OTel SDK only with OTEL_EXPORTER_OTLP_ENDPOINT set.
  await initTracing({
    endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: config.OTEL_SERVICE_NAME,
    serviceVersion: VERSION,
  });
  const pool = createPool(config.DATABASE_URL, { max: config.PG_POOL_MAX, applicationName: 'djs-scheduler' });
  const metrics = new Metrics({ defaultMetrics: true });
  const events = new SchedulerEvents((err, event) => log.error({ err, event }, 'an event listener failed'));
  // Why a target's name was refused stays here: the job's owner sees one text for every reason.
  events.on('lookupRefused', (r) =>
    log.info({ host: r.hostname, reason: r.reason }, 'target hostname refused'),
  );
  const executor = new Executor(
    { events },
    {
      policy: createTargetPolicy(config.TARGET_ALLOWLIST),
      maxResponseBytes: config.RESPONSE_BODY_MAX_BYTES,
      userAgent: USER_AGENT,
    },
  );
  const scheduler = new Scheduler(
    { pool, databaseUrl: config.DATABASE_URL, executor, log, metrics, events },
    {
      workerId: config.SCHEDULER_WORKER_ID,
      concurrency: config.SCHEDULER_CONCURRENCY,
      batchSize: config.SCHEDULER_BATCH_SIZE,
      perUserCap: config.SCHEDULER_USER_MAX_IN_FLIGHT,
      pollIntervalMs: config.SCHEDULER_POLL_INTERVAL_MS,
      leaseMs: config.SCHEDULER_LEASE_MS,
      heartbeatIntervalMs: config.SCHEDULER_HEARTBEAT_INTERVAL_MS,
      reaperIntervalMs: config.SCHEDULER_REAPER_INTERVAL_MS,
      shutdownGraceMs: config.SCHEDULER_SHUTDOWN_GRACE_MS,
      secretsKey: config.SECRETS_KEY,
      planRepairIntervalMs: config.SCHEDULER_PLAN_REPAIR_INTERVAL_MS,
      maxActivePerUser: config.JOB_MAX_ACTIVE_PER_USER,
      cleaner: {
        retentionDays: {
          succeeded: config.RETENTION_SUCCEEDED_DAYS,
          cancelled: config.RETENTION_CANCELLED_DAYS,
          failed: config.RETENTION_FAILED_DAYS,
        },
        intervalMs: config.RETENTION_INTERVAL_MS,
      },
    },
  );
  const loopAlive = {
    name: 'claim_loop',
    check: () => {
      // The loop wakes at least every poll interval; three missed wake-ups means it is stuck.
      const idle = performance.now() - scheduler.lastLoopAt;
      return Promise.resolve(
        idle < 3 * config.SCHEDULER_POLL_INTERVAL_MS + 1000
          ? null
          : `no iteration for ${Math.round(idle)} ms`,
      );
    },
  };
  const listener = await startMetricsListener(
    operationsApp({ checks: [databaseReady(pool, await expectedMigration(), log), loopAlive], metrics }),
    { port: config.METRICS_PORT, host: config.METRICS_HOST },
  );
  const metricsUrl = listener.url;
  await scheduler.start();
  log.info({ metrics_url: metricsUrl }, 'scheduler metrics and health listening');
  return {
    scheduler,
    metricsUrl,
    async stop() {
      await scheduler.stop();
      await listener.close();
      await executor.close();
      await pool.end();
      // Last: the attempts finished during the stop are flushed too.
      await shutdownTracing().catch((err: unknown) =>
        log.warn({ err: { message: (err as Error).message } }, 'could not flush traces'),
      );
    },
  };
}
