// The API process's composition root: the one place that builds its services (sealing, sessions,
// sign-in, jobs, signing secrets), hands them to the app and to the mail worker, and listens. The
// magic-link Sealer in particular is built once: the service seals with it and the worker opens
// with it, so the two can never disagree on its key. Besides the public port it runs the operations
// listener on METRICS_PORT (/metrics, detailed /readyz), as the scheduler does.
import http from 'node:http';
import type express from 'express';
import type { PgBoss } from 'pg-boss';
import type { Config } from './config.ts';
import { createPool, type Pool } from './db/pool.ts';
import { expectedMigration } from './db/schemaVersion.ts';
import type { Logger } from './logger.ts';
import { Metrics } from './observability/metrics.ts';
import { initTracing, shutdownTracing } from './observability/tracing.ts';
import { VERSION } from './version.ts';
import { startBoss } from './queue/boss.ts';
import { createMailTransport, startMailWorker } from './auth/mailer.ts';
import { Sealer } from './auth/crypto.ts';
import { SessionTokens } from './auth/jwt.ts';
import { AuthService, type Principal } from './auth/service.ts';
import { AuthCache, listenForRevocations } from './auth/authCache.ts';
import { ApiKeyService } from './auth/apiKeyService.ts';
import { JobsService } from './jobs/service.ts';
import { SchedulesService } from './schedules/service.ts';
import { createTargetPolicy } from './jobs/urlPolicy.ts';
import { SigningSecrets } from './webhooks/secrets.ts';
import { createApp } from './http/app.ts';
import { defaultConsoleDir } from './http/routes/console.ts';
import { withClientErrors } from './http/clientError.ts';
import {
  databaseReady,
  operationsApp,
  startMetricsListener,
  type ReadinessCheck,
} from './http/routes/health.ts';

export interface ApiDeps {
  config: Config;
  pool: Pool;
  boss: PgBoss;
  log: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  /** Where the built console is; default dist/console of this package (null: serve none). */
  consoleDir?: string | null;
}

export interface ApiServices {
  /** Seals magic-link tokens in the queue (AuthService) and opens them (the mail worker). */
  sealer: Sealer;
  auth: AuthService;
  jobs: JobsService;
  secrets: SigningSecrets;
  apiKeys: ApiKeyService;
  schedules: SchedulesService;
  authCache: AuthCache<Principal>;
}

/**
 * Builds the API's services, its public app and its operations app (/metrics, detailed /readyz: for
 * METRICS_PORT, never the public port). Neither listens; startServer and the tests use them.
 */
export function buildApi(deps: ApiDeps): {
  app: express.Express;
  metricsApp: express.Express;
  services: ApiServices;
} {
  const { config, pool, boss, log, metrics, readiness } = deps;
  const sealer = new Sealer(config.SECRETS_KEY, 'magic-link');
  const jobLimits = {
    timeoutDefaultMs: config.JOB_TIMEOUT_DEFAULT_MS,
    timeoutMaxMs: config.JOB_TIMEOUT_MAX_MS,
    bodyMaxBytes: config.JOB_BODY_MAX_BYTES,
    fireAtMaxDays: config.JOB_FIRE_AT_MAX_DAYS,
  };
  const policy = createTargetPolicy(config.TARGET_ALLOWLIST);
  // Verified credentials, used only while this process hears revocations (startServer listens).
  const authCache = new AuthCache<Principal>({ ttlMs: config.AUTH_CACHE_TTL_MS });
  const apiKeys = new ApiKeyService({
    pool,
    cache: authCache,
    maxPerUser: config.API_KEYS_MAX_PER_USER,
    onTouchError: (err) =>
      log.warn({ err: { message: (err as Error).message } }, 'could not record API key use'),
  });
  const auth = new AuthService({
    pool,
    cache: authCache,
    apiKeys,
    boss,
    sealer,
    tokens: new SessionTokens(
      config.JWT_SECRET,
      config.JWT_ISSUER,
      config.JWT_AUDIENCE,
      config.SESSION_TTL_SECONDS,
    ),
    linkTtlSeconds: config.MAGIC_LINK_TTL_SECONDS,
    perEmailPerHour: config.MAGIC_LINK_RATE_PER_EMAIL_PER_HOUR,
    perIpPerHour: config.MAGIC_LINK_RATE_PER_IP_PER_HOUR,
  });
  const jobs = new JobsService({
    pool,
    limits: jobLimits,
    policy,
    maxActivePerUser: config.JOB_MAX_ACTIVE_PER_USER,
    createRatePerMinute: config.JOB_CREATE_RATE_PER_MINUTE,
    maxWaitingCreates: config.JOB_CREATE_MAX_WAITING,
    maxWaitingCreatesPerUser: config.JOB_CREATE_MAX_WAITING_PER_USER,
    notifyWithinMs: config.SCHEDULER_POLL_INTERVAL_MS,
    onCreated: () => metrics.jobsCreated.inc(),
  });
  metrics.createsWaiting = () => jobs.waitingCreates;
  const secrets = new SigningSecrets(pool, config.SECRETS_KEY);
  const schedules = new SchedulesService({
    pool,
    limits: jobLimits,
    policy,
    jobs,
    maxPerUser: config.SCHEDULES_MAX_PER_USER,
    minIntervalSeconds: config.SCHEDULE_MIN_INTERVAL_SECONDS,
    notifyWithinMs: config.SCHEDULER_POLL_INTERVAL_MS,
  });
  const app = createApp({
    config,
    consoleDir: deps.consoleDir === undefined ? defaultConsoleDir() : deps.consoleDir,
    log,
    metrics,
    readiness,
    auth,
    jobs,
    secrets,
    apiKeys,
    schedules,
  });
  const metricsApp = operationsApp({ checks: readiness, metrics });
  return { app, metricsApp, services: { sealer, auth, jobs, secrets, apiKeys, schedules, authCache } };
}

