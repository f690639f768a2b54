// `npm run dev`: the whole stack in one command. Starts embedded Postgres (unless DATABASE_URL is
// set), migrates, then runs the API server and the scheduler as child processes with readable logs.
// Ctrl-C stops the children first (so the scheduler can hand its jobs back), then Postgres.
//
// Why two processes: a terminal's Ctrl-C signals the whole foreground process group, which would
// stop Postgres at the same instant as the apps still using it. So the outer process only relays
// Ctrl-C; the real work runs in an inner process in its own process group (detached), told to stop
// over IPC, and stopping in order.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import pg from 'pg';
import { currentEnv, parseDevSettings } from '../src/config.ts';
import { startEmbeddedPostgres, withDatabase, type EmbeddedHandle } from '../src/db/embedded.ts';
import { migrateUp } from '../src/db/migrate.ts';
import { createLogger } from '../src/logger.ts';

const COLORS: Record<string, string> = { server: '\x1b[36m', scheduler: '\x1b[35m', dev: '\x1b[33m' };
const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

function print(name: string, line: string): void {
  const tag = `${COLORS[name] ?? ''}${name.padEnd(9)}\x1b[0m`;
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    const { level, time, msg, service: _s, name: _n, ...rest } = o;
    const t = typeof time === 'string' ? time.slice(11, 23) : '';
    const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
    if (typeof rest.magic_link === 'string') {
      process.stdout.write(
        `${t} ${tag} \x1b[1;32m✉  sign-in link for ${String(rest.to)}:\n    ${rest.magic_link}\x1b[0m\n`,
      );
      return;
    }
    process.stdout.write(`${t} ${tag} ${LEVELS[level as number] ?? String(level)} ${String(msg)}${extra}\n`);
  } catch {
    process.stdout.write(`${tag} ${line}\n`);
  }
}

function devSecrets(dataDir: string): { JWT_SECRET: string; SECRETS_KEY: string } {
  // Stable across restarts so sessions survive; generated once, git-ignored with the rest of .data.
  const file = path.join(dataDir, 'dev-secrets.json');
  if (fs.existsSync(file))
    return JSON.parse(fs.readFileSync(file, 'utf8')) as { JWT_SECRET: string; SECRETS_KEY: string };
  const secrets = {
    JWT_SECRET: crypto.randomBytes(48).toString('base64'),
    SECRETS_KEY: crypto.randomBytes(48).toString('base64'),
  };
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
}

async function main(): Promise<void> {
  const settings = parseDevSettings();
  const log = createLogger('dev', settings.LOG_LEVEL);
  const env = currentEnv();
  let embedded: EmbeddedHandle | undefined;
  let databaseUrl = settings.DATABASE_URL;
  if (!databaseUrl) {
    print(
      'dev',
      JSON.stringify({
        level: 30,
        msg: `starting embedded Postgres on port ${settings.DEV_PG_PORT} (data in ${settings.DEV_DATA_DIR}/pg)`,
      }),
    );
    embedded = await startEmbeddedPostgres({
      dataDir: path.join(settings.DEV_DATA_DIR, 'pg'),
      port: settings.DEV_PG_PORT,
      persistent: true,
    });
    await ensureDatabase(embedded.url, 'djs_dev');
    databaseUrl = withDatabase(embedded.url, 'djs_dev');
  }
  const ran = await migrateUp(databaseUrl, log);
  print(
    'dev',
    JSON.stringify({
      level: 30,
      msg: ran.length ? `applied migrations: ${ran.join(', ')}` : 'database is up to date',
    }),
  );

  const secrets = devSecrets(settings.DEV_DATA_DIR);
  const childEnv: Record<string, string> = {
    ...(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>),
    DATABASE_URL: databaseUrl,
    JWT_SECRET: env.JWT_SECRET ?? secrets.JWT_SECRET,
    SECRETS_KEY: env.SECRETS_KEY ?? secrets.SECRETS_KEY,
    // Local receivers (nc, a tiny server) are on loopback: let jobs target them in development.
    TARGET_ALLOWLIST: env.TARGET_ALLOWLIST ?? '127.0.0.0/8,::1/128',
    METRICS_PORT: env.METRICS_PORT ?? '9464',
  };
  const children: ChildProcess[] = [];
  for (const name of ['server', 'scheduler']) {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join('cmd', `${name}.ts`)], {
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    readline.createInterface({ input: child.stdout }).on('line', (l) => print(name, l));
    readline.createInterface({ input: child.stderr }).on('line', (l) => print(name, l));
    children.push(child);
  }
  const port = env.PORT ?? '3000';
  print(
    'dev',
    JSON.stringify({
      level: 30,
      msg: `API: http://localhost:${port}  (try: curl http://localhost:${port}/healthz)`,
    }),
  );
  if (!env.RESEND_API_KEY) {
    print(
      'dev',
      JSON.stringify({
        level: 30,
        msg: 'No RESEND_API_KEY: sign-in links appear right here in this console (look for ✉).',
      }),
    );
  }

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    print('dev', JSON.stringify({ level: 30, msg: 'stopping…' }));
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
            setTimeout(() => c.kill('SIGKILL'), 25_000).unref();
          }),
      ),
    );
    if (embedded) await embedded.stop();
    process.exit(code);
  };
  process.on('message', (m) => m === 'stop' && void stop(0));
  // The outer process died without telling us: do not leave anything running.
  process.on('disconnect', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  for (const c of children) {
    c.once('exit', (code) => {
      if (!stopping) {
        print(
          'dev',
          JSON.stringify({ level: 50, msg: `a child process exited (code ${code}); stopping the stack` }),
        );
        void stop(1);
      }
    });
  }
}

function outer(): void {
  const inner = spawn(process.execPath, [...process.execArgv, process.argv[1]!, '--inner'], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
  let asked = 0;
  const relay = () => {
    if (++asked > 1) {
      // Second Ctrl-C: stop waiting.
      inner.kill('SIGKILL');
      process.exit(130);
    }
    if (inner.connected) inner.send('stop');
  };
  process.on('SIGINT', relay);
  process.on('SIGTERM', relay);
  inner.on('exit', (code) => process.exit(code ?? 1));
}

if (process.argv.includes('--inner')) {
  main().catch((err: unknown) => {
    process.stderr.write(`dev: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
} else {
  outer();
}
