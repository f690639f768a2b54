// Liveness, readiness and metrics, for two audiences. The public port (the API's createApp) answers
// probes with a status and nothing else: what is wrong inside is no business of the internet. The
// operations listener on METRICS_PORT, which both processes run (startMetricsListener), adds each
// check's detail and /metrics; it is meant for Prometheus and operators, never behind the ingress.
import http from 'node:http';
import express, { Router } from 'express';
import { ReadOnlyDatabaseError, readOnlyReason, type Pool } from '../../db/pool.ts';
import type { Logger } from '../../logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { schemaVersion } from '../../sql/meta.ts';
import { healthOperations } from '../../contract/health.ts';
import type { Registrar } from '../registrar.ts';

export interface ReadinessCheck {
  name: string;
  check(): Promise<string | null>; // null when fine, else why not
}

/**
 * A readiness check: the database answers, can write (a writable primary, not a standby or a
 * read-only node: during a failover this is unready until the new primary is reached) and is
 * migrated to the version this build expects.
 * A failure to connect answers only "unreachable", even on the operations listener: driver errors
 * name the host, port, user and database. The detail goes to `log` (when given) for the operator.
 */
export function databaseReady(pool: Pool, expected: string, log?: Logger): ReadinessCheck {
  return {
    name: 'database',
    async check() {
      try {
        // A pooled session can be read-only without a new connection (a reload that fences the
        // node): ask on every probe, not only when the pool connects.
        const readOnly = await readOnlyReason(pool);
        if (readOnly) return `read-only: ${readOnly}`;
        const version = await schemaVersion(pool);
        return version === expected ? null : `schema at ${version ?? 'none'}, expected ${expected}`;
      } catch (err) {
        // The pool refused a new connection to a read-only node: say so (it names no host).
        if (err instanceof ReadOnlyDatabaseError) return `read-only: ${err.reason}`;
        const e = err as Error & { code?: string };
        log?.warn({ err: { message: e.message, code: e.code } }, 'readiness: database unreachable');
        return 'unreachable';
      }
    },
  };
}

/** Runs every check at once: each one's verdict (`ok` or why not) and whether all passed. */
async function readiness(checks: ReadinessCheck[]) {
  const results = await Promise.all(checks.map(async (c) => [c.name, await c.check()] as const));
  return {
    ready: results.every(([, why]) => why === null),
    checks: Object.fromEntries(results.map(([n, why]) => [n, why ?? 'ok'])),
  };
}

/**
 * The public port's probes (src/contract/health.ts): `{"status": …}` only (the load balancer needs no
 * more).
 */
export function publicHealthRoutes(routes: Registrar, checks: ReadinessCheck[]): Router {
  const r = routes.router();
  r.json(healthOperations.liveness, () => ({ status: 200, body: { status: 'ok' } }));
  r.json(healthOperations.readiness, async () => {
    const { ready } = await readiness(checks);
    return ready
      ? { status: 200, body: { status: 'ready' } }
      : { status: 503, body: { status: 'unavailable' } };
  });
  return r.router;
}

/** The operations listener's routes: liveness, readiness with each check's verdict, /metrics. */
export function operationsRoutes(deps: { checks: ReadinessCheck[]; metrics: Metrics }): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/readyz', async (_req, res) => {
    const { ready, checks } = await readiness(deps.checks);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', checks });
  });
  r.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return r;
}

/** The operations listener's app (tests drive it with supertest); anything else is a JSON 404. */
export function operationsApp(deps: { checks: ReadinessCheck[]; metrics: Metrics }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(operationsRoutes(deps));
  app.use((req, res) => {
    res.status(404).json({ error: { code: 'not_found', message: `no route for ${req.method} ${req.path}` } });
  });
  return app;
}

export interface MetricsListener {
  /** `http://localhost:<port>` (the port the system chose when METRICS_PORT is 0). */
  url: string;
  close(): Promise<void>;
}

/**
 * Listens with an operations app on METRICS_PORT/METRICS_HOST: the one way both processes (the API
 * server and each scheduler) serve /metrics and detailed readiness apart from any public port.
 */
export async function startMetricsListener(
  app: express.Express,
  at: { port: number; host: string },
): Promise<MetricsListener> {
  const server = http.createServer(app);
  await new Promise<void>((resolve, reject) => {
    // A port in use fails the start with its reason, instead of an unhandled 'error' event.
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  return {
    url: `http://localhost:${typeof addr === 'object' && addr ? addr.port : at.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scrape in flight is not worth waiting for at shutdown.
        server.closeAllConnections();
      }),
  };
}
