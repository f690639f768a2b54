// Real scheduler processes for the verification suite: `cmd/scheduler.ts` run by tsx, exactly as
// `npm run dev` runs it, so SIGKILL and SIGTERM hit a real process.
import { spawn, type ChildProcess } from 'node:child_process';
import { TEST_JWT_SECRET, TEST_SECRETS_KEY } from './app.ts';

export interface SchedulerProcess {
  workerId: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

const live = new Set<ChildProcess>();

/** Spawns a scheduler process with test settings plus `env`. */
export function spawnScheduler(
  databaseUrl: string,
  workerId: string,
  env: Record<string, string> = {},
): SchedulerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cmd/scheduler.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl,
      JWT_SECRET: TEST_JWT_SECRET,
      SECRETS_KEY: TEST_SECRETS_KEY,
      TARGET_ALLOWLIST: '127.0.0.0/8',
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      SCHEDULER_WORKER_ID: workerId,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      live.delete(child);
      resolve(code);
    }),
  );
  return { workerId, child, exited, output: () => out };
}

/** Kills whatever is still running (afterAll safety net). */
export async function killAll(): Promise<void> {
  const waits = [...live].map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r))));
  for (const c of live) c.kill('SIGKILL');
  await Promise.all(waits);
}
