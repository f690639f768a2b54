// createApp builds the Express app from services built elsewhere (src/server.ts's buildApi, the one
// place that wires the API) and never listens, so tests drive the very same app with supertest.
import express from 'express';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { fail } from '../errors.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { AuthService } from '../auth/service.ts';
import type { JobsService } from '../jobs/service.ts';
import type { SigningSecrets } from '../webhooks/secrets.ts';
import { accessLog, errorHandler, requestId, requireUser, traceRequests } from './middleware.ts';
import { cookieSecure } from './sessionCookie.ts';
import { consoleRoutes } from './routes/console.ts';
import { authRoutes } from './routes/auth.ts';
import { jobsRoutes } from './routes/jobs.ts';
import { apiKeysRoutes } from './routes/apiKeys.ts';
import { schedulesRoutes } from './routes/schedules.ts';
import type { SchedulesService } from '../schedules/service.ts';
import type { ApiKeyService } from '../auth/apiKeyService.ts';
import { publicHealthRoutes, type ReadinessCheck } from './routes/health.ts';
import { docsRoutes } from './routes/docs.ts';
import { OPERATIONS, requestSchemas } from '../contract/index.ts';
import { Registrar } from './registrar.ts';

export interface AppDeps {
  config: Pick<
    Config,
    | 'TRUST_PROXY'
    | 'PUBLIC_URL'
    | 'JOB_BODY_MAX_BYTES'
    | 'JOB_BATCH_MAX_BYTES'
    | 'NODE_ENV'
    | 'SESSION_TTL_SECONDS'
  >;
  /** The built console (index.html and assets), or null when it was not built. */
  consoleDir: string | null;
  log: Logger;
  metrics: Metrics;
  readiness: ReadinessCheck[];
  auth: AuthService;
  jobs: JobsService;
  secrets: SigningSecrets;
  apiKeys: ApiKeyService;
  schedules: SchedulesService;
}

/** Enough for every JSON body but a job's (sign-in, session, and the like are well under 1 KB). */
const SMALL_JSON_LIMIT = 16 * 1024;
// Express routes case-insensitively and ignores a trailing slash: so does this test.
const isJobCreate = (req: express.Request) =>
  req.method === 'POST' &&
  ['/v1/jobs', '/v1/jobs/batch'].includes(req.path.toLowerCase().replace(/\/+$/, ''));

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
/**
 * Refuses a JSON body that is not valid UTF-8. JSON.parse would read it with U+FFFD in place of the
 * bad bytes, and the altered text would be stored and sent as if the client had written it.
 */
function requireUtf8(_req: unknown, _res: unknown, buf: Buffer): void {
  try {
    strictUtf8.decode(buf);
  } catch {
    throw Object.assign(new Error('request body is not valid UTF-8'), { type: 'encoding.invalid_utf8' });
  }
}

/** Builds the API. */
export function createApp(deps: AppDeps): express.Express {
  const { config, log, metrics, auth, jobs, secrets, apiKeys, schedules } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.TRUST_PROXY);
  app.set('etag', false);

  app.use(requestId());
  app.use(traceRequests());
  app.use(accessLog(log, metrics));
  // Every JSON body is parsed with a small limit, except job creation, which parses its own large
  // body only after authentication (the registrar): an anonymous request cannot make the server parse
  // hundreds of kilobytes of nested arrays.
  const smallJson = express.json({ limit: SMALL_JSON_LIMIT, strict: true, verify: requireUtf8 });
  app.use((req, res, next) => (isJobCreate(req) ? next() : smallJson(req, res, next)));
  const secure = cookieSecure(config.NODE_ENV, config.PUBLIC_URL);
  const schemas = requestSchemas({ jobs, schedules });
  // Every route of the API is an operation of the contract, registered through this.
  const routes = new Registrar({
    requireUser: requireUser(auth, { secure, publicOrigin: new URL(config.PUBLIC_URL).origin }),
    schemas,
    parsers: {
      // The JSON envelope of a job carries its body as a string: the body limit plus room for the rest.
      job: express.json({ limit: config.JOB_BODY_MAX_BYTES + 64 * 1024, strict: true, verify: requireUtf8 }),
      batch: express.json({ limit: config.JOB_BATCH_MAX_BYTES, strict: true, verify: requireUtf8 }),
    },
  });
  // Status only here; the checks' detail and /metrics are on the operations listener (METRICS_PORT).
  app.use(publicHealthRoutes(routes, deps.readiness));
  app.use(docsRoutes({ routes, config, schemas }));
  app.use(
    authRoutes({
      routes,
      auth,
      publicUrl: config.PUBLIC_URL,
      cookie: { secure, maxAgeSeconds: config.SESSION_TTL_SECONDS },
    }),
  );
  app.use(apiKeysRoutes({ routes, apiKeys, log }));
  app.use(schedulesRoutes({ routes, schedules, log }));
  app.use(jobsRoutes({ routes, jobs, secrets, log }));
  routes.assertComplete(OPERATIONS);
  app.use(consoleRoutes({ dir: deps.consoleDir }));
  app.use((req, _res, next) => next(fail('not_found', `no route for ${req.method} ${req.path}`)));
  app.use(errorHandler(log));
  return app;
}
