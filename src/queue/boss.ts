// pg-boss for the app processes: never migrates (the migrate step owns schemas), never runs cron.
import { PgBoss } from 'pg-boss';
import type { Queryable } from '../db/pool.ts';
import type { Logger } from '../logger.ts';
import { PGBOSS_SCHEMA } from '../db/migrate.ts';

export type { PgBoss };

/** Starts a pg-boss instance on `databaseUrl`; `supervise` runs its maintenance (retention, expiry). */
export async function startBoss(
  databaseUrl: string,
  log: Logger,
  opts: { supervise?: boolean } = {},
): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: databaseUrl,
    schema: PGBOSS_SCHEMA,
    migrate: false,
    schedule: false,
    supervise: opts.supervise ?? true,
    max: 4,
    useListenNotify: true,
  });
  // pg-boss reports what failed in its loops (fetches, completions, maintenance) here and carries on:
  // during a failover each fetch fails (connection lost, or 25006 on a read-only node) until the new
  // primary answers, and its pool, like ours, destroys a connection whose query failed. Logged, never
  // fatal (an 'error' event nobody hears would throw): the workers resume with the database, no restart.
  boss.on('error', (err) => {
    const e = err as Error & { code?: unknown; queue?: unknown };
    log.warn({ err: { message: e.message, code: e.code }, queue: e.queue }, 'pg-boss error');
  });
  await boss.start();
  return boss;
}

/** Adapts a pg client/pool so pg-boss writes inside the caller's transaction (transactional outbox). */
export function bossDb(db: Queryable) {
  return {
    executeSql: async (text: string, values?: unknown[]) => {
      const res = await db.query(text, values);
      return { rows: res.rows as unknown[] };
    },
  };
}
