// Runs once per `npm test`: finds a Postgres server (TEST_DATABASE_URL, DATABASE_URL, or an embedded
// one started here), migrates a template database once, and hands its name to the test files, which
// each clone it (CREATE DATABASE … TEMPLATE …) so they can run in parallel.
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { parseDevSettings } from '../../src/config.ts';
import { startScratchPostgres, withDatabase, type ScratchPostgres } from '../../src/db/embedded.ts';
import { migrateUp } from '../../src/db/migrate.ts';
import { silentLogger } from '../../src/logger.ts';
import { buildConsole } from '../../web/build.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    templateDb: string;
    dbPrefix: string;
  }
}

export default async function setup(project: TestProject) {
  // The console the server serves (dist/console): built fresh, so the browser tests run the web/
  // code of this checkout even when nobody ran npm run build.
  await buildConsole();
  const settings = parseDevSettings();
  let embedded: ScratchPostgres | undefined;
  let adminUrl = settings.TEST_DATABASE_URL ?? settings.DATABASE_URL;
  if (!adminUrl) {
    embedded = await startScratchPostgres({ prefix: 'djs-test-pg-' });
    adminUrl = embedded.url;
  }
  const prefix = `djs_t${process.pid}_`;
  const templateDb = `${prefix}template`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${templateDb}`);
  await admin.query(`CREATE DATABASE ${templateDb}`);
  await migrateUp(withDatabase(adminUrl, templateDb), silentLogger);
  project.provide('adminUrl', adminUrl);
  project.provide('templateDb', templateDb);
  project.provide('dbPrefix', prefix);

  return async () => {
    const { rows } = await admin.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE $1`,
      [`${prefix}%`],
    );
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    await admin.end();
    if (embedded) await embedded.destroy();
  };
}
