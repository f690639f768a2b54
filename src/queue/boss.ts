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
  boss.on('error', (err) => log.warn({ err: { message: err.message } }, 'pg-boss error'));
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
