// Wires and starts the API process: pool, pg-boss (and the mail worker), the app, the listener.
import http from 'node:http';
import type { Config } from './config.ts';
import { createPool } from './db/pool.ts';
import { expectedMigration } from './db/migrate.ts';
import type { Logger } from './logger.ts';
import { Metrics } from './observability/metrics.ts';
import { startBoss } from './queue/boss.ts';
import { createMailTransport, startMailWorker } from './auth/mailer.ts';
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
  const transport = createMailTransport(config, log);
  if (config.MAIL_TRANSPORT === 'log') {
    // Expected in development; in production (opted into explicitly) every link is a credential in the logs.
    log[config.NODE_ENV === 'production' ? 'warn' : 'info'](
      'MAIL_TRANSPORT=log: sign-in links are written to this log (field "magic_link"), not emailed',
    );
  }
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
    readiness: [databaseReady(pool, await expectedMigration(), log)],
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
