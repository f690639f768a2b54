// db/schema.sql shows today's tables at a glance; this keeps it equal to what the migrations produce.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_FILE, dumpSchema } from '../../src/db/schemaDump.ts';
import { createTestDb, type TestDb } from '../helpers/db.ts';

let db: TestDb;

beforeAll(async () => {
  // A clone of the template that global setup migrated (our migrations and pg-boss's schema).
  db = await createTestDb();
});

afterAll(async () => {
  await db?.drop();
});

describe('the schema snapshot', () => {
  it('db/schema.sql is the schema a freshly migrated database has', async () => {
    const migrated = await dumpSchema(db.url);
    const snapshot = fs.existsSync(SCHEMA_FILE) ? fs.readFileSync(SCHEMA_FILE, 'utf8') : '';
    expect(
      migrated,
      `${path.relative(process.cwd(), SCHEMA_FILE)} differs from the migrated schema: run \`npm run schema:dump\` and commit the file`,
    ).toBe(snapshot);
  });

  it('names every table the migrations create', async () => {
    // Guards the dump itself: a table it failed to render would make an equal but empty snapshot.
    const { rows } = await db.pool.query<{ name: string }>(
      `SELECT relname AS name FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'`,
    );
    const snapshot = fs.readFileSync(SCHEMA_FILE, 'utf8');
    expect(rows.length).toBeGreaterThan(5);
    for (const { name } of rows) expect(snapshot).toContain(`CREATE TABLE public.${name} (`);
  });
});
