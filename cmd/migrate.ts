// Entry point of Dockerfile.migrate and `npm run migrate[:down]`: `up` (default), `down [N|all]`.
import { parseDatabaseConfig, ConfigError } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { migrateDown, migrateUp } from '../src/db/migrate.ts';
import { exitOnStartupFailure } from '../src/lib/exit.ts';

async function main(): Promise<void> {
  const cfg = parseDatabaseConfig();
  const log = createLogger('migrate', cfg.LOG_LEVEL);
  const [direction = 'up', countArg = '1'] = process.argv.slice(2);
  if (direction === 'up') {
    const ran = await migrateUp(cfg.DATABASE_URL, log);
    log.info({ ran }, ran.length ? `applied ${ran.length} migration(s)` : 'database is up to date');
  } else if (direction === 'down') {
    const count = countArg === 'all' ? Infinity : Number(countArg);
    if (!Number.isInteger(count) && count !== Infinity)
      throw new ConfigError([`down takes a number or "all", not ${countArg}`]);
    const ran = await migrateDown(cfg.DATABASE_URL, count, log);
    log.info({ ran }, `reverted ${ran.length} migration(s)`);
  } else {
    throw new ConfigError([`unknown direction "${direction}" (use up or down)`]);
  }
}

main().catch(exitOnStartupFailure);
