// The only reader of process.env. Every setting is parsed once, at start, by one zod schema; a bad
// environment fails with every problem listed at once rather than one per restart.
import ipaddr from 'ipaddr.js';
import { z } from 'zod';

/** Raised when the environment does not describe a runnable process; `problems` lists each fault. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const postgresUrl = z.string().refine(
  (v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'postgres:' || u.protocol === 'postgresql:') && u.hostname.length > 0;
    } catch {
      return false;
    }
  },
  { message: 'must be a postgres:// or postgresql:// URL with a host' },
);

/** Decodes a base64/base64url secret; a secret shorter than 32 bytes is refused (HS256 and AES-256 need 256 bits). */
const secret32 = z
  .string()
  .min(1, 'is required')
  .transform((v, ctx) => {
    const bytes = /^[A-Za-z0-9+/_-]+={0,2}$/.test(v) ? Buffer.from(v, 'base64') : Buffer.alloc(0);
    if (bytes.length < 32) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be base64 that decodes to at least 32 bytes (e.g. `openssl rand -base64 48`)',
      });
      return z.NEVER;
    }
    return bytes;
  });

const cidrList = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
  )
  .superRefine((list, ctx) => {
    for (const c of list) {
      if (!(c.includes('/') ? ipaddr.isValidCIDR(c) : ipaddr.isValid(c))) {
        ctx.addIssue({ code: 'custom', message: `entry "${c}" is not an IP address or CIDR` });
      }
    }
  });

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

const databaseShape = {
  // `npm run dev` and the tests start embedded Postgres and set this themselves when it is unset.
  DATABASE_URL: postgresUrl,
  PG_POOL_MAX: int(1, 200).default(20),
  LOG_LEVEL: logLevel,
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
};

