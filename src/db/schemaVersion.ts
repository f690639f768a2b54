// Where the migrations live and which one a fully migrated database reports. Apart from migrate.ts
// so that the processes that only check the version (readiness) do not load node-pg-migrate and
// pg-boss: the scheduler's resident memory is part of its budget (README, performance).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// src/db/ when run with tsx, dist/src/db/ when compiled: the folder sits at the package root either way.
export const MIGRATIONS_DIR =
  [path.resolve(here, '../../migrations'), path.resolve(here, '../../../migrations')].find((d) =>
    fs.existsSync(d),
  ) ?? path.resolve(here, '../../migrations');
export const MIGRATIONS_TABLE = 'schema_migrations';

/** The highest migration file name, i.e. the version a fully migrated database reports. */
export async function expectedMigration(): Promise<string> {
  const files = (await fs.promises.readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
  return (files.at(-1) ?? '').replace(/\.sql$/, '');
}
