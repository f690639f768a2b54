// Wires and starts the API process: pool, pg-boss (and the mail worker), the app, the listener.
import http from 'node:http';
import type { Config } from './config.ts';
import { createPool } from './db/pool.ts';
import { expectedMigration } from './db/migrate.ts';
import type { Logger } from './logger.ts';
import { Metrics } from './observability/metrics.ts';
import { startBoss } from './queue/boss.ts';
import { LogTransport, ResendTransport, startMailWorker } from './auth/mailer.ts';
import { Sealer } from './auth/crypto.ts';
import { createApp } from './http/app.ts';
import { databaseReady } from './http/routes/health.ts';

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

/** Starts the API server; the mail worker runs here, so any deployment with a server sends mail. */
export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const databaseUrl = config.DATABASE_URL;
  const pool = createPool(databaseUrl, { max: config.PG_POOL_MAX, applicationName: 'djs-server' });
  const metrics = new Metrics({ defaultMetrics: true });
  const boss = await startBoss(databaseUrl, log);
  const transport = config.RESEND_API_KEY
    ? new ResendTransport(config.RESEND_API_KEY, config.MAIL_FROM, config.RESEND_BASE_URL)
    : new LogTransport(log);
  if (!config.RESEND_API_KEY)
    log.info('RESEND_API_KEY is not set: sign-in links are written to this log (field "magic_link")');
  await startMailWorker({
    boss,
    transport,
    sealer: new Sealer(config.SECRETS_KEY, 'magic-link'),
    publicUrl: config.PUBLIC_URL,
    ttlSeconds: config.MAGIC_LINK_TTL_SECONDS,
    log,
    metrics,
  });
  const app = createApp({
    config,
    pool,
    boss,
    log,
    metrics,
    readiness: [databaseReady(pool, await expectedMigration())],
  });
  const server = http.createServer(app);
  // Longer than a load balancer's idle timeout, so it never reuses a socket we just closed.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(config.PORT, config.HOST, resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.PORT;
  const url = `http://localhost:${port}`;
  log.info({ url, public_url: config.PUBLIC_URL }, 'API server listening');
  return {
    url,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await boss.stop({ graceful: true, timeout: 10_000 });
      await pool.end();
    },
  };
}