const fullSchema = z.object({
  ...databaseShape,
  HOST: z.string().default('0.0.0.0'),
  PORT: int(0, 65535).default(3000),
  PUBLIC_URL: z.url().optional(),
  // Express "trust proxy": true/false, a hop count, or comma-separated names/CIDRs (loopback, 10.0.0.0/8).
  TRUST_PROXY: z
    .string()
    .default('loopback')
    .transform((v): boolean | number | string =>
      v === 'true' ? true : v === 'false' ? false : /^\d+$/.test(v) ? Number(v) : v,
    ),
  JWT_SECRET: secret32,
  // Encrypts queued sign-in tokens and derives per-user webhook signing secrets; rotate with care.
  SECRETS_KEY: secret32,
  JWT_ISSUER: z.string().min(1).default('dist-job-scheduler'),
  JWT_AUDIENCE: z.string().min(1).default('dist-job-scheduler-api'),
  SESSION_TTL_SECONDS: int(60, 30 * 86400).default(86400),
  MAGIC_LINK_TTL_SECONDS: int(60, 86400).default(900),
  MAGIC_LINK_RATE_PER_EMAIL_PER_HOUR: int(1, 10000).default(5),
  MAGIC_LINK_RATE_PER_IP_PER_HOUR: int(1, 100000).default(30),
  RESEND_API_KEY: z.string().min(1).optional(),
  // Where sign-in emails go: `resend`, or `log` (the link in a log line: a development mailbox).
  // Unset: resend with RESEND_API_KEY, else log, except in production (see mailTransport below).
  MAIL_TRANSPORT: z.enum(['resend', 'log']).optional(),
  // Only for tests and self-hosted relays; the resend SDK reads it as its API base URL.
  RESEND_BASE_URL: z.url().optional(),
  MAIL_FROM: z.string().min(3).default('dist-job-scheduler <login@example.com>'),
  API_KEYS_MAX_PER_USER: int(1, 10_000).default(100),
  // How long a verified API key or session may be reused without a database check, while the server
  // hears revocations over LISTEN (a revocation or logout drops it at once); 0: check every request.
  AUTH_CACHE_TTL_MS: int(0, 3_600_000).default(60_000),
  SCHEDULES_MAX_PER_USER: int(1, 1_000_000).default(1000),
  // Schedules may not fire more often than this (a cron with seconds could ask for every second).
  SCHEDULE_MIN_INTERVAL_SECONDS: int(1, 86_400).default(60),
  // How often each scheduler re-plans schedules whose pending occurrence was cancelled.
  SCHEDULER_PLAN_REPAIR_INTERVAL_MS: int(100, 600_000).default(2000),
  JOB_TIMEOUT_DEFAULT_MS: int(1000, 600000).default(10000),
  JOB_TIMEOUT_MAX_MS: int(1000, 600000).default(120000),
  JOB_BODY_MAX_BYTES: int(0, 10 * 1024 * 1024).default(256 * 1024),
  // A POST /v1/jobs/batch body (up to 1,000 jobs).
  JOB_BATCH_MAX_BYTES: int(1024, 100 * 1024 * 1024).default(8 * 1024 * 1024),
  JOB_FIRE_AT_MAX_DAYS: int(1, 3650).default(365),
  JOB_MAX_ACTIVE_PER_USER: int(1, 10_000_000).default(100_000),
  JOB_CREATE_RATE_PER_MINUTE: int(1, 10_000_000).default(100_000),
  // Single creates waiting to share an INSERT; past it a create is answered 503 at once (backpressure).
  JOB_CREATE_MAX_WAITING: int(1, 1_000_000).default(10_000),
  // The same for one user: past it that user's creates are answered 429 while others' still pass.
  JOB_CREATE_MAX_WAITING_PER_USER: int(1, 1_000_000).default(1_000),
  TARGET_ALLOWLIST: cidrList,
  // Names this replica in leases and logs (Kubernetes: the pod name); default: a random id.
  SCHEDULER_WORKER_ID: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,100}$/, 'must be 1-100 of A-Z a-z 0-9 . _ : -')
    .optional(),
  SCHEDULER_CONCURRENCY: int(1, 10000).default(200),
  SCHEDULER_BATCH_SIZE: int(1, 1000).default(100),
  SCHEDULER_USER_MAX_IN_FLIGHT: int(1, 10000).default(50),
  SCHEDULER_POLL_INTERVAL_MS: int(50, 60000).default(5000),
  SCHEDULER_LEASE_MS: int(1000, 3600000).default(30000),
  SCHEDULER_HEARTBEAT_INTERVAL_MS: int(100, 600000).default(5000),
  SCHEDULER_REAPER_INTERVAL_MS: int(100, 600000).default(5000),
  // Below Kubernetes' default 30 s termination grace, so hand-back finishes before SIGKILL.
  SCHEDULER_SHUTDOWN_GRACE_MS: int(0, 600000).default(20000),
  RESPONSE_BODY_MAX_BYTES: int(0, 1024 * 1024).default(8192),
  // Finished jobs (and their executions) are deleted this many days after they finished; 0 keeps forever.
  RETENTION_SUCCEEDED_DAYS: int(0, 36500).default(7),
  RETENTION_CANCELLED_DAYS: int(0, 36500).default(7),
  RETENTION_FAILED_DAYS: int(0, 36500).default(30),
  RETENTION_INTERVAL_MS: int(1000, 86_400_000).default(60_000),
  // Each process's operations listener (/metrics, /healthz, /readyz with each check's detail), apart
  // from the public API port: the server's and each scheduler's, so one name in a shared ConfigMap.
  // Processes sharing a host need different values (`npm run dev` gives the server this + 1).
  METRICS_PORT: int(0, 65535).default(9464),
  METRICS_HOST: z.string().default('0.0.0.0'),
  // OpenTelemetry traces over OTLP/HTTP (the standard variables). Unset: no tracing, no SDK loaded.
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  // Default per process: djs-server or djs-scheduler.
  OTEL_SERVICE_NAME: z.string().min(1).max(200).optional(),
});

export type MailTransportKind = 'resend' | 'log';
export type Config = Omit<z.infer<typeof fullSchema>, 'MAIL_TRANSPORT' | 'OTEL_SERVICE_NAME'> & {
  PUBLIC_URL: string;
  OTEL_SERVICE_NAME: string;
  MAIL_TRANSPORT: MailTransportKind;
};
export type DatabaseConfig = z.infer<z.ZodObject<typeof databaseShape>>;
export type Env = Record<string, string | undefined>;

function problemsOf(error: z.ZodError): string[] {
  return error.issues.map((i) => {
    const key = i.path.join('.') || '(root)';
    const msg = i.code === 'invalid_type' && i.input === undefined ? 'is required' : i.message;
    return `${key} ${msg}`;
  });
}

function clean(env: Env): Env {
  // An empty variable means "unset", as in most deployment tools.
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
}

