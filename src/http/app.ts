// createApp builds the Express app from its dependencies and never listens (cmd/server.ts does), so
// tests drive the very same app with supertest.
import express from 'express';
import type { PgBoss } from 'pg-boss';
import type { Config } from '../config.ts';
import type { Pool } from '../db/pool.ts';
import type { Logger } from '../logger.ts';
import { AppError } from '../errors.ts';
import type { Metrics } from '../observability/metrics.ts';
import { AuthService } from '../auth/service.ts';
import { SessionTokens } from '../auth/jwt.ts';
import { Sealer } from '../auth/crypto.ts';
import { accessLog, errorHandler, requestId } from './middleware.ts';
import { authRoutes } from './routes/auth.ts';
import { jobsRoutes } from './routes/jobs.ts';
import { JobsService } from '../jobs/service.ts';
import { createTargetPolicy } from '../jobs/urlPolicy.ts';
import { SigningSecrets } from '../webhooks/secrets.ts';
import { healthRoutes, type ReadinessCheck } from './routes/health.ts';

export interface AppDeps {
  config: Config;
  pool: Pool;
  boss: PgBoss;
  log: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
}

/** Enough for every JSON body but a job's (sign-in, session, and the like are well under 1 KB). */
const SMALL_JSON_LIMIT = 16 * 1024;
// Express routes case-insensitively and ignores a trailing slash: so does this test.
const isJobCreate = (req: express.Request) =>
  req.method === 'POST' && req.path.toLowerCase().replace(/\/+$/, '') === '/v1/jobs';

/** Builds the API. */
export function createApp(deps: AppDeps): express.Express {
  const { config, pool, boss, log, metrics } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.TRUST_PROXY);
  app.set('etag', false);

  const auth = new AuthService({
    pool,
    boss,
    sealer: new Sealer(config.SECRETS_KEY, 'magic-link'),
    tokens: new SessionTokens(
      config.JWT_SECRET,
      config.JWT_ISSUER,
      config.JWT_AUDIENCE,
      config.SESSION_TTL_SECONDS,
    ),
    linkTtlSeconds: config.MAGIC_LINK_TTL_SECONDS,
    perEmailPerHour: config.MAGIC_LINK_RATE_PER_EMAIL_PER_HOUR,
    perIpPerHour: config.MAGIC_LINK_RATE_PER_IP_PER_HOUR,
  });

  const jobs = new JobsService({
    pool,
    limits: {
      timeoutDefaultMs: config.JOB_TIMEOUT_DEFAULT_MS,
      timeoutMaxMs: config.JOB_TIMEOUT_MAX_MS,
      bodyMaxBytes: config.JOB_BODY_MAX_BYTES,
      fireAtMaxDays: config.JOB_FIRE_AT_MAX_DAYS,
    },
    policy: createTargetPolicy(config.TARGET_ALLOWLIST),
    maxActivePerUser: config.JOB_MAX_ACTIVE_PER_USER,
    createRatePerMinute: config.JOB_CREATE_RATE_PER_MINUTE,
    notifyWithinMs: config.SCHEDULER_POLL_INTERVAL_MS,
    onCreated: () => metrics.jobsCreated.inc(),
  });
  const secrets = new SigningSecrets(pool, config.SECRETS_KEY);

  app.use(requestId());
  app.use(accessLog(log, metrics));
  // Every JSON body is parsed with a small limit, except job creation, which parses its own large
  // body only after authentication (jobsRoutes): an anonymous request cannot make the server parse
  // hundreds of kilobytes of nested arrays.
  const smallJson = express.json({ limit: SMALL_JSON_LIMIT, strict: true });
  app.use((req, res, next) => (isJobCreate(req) ? next() : smallJson(req, res, next)));
  app.use(healthRoutes({ checks: deps.readiness, metrics }));
  app.use(authRoutes({ auth, publicUrl: config.PUBLIC_URL }));
  app.use(
    jobsRoutes({
      auth,
      jobs,
      secrets,
      log,
      // The JSON envelope of a job carries its body as a string: the body limit plus room for the rest.
      createJson: express.json({ limit: config.JOB_BODY_MAX_BYTES + 64 * 1024, strict: true }),
    }),
  );
  app.use((req, _res, next) =>
    next(new AppError(404, 'not_found', `no route for ${req.method} ${req.path}`)),
  );
  app.use(errorHandler(log));
  return app;
}
