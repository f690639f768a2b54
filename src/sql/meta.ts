import type { Queryable } from '../db/pool.ts';
import { MIGRATIONS_TABLE } from '../db/migrate.ts';

/** The newest applied migration's name, or null on an unmigrated database. */
export async function schemaVersion(db: Queryable): Promise<string | null> {
  const { rows } = await db.query<{ name: string | null }>(
    `SELECT CASE WHEN to_regclass($1) IS NULL THEN NULL ELSE (SELECT max(name) FROM ${MIGRATIONS_TABLE}) END AS name`,
    [MIGRATIONS_TABLE],
  );
  return rows[0]?.name ?? null;
}