/**
 * MAIL_TRANSPORT with its default. Production never falls back to the log by itself: a sign-in link
 * is a live credential, and logs are read by more people (and systems) than mailboxes.
 */
function mailTransport(
  cfg: { MAIL_TRANSPORT?: MailTransportKind; RESEND_API_KEY?: string; NODE_ENV: string },
  problems: string[],
): MailTransportKind {
  if (cfg.MAIL_TRANSPORT === 'resend' && !cfg.RESEND_API_KEY)
    problems.push('MAIL_TRANSPORT=resend requires RESEND_API_KEY');
  if (cfg.MAIL_TRANSPORT) return cfg.MAIL_TRANSPORT;
  if (cfg.RESEND_API_KEY) return 'resend';
  if (cfg.NODE_ENV === 'production')
    problems.push(
      'RESEND_API_KEY is required when NODE_ENV=production, or sign-in links (live credentials) would go to the log: ' +
        'set RESEND_API_KEY to email them, or set MAIL_TRANSPORT=log to log them on purpose (no real users)',
    );
  return 'log';
}

/** Which process reads the configuration: only the server sends mail. */
export type ProcessRole = 'server' | 'scheduler';

/**
 * Parses the full process configuration (server and scheduler); throws ConfigError listing every
 * problem. The mail settings are checked only for the server, the one process that sends mail.
 */
export function parseConfig(env: Env = process.env, role: ProcessRole = 'server'): Config {
  const result = fullSchema.safeParse(clean(env));
  if (!result.success) throw new ConfigError(problemsOf(result.error));
  const cfg = result.data;
  const problems: string[] = [];
  if (cfg.JOB_TIMEOUT_DEFAULT_MS > cfg.JOB_TIMEOUT_MAX_MS)
    problems.push('JOB_TIMEOUT_DEFAULT_MS must not exceed JOB_TIMEOUT_MAX_MS');
  if (cfg.SCHEDULER_HEARTBEAT_INTERVAL_MS * 2 > cfg.SCHEDULER_LEASE_MS)
    problems.push('SCHEDULER_HEARTBEAT_INTERVAL_MS must be at most half of SCHEDULER_LEASE_MS');
  // Only the server listens on PORT; the same port for both would fail at start with EADDRINUSE.
  if (role === 'server' && cfg.METRICS_PORT !== 0 && cfg.METRICS_PORT === cfg.PORT)
    problems.push(
      'METRICS_PORT must differ from PORT: metrics and readiness detail stay off the public port',
    );
  const transport = role === 'server' ? mailTransport(cfg, problems) : 'log';
  if (problems.length) throw new ConfigError(problems);
  return {
    ...cfg,
    MAIL_TRANSPORT: transport,
    OTEL_SERVICE_NAME: cfg.OTEL_SERVICE_NAME ?? (role === 'server' ? 'djs-server' : 'djs-scheduler'),
    PUBLIC_URL: (cfg.PUBLIC_URL ?? `http://localhost:${cfg.PORT}`).replace(/\/+$/, ''),
  };
}

/** The scheduler's configuration: as the server's, without the mail checks (it sends no mail). */
export const parseSchedulerConfig = (env: Env = process.env): Config => parseConfig(env, 'scheduler');

/** Parses just what the migrate step needs. */
export function parseDatabaseConfig(env: Env = process.env): DatabaseConfig {
  const result = z.object(databaseShape).safeParse(clean(env));
  if (!result.success) throw new ConfigError(problemsOf(result.error));
  return result.data;
}

/** Settings of the local development stack (cmd/dev.ts) and the test harness. */
export function parseDevSettings(env: Env = process.env) {
  return z
    .object({
      DATABASE_URL: postgresUrl.optional(),
      TEST_DATABASE_URL: postgresUrl.optional(),
      DEV_PG_PORT: int(1, 65535).default(54329),
      DEV_DATA_DIR: z.string().default('.data'),
      PORT: int(0, 65535).default(3000),
      // The scheduler's operations listener; the server's is the next port (both run on this host).
      METRICS_PORT: int(0, 65534).default(9464),
      LOG_LEVEL: logLevel,
    })
    .parse(clean(env));
}

/** The environment as a plain object, for entry points that must hand it to child processes. */
export function currentEnv(): Env {
  return { ...process.env };
}
