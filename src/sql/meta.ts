import type { Queryable } from '../db/pool.ts';
import { MIGRATIONS_TABLE } from '../db/migrate.ts';
import { raw, sql } from './sql.ts';

/** The newest applied migration's name, or null on an unmigrated database. */
export async function schemaVersion(db: Queryable): Promise<string | null> {
  const { rows } = await db.query<{ name: string | null }>(
    sql`SELECT CASE WHEN to_regclass(${MIGRATIONS_TABLE}) IS NULL THEN NULL
                    ELSE (SELECT max(name) FROM ${raw(MIGRATIONS_TABLE)}) END AS name`,
  );
  return rows[0]?.name ?? null;
}
