// Liveness, readiness and metrics, shared by the server and the scheduler's small listener.
import { Router } from 'express';
import type { Pool } from '../../db/pool.ts';
import type { Logger } from '../../logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { schemaVersion } from '../../sql/meta.ts';

export interface ReadinessCheck {
  name: string;
  check(): Promise<string | null>; // null when fine, else why not
}

/**
 * A readiness check: the database answers and is migrated to the version this build expects.
 * `/readyz` is public, so a failure to connect answers only "unreachable": driver errors name the
 * host, port, user and database. The detail goes to `log` (when given) for the operator.
 */
export function databaseReady(pool: Pool, expected: string, log?: Logger): ReadinessCheck {
  return {
    name: 'database',
    async check() {
      try {
        const version = await schemaVersion(pool);
        return version === expected ? null : `schema at ${version ?? 'none'}, expected ${expected}`;
      } catch (err) {
        const e = err as Error & { code?: string };
        log?.warn({ err: { message: e.message, code: e.code } }, 'readiness: database unreachable');
        return 'unreachable';
      }
    },
  };
}

export function healthRoutes(deps: { checks: ReadinessCheck[]; metrics: Metrics }): Router {
  const r = Router();
  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/readyz', async (_req, res) => {
    const results = await Promise.all(deps.checks.map(async (c) => [c.name, await c.check()] as const));
    const failing = results.filter(([, why]) => why !== null);
    res.status(failing.length ? 503 : 200).json({
      status: failing.length ? 'unavailable' : 'ready',
      checks: Object.fromEntries(results.map(([n, why]) => [n, why ?? 'ok'])),
    });
  });
  r.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return r;
}
