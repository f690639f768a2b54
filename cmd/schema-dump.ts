// Entry point of `npm run schema:dump`: writes db/schema.sql, the schema the migrations produce, from
// a scratch database on the test server (TEST_DATABASE_URL or DATABASE_URL), else on an embedded one.
import fs from 'node:fs';
import path from 'node:path';
import { parseDevSettings } from '../src/config.ts';
import { startScratchPostgres } from '../src/db/embedded.ts';
import { SCHEMA_FILE, dumpMigratedSchema } from '../src/db/schemaDump.ts';
import { exitOnStartupFailure } from '../src/lib/exit.ts';

async function main(): Promise<void> {
  const settings = parseDevSettings();
  const serverUrl = settings.TEST_DATABASE_URL ?? settings.DATABASE_URL;
  const scratch = serverUrl ? undefined : await startScratchPostgres({ prefix: 'djs-schema-pg-' });
  try {
    const text = await dumpMigratedSchema(serverUrl ?? scratch!.url);
    fs.mkdirSync(path.dirname(SCHEMA_FILE), { recursive: true });
    fs.writeFileSync(SCHEMA_FILE, text);
    process.stdout.write(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}\n`);
  } finally {
    await scratch?.destroy();
  }
}

main().catch(exitOnStartupFailure);
