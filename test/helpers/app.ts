// Builds the real app on a test database, wired as the server wires it (buildApi): real pg-boss, real
// SQL, no mocks.
import crypto from 'node:crypto';
import type express from 'express';
import { parseConfig, type Config } from '../../src/config.ts';
import { buildApi } from '../../src/server.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { startBoss, type PgBoss } from '../../src/queue/boss.ts';
import { silentLogger, type Logger } from '../../src/logger.ts';
import { databaseReady } from '../../src/http/routes/health.ts';
import { expectedMigration } from '../../src/db/migrate.ts';
import { SessionTokens } from '../../src/auth/jwt.ts';
import { upsertUserByEmail } from '../../src/sql/users.ts';
import type { TestDb } from './db.ts';

export const TEST_JWT_SECRET = Buffer.alloc(48, 7).toString('base64');
export const TEST_SECRETS_KEY = Buffer.alloc(48, 9).toString('base64');

/**
 * A full config for tests; loopback targets allowed unless overridden. The operations listener (a
 * startServer's METRICS_PORT) gets a free loopback port, so parallel files never compete for 9464.
 */
export function testConfig(databaseUrl: string, overrides: Record<string, string> = {}): Config {
  return parseConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: databaseUrl,
    JWT_SECRET: TEST_JWT_SECRET,
    SECRETS_KEY: TEST_SECRETS_KEY,
    PUBLIC_URL: 'http://localhost:3000',
    TARGET_ALLOWLIST: '127.0.0.0/8,::1/128',
    METRICS_PORT: '0',
    METRICS_HOST: '127.0.0.1',
    ...overrides,
  });
}

export interface TestApp {
  /** The public app (what PORT serves). */
  app: express.Express;
  /** The operations app (what METRICS_PORT serves): /metrics, /healthz, detailed /readyz. */
  metricsApp: express.Express;
  config: Config;
  boss: PgBoss;
  metrics: Metrics;
  close(): Promise<void>;
}

export async function createTestApp(
  db: TestDb,
  overrides: Record<string, string> = {},
  log: Logger = silentLogger,
): Promise<TestApp> {
  const config = testConfig(db.url, overrides);
  const boss = await startBoss(db.url, silentLogger, { supervise: false });
  const metrics = new Metrics();
  const { app, metricsApp } = buildApi({
    config,
    pool: db.pool,
    boss,
    log,
    metrics,
    readiness: [databaseReady(db.pool, await expectedMigration())],
  });
  return { app, metricsApp, config, boss, metrics, close: () => boss.stop({ graceful: false }) };
}

/** Creates (or finds) a user and a valid session token for it, skipping the email round trip. */
export async function sessionFor(db: TestDb, config: Config, email = `u-${crypto.randomUUID()}@example.com`) {
  const user = await upsertUserByEmail(db.pool, email);
  const tokens = new SessionTokens(
    config.JWT_SECRET,
    config.JWT_ISSUER,
    config.JWT_AUDIENCE,
    config.SESSION_TTL_SECONDS,
  );
  const { token } = await tokens.issue(user.id, user.token_version);
  return { user, token, auth: `Bearer ${token}` };
}

/**
 * Another API on the same database and queue: a second replica, or a deployment with other settings
 * (`config` overrides, e.g. its PUBLIC_URL; `consoleDir`). Its services are returned too.
 */
export function anotherApi(
  db: TestDb,
  t: TestApp,
  over: { config?: Partial<Config>; consoleDir?: string | null } = {},
) {
  return buildApi({
    config: { ...t.config, ...over.config },
    pool: db.pool,
    boss: t.boss,
    log: silentLogger,
    metrics: new Metrics(),
    readiness: [],
    ...(over.consoleDir !== undefined ? { consoleDir: over.consoleDir } : {}),
  });
}
