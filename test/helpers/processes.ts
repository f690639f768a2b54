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

export interface NpxProcess {
  /** The `npx` process; it leads a process group of its own (the terminal's foreground group). */
  child: ChildProcess;
  /** Resolves when every process of the group holding our stdout and stderr has exited. */
  closed: Promise<void>;
  output: () => string;
  /** Resolves with the first of `texts` to appear in the output (rejects after `timeoutMs`). */
  waitForOutput: (texts: string | string[], timeoutMs?: number) => Promise<string>;
}

const groups = new Set<number>();

/**
 * Runs `npx tsx <entry>` as a person runs it in a terminal: in a process group of its own, so
 * `process.kill(-child.pid, 'SIGINT')` is Ctrl-C (npm, the tsx CLI and the node process running
 * `entry` each get the signal, and the tsx CLI may relay it once more).
 */
export function spawnWithNpx(entry: string, env: Record<string, string>): NpxProcess {
  const child = spawn('npx', ['tsx', entry], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'test',
      JWT_SECRET: TEST_JWT_SECRET,
      SECRETS_KEY: TEST_SECRETS_KEY,
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pgid = child.pid!;
  groups.add(pgid);
  let out = '';
  const waiters = new Set<() => void>();
  const append = (d: Buffer) => {
    out = (out + d.toString()).slice(-50_000);
    for (const w of waiters) w();
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  // 'close' comes when the last writer of both pipes is gone: npm dies of Ctrl-C at once, the
  // processes below it keep the pipes open until they exit.
  const closed = new Promise<void>((resolve) =>
    child.once('close', () => {
      groups.delete(pgid);
      resolve();
    }),
  );
  const waitForOutput = (texts: string | string[], timeoutMs = 20_000) =>
    new Promise<string>((resolve, reject) => {
      const wanted = typeof texts === 'string' ? [texts] : texts;
      const check = () => {
        const found = wanted.find((t) => out.includes(t));
        if (found === undefined) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`none of ${JSON.stringify(wanted)} in the output within ${timeoutMs} ms:\n${out}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return { child, closed, output: () => out, waitForOutput };
}

/**
 * The pid of the node process that runs `entry` under tsx in process group `pgid`: the last of the
 * chain npm → (sh) → tsx CLI → node whose command lines all name `entry`. Linux only (reads /proc).
 */
export async function entryPid(pgid: number, entry: string): Promise<number> {
  const { readdir, readFile } = await import('node:fs/promises');
  const members = new Map<number, { ppid: number; cmdline: string }>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces and parentheses): state ppid pgrp …
      const [, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) !== pgid) continue;
      const cmdline = (await readFile(`/proc/${name}/cmdline`, 'utf8')).replaceAll('\0', ' ');
      members.set(Number(name), { ppid: Number(ppid), cmdline });
    } catch {
      // The process exited while we looked.
    }
  }
  const running = [...members].filter(([, m]) => m.cmdline.includes(entry));
  const leaves = running.filter(([pid]) => !running.some(([, m]) => m.ppid === pid));
  const pid = leaves.length === 1 ? leaves[0]![0] : undefined;
  if (pid === undefined) throw new Error(`no tsx child running ${entry} in group ${pgid}`);
  return pid;
}

/** Kills every process group spawnWithNpx started that is still alive (afterAll safety net). */
export function killGroups(): void {
  for (const g of groups) {
    try {
      process.kill(-g, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  groups.clear();
}
