// Applies migrations/ with node-pg-migrate and installs pg-boss's schema, under one blocking advisory
// lock so that two pods starting together run them one after the other instead of failing.
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import { PgBoss } from 'pg-boss';
import type { Logger } from '../logger.ts';
import { MAGIC_LINK_QUEUE, MAGIC_LINK_QUEUE_OPTIONS } from '../queue/mail.ts';
import { MIGRATIONS_DIR, MIGRATIONS_TABLE } from './schemaVersion.ts';

// Re-exported: callers that migrate also ask for the version.
export { MIGRATIONS_TABLE, expectedMigration } from './schemaVersion.ts';

export const PGBOSS_SCHEMA = 'pgboss';
// Same key for every migrate process; node-pg-migrate's own try-lock then succeeds in our session.
const MIGRATE_LOCK_KEY = 7241865325823964;

/** Runs every pending up migration, then installs/upgrades pg-boss and creates our queues. */
export async function migrateUp(databaseUrl: string, log: Logger): Promise<string[]> {
  return withMigrateLock(databaseUrl, async (client) => {
    const ran = await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      direction: 'up',
      migrationsTable: MIGRATIONS_TABLE,
      singleTransaction: true,
      checkOrder: true,
      log: (msg) => log.debug(msg),
    });
    await installPgBoss(databaseUrl);
    return ran.map((m) => m.name);
  });
}

/** Reverts `count` migrations (Infinity: all, and pg-boss's schema with them). */
export async function migrateDown(databaseUrl: string, count: number, log: Logger): Promise<string[]> {
  return withMigrateLock(databaseUrl, async (client) => {
    const ran = await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      direction: 'down',
      count,
      migrationsTable: MIGRATIONS_TABLE,
      singleTransaction: true,
      log: (msg) => log.debug(msg),
    });
    if (count === Infinity) await client.query(`DROP SCHEMA IF EXISTS ${PGBOSS_SCHEMA} CASCADE`);
    return ran.map((m) => m.name);
  });
}

async function withMigrateLock<T>(databaseUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({
    connectionString: databaseUrl,
    application_name: 'dist-job-scheduler-migrate',
  });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK_KEY]);
    try {
      return await fn(client);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
}

async function installPgBoss(databaseUrl: string): Promise<void> {
  const boss = new PgBoss({
    connectionString: databaseUrl,
    schema: PGBOSS_SCHEMA,
    migrate: true,
    supervise: false,
    schedule: false,
    max: 2,
  });
  boss.on('error', () => {});
  await boss.start();
  try {
    // pg-boss must know a queue before any process sends to or works on it.
    const existing = await boss.getQueue(MAGIC_LINK_QUEUE);
    if (!existing) await boss.createQueue(MAGIC_LINK_QUEUE, MAGIC_LINK_QUEUE_OPTIONS);
  } finally {
    await boss.stop({ graceful: false });
  }
}
