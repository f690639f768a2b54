// compose.yaml (one host) runs for real in deploy/container-smoke.sh; this checks what a run
// cannot show every time: the start order still holds where podman-compose 1.0 ignores the
// depends_on conditions (Postgres may or may not be up when migrate starts), and the settings
// compose.env.example gives are the ones compose.yaml and the processes need.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig, parseDatabaseConfig } from '../../src/config.ts';

interface Service {
  image: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string>;
  env_file?: string | string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  restart?: string;
  stop_grace_period?: string;
  volumes?: string[];
}
const compose = parse(fs.readFileSync('compose.yaml', 'utf8')) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const { postgres, migrate, server, scheduler } = compose.services;
const apps = { migrate: migrate!, server: server!, scheduler: scheduler! };

/** compose's ${VAR}, ${VAR:-default} and ${VAR:?error} against `env`; an unset required one throws. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-?])([^}]*))?\}/g,
    (_, name: string, op, arg: string) => {
      const v = env[name];
      if (v) return v;
      if (op === '?') throw new Error(`${name}: ${arg}`);
      return op === '-' ? arg : '';
    },
  );
}
/** compose.env.example as a user fills it in: every REPLACE_WITH placeholder given a real-shaped value. */
function filledExample(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of fs.readFileSync('compose.env.example', 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]!] = m[2]!;
  }
  const real: Record<string, string> = {
    POSTGRES_PASSWORD: 'a1'.repeat(24),
    JWT_SECRET: Buffer.alloc(48, 1).toString('base64'),
    SECRETS_KEY: Buffer.alloc(48, 2).toString('base64'),
    RESEND_API_KEY: 're_x',
  };
  for (const [k, v] of Object.entries(env)) if (v.startsWith('REPLACE_WITH')) env[k] = real[k] ?? '';
  return env;
}
/** The environment a service's container gets: its env_file (.env) under its `environment`. */
function containerEnv(s: Service, dotEnv: Record<string, string>): Record<string, string> {
  const fromFile = s.env_file ? dotEnv : {};
  const own = Object.fromEntries(
    Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(v, dotEnv)]),
  );
  return { ...fromFile, ...own };
}

