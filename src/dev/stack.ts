// The local stack behind `npm run dev`: embedded Postgres (unless DATABASE_URL is set), migrations,
// then the API server and the scheduler as child processes with readable logs. Stopping stops the
// children first (so the scheduler can hand its jobs back), then Postgres.
//
// Why two processes: a terminal's Ctrl-C signals the whole foreground process group, which would
// stop Postgres at the same instant as the apps still using it. So the outer process only relays
// Ctrl-C; the real work runs in an inner process in its own process group (detached), told to stop
// over IPC, and stopping in order.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { currentEnv, parseDevSettings } from '../config.ts';
import { ensureDatabase } from '../db/admin.ts';
import { startEmbeddedPostgres, withDatabase, type EmbeddedHandle } from '../db/embedded.ts';
import { migrateUp } from '../db/migrate.ts';
import { createLogger } from '../logger.ts';
import { formatLogLine } from './logFormat.ts';
import { devSecrets } from './secrets.ts';

/** The argument that makes the entry point run the inner process (runStack) rather than the outer one. */
export const INNER_FLAG = '--inner';

function print(name: string, line: string): void {
  process.stdout.write(formatLogLine(name, line));
}

/** A line of the dev process itself, in the same format as its children's. */
function say(msg: string, level = 30): void {
  print('dev', JSON.stringify({ level, msg }));
}

/** The inner process: starts the stack and stops it in order when told to (IPC "stop", SIGTERM). */
export async function runStack(): Promise<void> {
  const settings = parseDevSettings();
  const log = createLogger('dev', settings.LOG_LEVEL);
  const env = currentEnv();
  let embedded: EmbeddedHandle | undefined;
  let databaseUrl = settings.DATABASE_URL;
  if (!databaseUrl) {
    say(`starting embedded Postgres on port ${settings.DEV_PG_PORT} (data in ${settings.DEV_DATA_DIR}/pg)`);
    embedded = await startEmbeddedPostgres({
      dataDir: path.join(settings.DEV_DATA_DIR, 'pg'),
      port: settings.DEV_PG_PORT,
      persistent: true,
    });
    await ensureDatabase(embedded.url, 'djs_dev');
    databaseUrl = withDatabase(embedded.url, 'djs_dev');
  }
  const ran = await migrateUp(databaseUrl, log);
  say(ran.length ? `applied migrations: ${ran.join(', ')}` : 'database is up to date');

  const secrets = devSecrets(settings.DEV_DATA_DIR);
  const childEnv: Record<string, string> = {
    ...(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>),
    DATABASE_URL: databaseUrl,
    JWT_SECRET: env.JWT_SECRET ?? secrets.JWT_SECRET,
    SECRETS_KEY: env.SECRETS_KEY ?? secrets.SECRETS_KEY,
    // Local receivers (nc, a tiny server) are on loopback: let jobs target them in development.
    TARGET_ALLOWLIST: env.TARGET_ALLOWLIST ?? '127.0.0.0/8,::1/128',
  };
  // Both processes run an operations listener (/metrics, detailed /readyz) on METRICS_PORT, and here
  // they share a host: the scheduler gets METRICS_PORT (9464), the server the next port (9465).
  // 0 stays 0 for both (the system picks).
  const schedulerMetricsPort = settings.METRICS_PORT;
  const serverMetricsPort = schedulerMetricsPort === 0 ? 0 : schedulerMetricsPort + 1;
  const children: ChildProcess[] = [];
  // The console is built into dist/console and rebuilt on every change under web/src (esbuild,
  // well under a second); the server reads it from there.
  const programs: Record<string, { args: string[]; env?: Record<string, string> }> = {
    console: { args: [path.join('web', 'build.ts'), '--watch'] },
    server: { args: [path.join('cmd', 'server.ts')], env: { METRICS_PORT: String(serverMetricsPort) } },
    scheduler: {
      args: [path.join('cmd', 'scheduler.ts')],
      env: { METRICS_PORT: String(schedulerMetricsPort) },
    },
  };
  for (const [name, { args, env: own }] of Object.entries(programs)) {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      env: { ...childEnv, ...own },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    readline.createInterface({ input: child.stdout }).on('line', (l) => print(name, l));
    readline.createInterface({ input: child.stderr }).on('line', (l) => print(name, l));
    children.push(child);
  }
  const port = env.PORT ?? '3000';
  say(`Console: http://localhost:${port}/   API: http://localhost:${port}/v1  (reference: /docs)`);
  if (schedulerMetricsPort !== 0)
    say(
      `Metrics and readiness detail: API http://localhost:${serverMetricsPort}/metrics, ` +
        `scheduler http://localhost:${schedulerMetricsPort}/metrics (/readyz on each)`,
    );
  if (!env.RESEND_API_KEY) {
    say('No RESEND_API_KEY: sign-in links appear right here in this console (look for ✉).');
  }

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    say('stopping…');
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
        say(`a child process exited (code ${code}); stopping the stack`, 50);
        void stop(1);
      }
    });
  }
}

/**
 * The outer process: runs this same entry point again with INNER_FLAG, detached in its own process
 * group, and turns Ctrl-C (or SIGTERM) into an ordered stop; a second Ctrl-C stops waiting.
 */
export function runStackDetached(): void {
  const inner = spawn(process.execPath, [...process.execArgv, process.argv[1]!, INNER_FLAG], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    detached: true,
  });
  let asked = 0;
  const relay = () => {
    if (++asked > 1) {
      inner.kill('SIGKILL');
      process.exit(130);
    }
    if (inner.connected) inner.send('stop');
  };
  process.on('SIGINT', relay);
  process.on('SIGTERM', relay);
  inner.on('exit', (code) => process.exit(code ?? 1));
}