export interface RunningServer {
  url: string;
  /** The operations listener (METRICS_PORT): /metrics, /healthz, /readyz with each check's detail. */
  metricsUrl: string;
  stop(): Promise<void>;
}

/** Starts the API server; the mail worker runs here, so any deployment with a server sends mail. */
export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  // Loads the OTel SDK only with OTEL_EXPORTER_OTLP_ENDPOINT set.
  await initTracing({
    endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: config.OTEL_SERVICE_NAME,
    serviceVersion: VERSION,
  });
  const databaseUrl = config.DATABASE_URL;
  const pool = createPool(databaseUrl, { max: config.PG_POOL_MAX, applicationName: 'djs-server' });
  const metrics = new Metrics({ defaultMetrics: true });
  const boss = await startBoss(databaseUrl, log);
  const { app, metricsApp, services } = buildApi({
    config,
    pool,
    boss,
    log,
    metrics,
    readiness: [databaseReady(pool, await expectedMigration(), log)],
  });
  if (config.MAIL_TRANSPORT === 'log') {
    // Expected in development; in production (opted into explicitly) every link is a credential in the logs.
    log[config.NODE_ENV === 'production' ? 'warn' : 'info'](
      'MAIL_TRANSPORT=log: sign-in links are written to this log (field "magic_link"), not emailed',
    );
  }
  await startMailWorker({
    boss,
    transport: createMailTransport(config, log),
    sealer: services.sealer,
    publicUrl: config.PUBLIC_URL,
    ttlSeconds: config.MAGIC_LINK_TTL_SECONDS,
    log,
    metrics,
  });
  // The auth cache is used only while this connection hears revocations and logouts.
  const revocations = await listenForRevocations(databaseUrl, services.authCache, log);
  const metricsListener = await startMetricsListener(metricsApp, {
    port: config.METRICS_PORT,
    host: config.METRICS_HOST,
  });
  const server = withClientErrors(http.createServer(app));
  // Longer than a load balancer's idle timeout, so it never reuses a socket we just closed.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HOST, resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
  const url = `http://localhost:${port}`;
  log.info({ url, public_url: config.PUBLIC_URL, metrics_url: metricsListener.url }, 'API server listening');
  return {
    url,
    metricsUrl: metricsListener.url,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // close() closes the keep-alive sockets idle now; a socket whose request is still running
        // goes idle when its answer is sent, and would then hold the stop until the client gave up
        // (keepAliveTimeout, 65 s). Close those as they go idle too.
        const idle = setInterval(() => server.closeIdleConnections(), 100);
        server.once('close', () => clearInterval(idle));
        server.closeIdleConnections();
      });
      // After the public port: the drain stays visible to Prometheus until the last request ends.
      await metricsListener.close();
      await revocations.stop();
      await boss.stop({ graceful: true, timeout: 10_000 });
      await pool.end();
      // Last: the spans of the requests that just finished are flushed too.
      await shutdownTracing().catch((err: unknown) =>
        log.warn({ err: { message: (err as Error).message } }, 'could not flush traces'),
      );
    },
  };
}