describe('compose.yaml (one host)', () => {
  it('runs the three images deploy/container-smoke.sh builds, built from their Dockerfiles when missing', () => {
    const smoke = fs.readFileSync('deploy/container-smoke.sh', 'utf8');
    for (const [kind, s] of Object.entries(apps)) {
      expect(s.image).toBe(`dist-job-scheduler-${kind}:latest`);
      expect(s.build).toEqual({ context: '.', dockerfile: `Dockerfile.${kind}` });
      expect(fs.existsSync(`Dockerfile.${kind}`)).toBe(true);
      expect(smoke).toContain(`dist-job-scheduler-${kind}`);
    }
    expect(smoke).toContain('cp compose.yaml');
    // The official image by default; an offline host names another.
    expect(postgres!.image).toBe('${POSTGRES_IMAGE:-docker.io/library/postgres:17}');
  });

  it('starts in order, and still converges where the depends_on conditions are ignored', () => {
    expect(migrate!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(server!.depends_on).toEqual({ migrate: { condition: 'service_completed_successfully' } });
    expect(scheduler!.depends_on).toEqual({ migrate: { condition: 'service_completed_successfully' } });
    // podman-compose 1.0 starts all four at once: migrate is retried until Postgres accepts it (and
    // not after it exits 0), the apps until the schema is there, and everything after a reboot.
    expect(migrate!.restart).toBe('on-failure');
    for (const s of [postgres!, server!, scheduler!]) expect(s.restart).toBe('unless-stopped');
  });

  it('healthchecks: pg_isready for Postgres, /readyz on the operations listener for the apps', () => {
    expect(postgres!.healthcheck!.test[0]).toBe('CMD-SHELL');
    expect(postgres!.healthcheck!.test[1]).toMatch(
      new RegExp(
        `^pg_isready -h 127\\.0\\.0\\.1 -U ${postgres!.environment!.POSTGRES_USER} -d ${postgres!.environment!.POSTGRES_DB}$`,
      ),
    );
    const metricsPort = parseConfig(
      { DATABASE_URL: 'postgres://u@h/d', JWT_SECRET: 'x'.repeat(44), SECRETS_KEY: 'y'.repeat(44) },
      'scheduler',
    ).METRICS_PORT;
    for (const s of [server!, scheduler!]) {
      expect(s.healthcheck!.test[0]).toBe('CMD-SHELL');
      // node is all the image has (node:24-slim: no curl, no wget).
      expect(s.healthcheck!.test[1]).toContain(`fetch('http://127.0.0.1:${metricsPort}/readyz')`);
      expect(s.healthcheck!.test[1]).toMatch(/^node -e /);
      // Published on loopback only: /metrics and readiness detail are for a local Prometheus.
      expect(s.ports).toContainEqual(
        expect.stringMatching(new RegExp(`^127\\.0\\.0\\.1:.*:${metricsPort}$`)),
      );
    }
    expect(server!.ports).toContain('${HTTP_BIND:-127.0.0.1}:${HTTP_PORT:-3000}:3000');
    // Postgres is reached on the compose network only; its data outlives the container.
    expect(postgres!.ports).toBeUndefined();
    expect(postgres!.volumes).toEqual(['pgdata:/var/lib/postgresql/data']);
    expect(Object.keys(compose.volumes)).toEqual(['pgdata']);
  });

  it('secrets come from .env (gitignored), written once, and what compose.env.example gives is enough', () => {
    const source = fs.readFileSync('compose.yaml', 'utf8');
    expect(source).not.toMatch(/PASSWORD: (?!\$\{)/);
    expect(fs.readFileSync('.gitignore', 'utf8').split('\n')).toContain('.env');
    const dotEnv = filledExample();
    // compose refuses to start without the password (${POSTGRES_PASSWORD:?…}).
    expect(() => containerEnv(postgres!, { ...dotEnv, POSTGRES_PASSWORD: '' })).toThrow(/POSTGRES_PASSWORD/);
    const db = containerEnv(postgres!, dotEnv);
    expect(db).toEqual({
      POSTGRES_USER: 'dist_job_scheduler',
      POSTGRES_DB: 'dist_job_scheduler',
      POSTGRES_PASSWORD: dotEnv.POSTGRES_PASSWORD,
    });
    // The apps' secrets never reach the database container.
    expect(postgres!.env_file).toBeUndefined();
    for (const [kind, s] of Object.entries(apps)) {
      const env = containerEnv(s, dotEnv);
      const url = new URL(env.DATABASE_URL!);
      expect([url.hostname, url.port, url.pathname], kind).toEqual([
        'postgres',
        '5432',
        `/${db.POSTGRES_DB}`,
      ]);
      expect([url.username, url.password], kind).toEqual([db.POSTGRES_USER, db.POSTGRES_PASSWORD]);
      // The images run with NODE_ENV=production: the settings must hold there.
      const prod = { ...env, NODE_ENV: 'production' };
      if (kind === 'migrate') {
        expect(s.env_file).toBeUndefined();
        expect(parseDatabaseConfig(prod).DATABASE_URL).toBe(env.DATABASE_URL);
      } else {
        expect(s.env_file).toBe('.env');
        const cfg = parseConfig(prod, kind as 'server' | 'scheduler');
        expect(cfg.PORT).toBe(3000);
        expect(cfg.PUBLIC_URL).toBe(dotEnv.PUBLIC_URL);
      }
    }
    // The scheduler gets longer to stop than its drain grace (hand-back before SIGKILL).
    const grace = parseConfig(containerEnv(scheduler!, dotEnv), 'scheduler').SCHEDULER_SHUTDOWN_GRACE_MS;
    expect(Number(/^(\d+)s$/.exec(scheduler!.stop_grace_period!)![1]) * 1000).toBeGreaterThan(grace);
  });
});
