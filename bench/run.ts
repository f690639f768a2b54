// `npm run bench`: nine scenarios, our scheduler side by side with pg-boss and graphile-worker, on
// the same machine, the same Postgres and the same loopback target, in one run. Prints a markdown
// table and writes bench/results/<timestamp>.json. Not part of CI (timings are the point here).
//   BENCH_DATABASE_URL / DATABASE_URL: a server to use (default: an embedded Postgres started here)
//   BENCH_ONLY=drain,precision,api,freeze,scale,retention,schedules,memory,tenant: run a subset; BENCH_QUICK=1: smaller sizes
//   BENCH_NODE_FLAGS: Node flags of the scheduler processes (default: those of Dockerfile.scheduler's CMD)
import { execSync, fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import autocannon from 'autocannon';
import { freePort, startScratchPostgres, withDatabase, type ScratchPostgres } from '../src/db/embedded.ts';
import { migrateUp } from '../src/db/migrate.ts';
import { silentLogger } from '../src/logger.ts';
import { graphile, ours, pgboss, type System } from './systems.ts';

const QUICK = process.env.BENCH_QUICK === '1';
const ONLY = new Set(
  (process.env.BENCH_ONLY ?? 'drain,precision,api,freeze,scale,retention,schedules,memory,tenant').split(','),
);
const N_DRAIN = QUICK ? 5000 : 20_000;
const DRAIN_ROUNDS = QUICK ? 1 : 3;
const N_PRECISION = QUICK ? 1000 : 5000;
const PRECISION_SPAN_MS = QUICK ? 2000 : 10_000;
const PRECISION_ROUNDS = QUICK ? 1 : 3;
const N_SCALE_FINISHED = QUICK ? 100_000 : 1_000_000;
const N_RETENTION_OLD = QUICK ? 100_000 : 1_000_000;
const RETENTION_ROUNDS = 3;
const SCALE_ROUNDS = QUICK ? 1 : 3;
const N_TENANT_BACKLOG = QUICK ? 20_000 : 200_000;
const TENANT_ROUNDS = QUICK ? 1 : 3;
const N_SCHEDULES = QUICK ? 2000 : 10_000;
const SCHEDULE_TICKS = 2;
const N_MEMORY = QUICK ? 10_000 : 100_000;
const API_SECONDS = QUICK ? 5 : 10;
const API_ROUNDS = QUICK ? 1 : 3;
const FREEZE_SECONDS = QUICK ? 4 : 10;

const results: Record<string, unknown> = {
  machine: {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  },
};
const lines: string[] = [];
const log = (s: string) => process.stderr.write(`${s}\n`);

// ---------- infrastructure ----------
interface Target {
  url: string;
  child: ChildProcess;
  stats(): Promise<{ count: number; lateness: number[] }>;
  count(): Promise<number>;
  reset(): Promise<void>;
}
async function startTarget(mode: 'small' | 'big'): Promise<Target> {
  const child = fork(path.join(import.meta.dirname, 'target.ts'), [mode], { execArgv: ['--import', 'tsx'] });
  const port = await new Promise<number>((r) => child.once('message', (m: { port: number }) => r(m.port)));
  const ask = <T>(msg: string) =>
    new Promise<T>((r) => (child.once('message', (m: T) => r(m)), child.send(msg)));
  return {
    url: `http://127.0.0.1:${port}/hook`,
    child,
    stats: () => ask('stats'),
    count: async () => (await ask<{ count: number }>('count')).count,
    reset: () => ask('reset'),
  };
}

/** Environment of a scheduler process started by the bench. */
function schedulerEnv(databaseUrl: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    DATABASE_URL: databaseUrl,
    JWT_SECRET: Buffer.alloc(48, 5).toString('base64'),
    SECRETS_KEY: Buffer.alloc(48, 5).toString('base64'),
    TARGET_ALLOWLIST: '127.0.0.0/8',
    METRICS_PORT: '0',
    LOG_LEVEL: 'warn',
    SCHEDULER_USER_MAX_IN_FLIGHT: '10000',
    ...(process.env.MALLOC_ARENA_MAX ? { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX } : {}),
    ...extra,
  };
}

/**
 * How the container starts a scheduler replica: Dockerfile.scheduler's CMD, minus `node`. Scheduler
 * processes here run with exactly those V8 flags (BENCH_NODE_FLAGS replaces them, to experiment).
 */
function schedulerArgs(): string[] {
  // The last exec-form CMD wins, as in Docker.
  const cmd = [...fs.readFileSync('Dockerfile.scheduler', 'utf8').matchAll(/^CMD (\[.*\])\r?$/gm)].at(
    -1,
  )?.[1];
  if (!cmd) throw new Error('Dockerfile.scheduler has no exec-form CMD');
  const [, ...args] = JSON.parse(cmd) as string[];
  const script = args.pop()!;
  const flags = process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? args;
  return [...flags, script];
}

async function freshDatabase(adminUrl: string, name: string): Promise<string> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const url = withDatabase(adminUrl, name);
  await migrateUp(url, silentLogger);
  return url;
}

const pct = (xs: number[], p: number) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
/** The middle value (the upper one of an even count). */
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');

async function waitCompleted(sys: System, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const left = await sys.remaining();
    if (left <= 0) return performance.now();
    if (performance.now() - t0 > timeoutMs)
      throw new Error(`${sys.name}: ${left} left after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Drain: N jobs all due, worker started, until the system records all N as completed. */
async function drain(sys: System, target: Target, n: number): Promise<number> {
  await sys.reset();
  await target.reset();
  const due = Date.now() - 1000;
  await sys.enqueue(Array.from({ length: n }, () => due));
  const t0 = performance.now();
  await sys.start();
  const t1 = await waitCompleted(sys, 600_000);
  await sys.stop();
  return n / ((t1 - t0) / 1000);
}

// ---------- scenarios ----------
/**
 * Drain, compared fairly: a warm-up round per system (JIT, caches, schemas), then DRAIN_ROUNDS
 * interleaved rounds (ours, graphile, pg-boss, ours, …) on the same target; the median of each
 * system's rounds is reported with min–max, and ratios are of medians.
 */
async function scenarioDrain(adminUrl: string, target: Target) {
  const url = await freshDatabase(adminUrl, 'bench_drain');
  const systems = [ours(url, target.url), graphile(url, target.url), pgboss(url, target.url)];
  for (const s of systems) {
    log(`drain: warm-up ${s.name}…`);
    await drain(s, target, Math.min(N_DRAIN, 5000));
  }
  const rounds: Record<string, number[]> = Object.fromEntries(systems.map((s) => [s.name, []]));
  for (let r = 0; r < DRAIN_ROUNDS; r++) {
    for (const s of systems) {
      log(`drain: round ${r + 1}/${DRAIN_ROUNDS} ${s.name} ${N_DRAIN} jobs…`);
      rounds[s.name]!.push(await drain(s, target, N_DRAIN));
    }
  }
  const rates = Object.fromEntries(Object.entries(rounds).map(([k, v]) => [k, median(v)]));
  const o = rates['dist-job-scheduler']!;
  results.drain = {
    jobs: N_DRAIN,
    rounds,
    median_jobs_per_s: rates,
    ratio_vs_graphile: o / rates['graphile-worker']!,
    ratio_vs_pgboss: o / rates['pg-boss']!,
  };
  lines.push(
    `### 1. Drain (${N_DRAIN} due jobs → executed and recorded; median of ${DRAIN_ROUNDS} interleaved rounds after a warm-up)`,
    '',
    '| system | jobs/s (median) | min–max | ours ÷ it |',
    '| --- | ---: | ---: | ---: |',
  );
  for (const [k, v] of Object.entries(rates)) {
    const xs = rounds[k]!;
    lines.push(
      `| ${k} | ${v.toFixed(0)} | ${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} | ${(o / v).toFixed(2)}× |`,
    );
  }
  lines.push('');
}

type Lateness = { p50: number; p99: number; max: number; n: number };

/**
 * Enqueues `n` jobs due evenly over `spanMs`, starting `leadMs` from now, at a system already
 * running; waits for them at the target and returns their arrival lateness.
 */
async function fireSpread(s: System, target: Target, n: number, spanMs: number, leadMs: number) {
  await target.reset();
  const start = Date.now() + leadMs;
  await s.enqueue(Array.from({ length: n }, (_, i) => start + (i * spanMs) / n));
  const deadline = performance.now() + spanMs + 60_000;
  while ((await target.count()) < n && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 200));
  return (await target.stats()).lateness;
}

const latenessOf = (l: number[]): Lateness => ({
  p50: pct(l, 50),
  p99: pct(l, 99),
  max: Math.max(...l),
  n: l.length,
});

/** Rounds of lateness summarised: medians of p50 and p99, p99's spread, the worst of all, arrivals. */
const latenessRounds = (xs: Lateness[]) => ({
  p50: median(xs.map((x) => x.p50)),
  p99: median(xs.map((x) => x.p99)),
  p99_min: Math.min(...xs.map((x) => x.p99)),
  p99_max: Math.max(...xs.map((x) => x.p99)),
  max: Math.max(...xs.map((x) => x.max)),
  arrived: xs.map((x) => x.n),
});

/** Fires `n` jobs due evenly over `spanMs` at a system already running; returns arrival lateness. */
async function measurePrecision(s: System, target: Target, n: number, spanMs: number) {
  await s.reset();
  await s.enqueue([Date.now() + 3_600_000]); // installs schemas; one far-future job, never due
  await s.start(); // already running when the jobs are created
  const l = await fireSpread(s, target, n, spanMs, 2000);
  await s.stop();
  if (process.env.BENCH_TRACE) {
    const dec = Array.from({ length: 10 }, (_, k) => l.slice((k * l.length) / 10, ((k + 1) * l.length) / 10));
    log(`${s.name} lateness by decile (p50): ${dec.map((d) => f1(pct(d, 50))).join(' ')}`);
  }
  return latenessOf(l);
}

async function scenarioPrecision(adminUrl: string, target: Target) {
  const url = await freshDatabase(adminUrl, 'bench_precision');
  const systems = [ours(url, target.url), graphile(url, target.url), pgboss(url, target.url)];
  const rate = (n: number) => Math.round(n / (PRECISION_SPAN_MS / 1000));
  // Each system at the base rate, and ours again at four times it (the peers' polling would only add
  // its interval): a short warm-up each, then PRECISION_ROUNDS interleaved rounds; medians.
  const fast = N_PRECISION * 4;
  const cases = [
    ...systems.map((s) => ({ s, n: N_PRECISION, label: `${s.name} @ ${rate(N_PRECISION)}/s` })),
    { s: systems[0]!, n: fast, label: `${systems[0]!.name} @ ${rate(fast)}/s` },
  ];
  for (const s of systems) {
    log(`precision: warm-up ${s.name}…`);
    await measurePrecision(s, target, Math.round(N_PRECISION / 5), PRECISION_SPAN_MS / 5);
  }
  const rounds: Record<string, Lateness[]> = {};
  for (let r = 0; r < PRECISION_ROUNDS; r++) {
    for (const c of cases) {
      log(
        `precision: round ${r + 1}/${PRECISION_ROUNDS} ${c.label}, ${c.n} jobs over ${PRECISION_SPAN_MS} ms…`,
      );
      (rounds[c.label] ??= []).push(await measurePrecision(c.s, target, c.n, PRECISION_SPAN_MS));
    }
  }
  const table = Object.fromEntries(Object.entries(rounds).map(([k, xs]) => [k, latenessRounds(xs)]));
  results.precision = {
    span_ms: PRECISION_SPAN_MS,
    rounds: PRECISION_ROUNDS,
    lateness_ms: table,
    by_round: rounds,
  };
  lines.push(
    `### 2. Precision (jobs due evenly over ${PRECISION_SPAN_MS / 1000} s; lateness = arrival − fire time, ms; median of ${PRECISION_ROUNDS} interleaved rounds after a warm-up)`,
    '',
    '| system @ rate | p50 | p99 | p99 min–max | max | arrived per round |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const [k, v] of Object.entries(table))
    lines.push(
      `| ${k} | ${f1(v.p50)} | ${f1(v.p99)} | ${f1(v.p99_min)}–${f1(v.p99_max)} | ${f1(v.max)} | ${v.arrived.join(', ')} |`,
    );
  lines.push(
    '',
    'Peers poll at their fastest documented settings here (pg-boss 0.5 s, graphile-worker 0.5 s); ours sleeps until the next due job.',
    '',
  );
}

/** The compiled API server on a fresh database, and a session token for one user of it. */
async function startApiServer(adminUrl: string, dbName: string) {
  const url = await freshDatabase(adminUrl, dbName);
  const port = await freePort();
  const secret = Buffer.alloc(48, 5).toString('base64');
  const server = spawn(process.execPath, ['dist/cmd/server.js'], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: url,
      JWT_SECRET: secret,
      SECRETS_KEY: secret,
      PORT: String(port),
      // Its operations listener on any free loopback port: 9464 may be taken (npm run dev).
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      NODE_ENV: 'production',
      MAIL_TRANSPORT: 'log',
      JOB_MAX_ACTIVE_PER_USER: '10000000',
      JOB_CREATE_RATE_PER_MINUTE: '10000000',
      PG_POOL_MAX: '20',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const stop = async () => {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  };
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/healthz`)).ok) break;
      } catch {
        /* not up yet */
      }
      if (i > 200) throw new Error('server did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    const { SessionTokens } = await import('../src/auth/jwt.ts');
    const { upsertUserByEmail } = await import('../src/sql/users.ts');
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const user = await upsertUserByEmail(c, 'api-bench@example.com');
    await c.end();
    const token = (
      await new SessionTokens(
        Buffer.from(secret, 'base64'),
        'dist-job-scheduler',
        'dist-job-scheduler-api',
        3600,
      ).issue(user.id, 0)
    ).token;
    return { url, base, token, user, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function scenarioApi(adminUrl: string) {
  const { url, base, token, user, stop } = await startApiServer(adminUrl, 'bench_api');
  try {
    const body = JSON.stringify({
      request: { method: 'POST', url: 'https://example.com/hook', body: '{"a":1}' },
      delay_seconds: 86400,
    });
    // The same load with an API key instead of a session token: a backend's credential must not
    // cost throughput (its check is the same one query per request).
    const { generateApiKey } = await import('../src/auth/apiKeys.ts');
    const { insertApiKey } = await import('../src/sql/apiKeys.ts');
    const k = generateApiKey();
    const kc = new pg.Client({ connectionString: url });
    await kc.connect();
    await insertApiKey(kc, {
      userId: user.id,
      name: 'bench',
      scopes: ['jobs:write'],
      hash: k.hash,
      prefix: k.prefix,
      lastFour: k.lastFour,
      expiresAt: null,
    });
    await kc.end();
    // A warm-up run of each, then API_ROUNDS interleaved rounds (session, key, baseline, session, …),
    // each on an emptied table so that none runs against rows another one wrote; medians, min–max.
    const tc = new pg.Client({ connectionString: url });
    await tc.connect();
    // The baseline: bare Express + one INSERT per request, same Postgres, same load.
    const barePort = await freePort();
    const bare = fork(path.join(import.meta.dirname, 'bare-api.ts'), [], {
      execArgv: ['--import', 'tsx'],
      env: { PATH: process.env.PATH, DATABASE_URL: url, PORT: String(barePort) },
    });
    await new Promise((r) => bare.once('message', r));
    const variants = [
      ['session', token, base],
      ['api key', k.key, base],
      ['bare Express baseline', '', `http://127.0.0.1:${barePort}`],
    ] as const;
    const load = async (bearer: string, origin: string, seconds: number) => {
      await tc.query('TRUNCATE jobs, bare_jobs CASCADE');
      return autocannon({
        url: `${origin}/v1/jobs`,
        method: 'POST',
        connections: 50,
        duration: seconds,
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body,
      });
    };
    for (const [name, bearer, origin] of variants) {
      log(`api: warm-up ${name}…`);
      await load(bearer, origin, 3);
    }
    const runs: Record<string, autocannon.Result[]> = {};
    for (let round = 0; round < API_ROUNDS; round++) {
      for (const [name, bearer, origin] of variants) {
        log(`api: round ${round + 1}/${API_ROUNDS} ${name}, autocannon 50 connections, ${API_SECONDS} s…`);
        (runs[name] ??= []).push(await load(bearer, origin, API_SECONDS));
      }
    }
    // Batch creation: 4 clients posting batches of 1,000 jobs with the key, API_ROUNDS rounds.
    const batchBody = JSON.stringify({
      jobs: Array.from({ length: 1000 }, () => JSON.parse(body) as unknown),
    });
    const batchRates: number[] = [];
    let batchErrors = 0;
    for (let round = 0; round < API_ROUNDS; round++) {
      await tc.query('TRUNCATE jobs CASCADE');
      let created = 0;
      const until = performance.now() + API_SECONDS * 1000;
      const b0 = performance.now();
      log(`api: round ${round + 1}/${API_ROUNDS} batches of 1,000 jobs, 4 clients, ${API_SECONDS} s…`);
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (performance.now() < until) {
            const res = await fetch(`${base}/v1/jobs/batch`, {
              method: 'POST',
              headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' },
              body: batchBody,
            });
            await res.arrayBuffer();
            if (res.status === 201) created += 1000;
            else batchErrors++;
          }
        }),
      );
      batchRates.push(created / ((performance.now() - b0) / 1000));
    }
    await tc.end();
    bare.kill('SIGTERM');
    await new Promise((r) => bare.once('exit', r));
    const rps = (name: string) => median(runs[name]!.map((x) => x.requests.average));
    const p99 = (name: string) => median(runs[name]!.map((x) => x.latency.p99));
    const p50 = (name: string) => median(runs[name]!.map((x) => x.latency.p50));
    const range = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
    const bareRps = rps('bare Express baseline');
    results.api = {
      rounds: API_ROUNDS,
      seconds_per_round: API_SECONDS,
      ...Object.fromEntries(
        variants.map(([name]) => [
          name,
          {
            req_per_s_median: rps(name),
            req_per_s_rounds: runs[name]!.map((x) => x.requests.average),
            p50_ms_median: p50(name),
            p99_ms_median: p99(name),
            non_2xx: runs[name]!.reduce((n, x) => n + x.non2xx, 0),
          },
        ]),
      ),
      api_key_ratio_vs_session: rps('api key') / rps('session'),
      api_key_ratio_vs_bare: rps('api key') / bareRps,
      batch_jobs_per_s_median: median(batchRates),
      batch_jobs_per_s_rounds: batchRates,
      batch_errors: batchErrors,
    };
    lines.push(
      `### 3. API (POST /v1/jobs, autocannon, 50 connections; median of ${API_ROUNDS} interleaved rounds of ${API_SECONDS} s after a warm-up)`,
      '',
      '| credential | req/s (median) | min–max | p50 ms | p99 ms | ÷ bare baseline | non-2xx |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const [name] of variants)
      lines.push(
        `| ${name} | ${rps(name).toFixed(0)} | ${range(runs[name]!.map((x) => x.requests.average))} | ${p50(name)} | ${p99(name)} | ${(rps(name) / bareRps).toFixed(2)}× | ${runs[name]!.reduce((n, x) => n + x.non2xx, 0)} |`,
      );
    lines.push(
      '',
      `Batch creation (POST /v1/jobs/batch, 1,000 jobs each, 4 clients, API key): ${median(batchRates).toFixed(0)} jobs/s median (${range(batchRates)}), ${batchErrors} non-201`,
      '',
    );
  } finally {
    await stop();
  }
}

/**
 * Freeze: can one user's expensive requests hold up everyone's? /healthz is probed while 20 clients
 * (another process) send cron previews: cheap ones (a baseline), the hardening issue's reproduction
 * (`0 0 29 2 *\/7`, count 100: ~1.2 s of event loop each before the work was bounded), and valid ones
 * over decades that miss every cache. The bar: p99 under 200 ms.
 */
async function scenarioFreeze(adminUrl: string) {
  const { base, token, stop } = await startApiServer(adminUrl, 'bench_freeze');
  const { healthUnderLoad, heavyPreviewUrls } = await import('../test/helpers/eventLoopProbe.ts');
  try {
    const loads = [
      ['idle (no other clients)', [] as string[]],
      ['cheap previews (`* * * * *`, count 5)', [`${base}/v1/schedules/preview?cron=*+*+*+*+*`]],
      ['the reproduction (`0 0 29 2 */7`, count 100)', heavyPreviewUrls(base, 4000, 'repro')],
      ['uncached decades (4 kinds, random zones and years)', heavyPreviewUrls(base, 4000)],
    ] as const;
    const out: Record<string, unknown> = {};
    lines.push(
      `### Freeze (/healthz probed every 10 ms while 20 clients send previews, ${FREEZE_SECONDS} s each)`,
      '',
      '| load | previews answered | /healthz p50 ms | p99 ms | max ms | p99 < 200 ms |',
      '| --- | ---: | ---: | ---: | ---: | :---: |',
    );
    for (const [name, urls] of loads) {
      log(`freeze: ${name}…`);
      const r = await healthUnderLoad({
        base,
        auth: `Bearer ${token}`,
        urls: urls.length ? [...urls] : [`${base}/healthz`],
        clients: urls.length ? 20 : 0,
        durationMs: FREEZE_SECONDS * 1000,
      });
      out[name] = r;
      lines.push(
        `| ${name} | ${r.requests} (${Object.entries(r.statuses)
          .map(([k, v]) => `${v}× ${k}`)
          .join(
            ', ',
          )}) | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} | ${r.p99 < 200 ? 'yes' : '**no**'} |`,
      );
    }
    lines.push('');
    results.freeze = out;
  } finally {
    await stop();
  }
}

async function scenarioScale(adminUrl: string, target: Target) {
  // Two databases, one with N_SCALE_FINISHED finished jobs beside the drained ones, so that the two
  // settings can run in interleaved rounds like every other comparison.
  const urls = {
    empty: await freshDatabase(adminUrl, 'bench_scale'),
    full: await freshDatabase(adminUrl, 'bench_scale_full'),
  };
  const clients = { empty: new pg.Client(urls.empty), full: new pg.Client(urls.full) };
  const keep: Record<string, string> = {};
  for (const [k, c] of Object.entries(clients)) {
    await c.connect();
    const { rows } = await c.query(`INSERT INTO users (email) VALUES ('finished@example.com') RETURNING id`);
    keep[k] = rows[0].id as string;
  }
  log(`scale: inserting ${N_SCALE_FINISHED} finished jobs…`);
  await clients.full.query(
    `INSERT INTO jobs (user_id, method, url, fire_at, next_attempt_at, timeout_ms, retry_strategy, max_attempts, base_delay_ms, max_delay_ms, status, attempts, completed_at)
     SELECT $1, 'POST', 'https://example.com/', now() - interval '1 day', now() - interval '1 day', 10000, 'linear', 3, 100, 1000,
            CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'succeeded' END, 1, now() - interval '1 day'
       FROM generate_series(1, $2::int) g`,
    [keep.full, N_SCALE_FINISHED],
  );
  await clients.full.query('VACUUM ANALYZE jobs');
  const systems = { empty: ours(urls.empty, target.url), full: ours(urls.full, target.url) };
  // Deletes only the drained jobs of the last round: the finished ones stay.
  const drainBeside = async (k: 'empty' | 'full') => {
    await target.reset();
    await clients[k].query(`DELETE FROM jobs WHERE user_id <> $1`, [keep[k]]);
    const due = Date.now() - 1000;
    await systems[k].enqueue(Array.from({ length: N_DRAIN }, () => due));
    const t0 = performance.now();
    await systems[k].start();
    const rate = (N_DRAIN / ((await waitCompleted(systems[k], 600_000)) - t0)) * 1000;
    await systems[k].stop();
    return rate;
  };
  // Enqueues and watches; the drains themselves run in the spawned processes.
  const watcher = ours(urls.empty, target.url);
  const procs = async (k: number) => {
    await target.reset();
    const s = watcher;
    await s.reset();
    const due = Date.now() - 1000;
    await s.enqueue(Array.from({ length: N_DRAIN }, () => due));
    const children = Array.from({ length: k }, (_, i) =>
      spawn(process.execPath, schedulerArgs(), {
        env: schedulerEnv(urls.empty, { SCHEDULER_WORKER_ID: `bench-${i}` }),
        stdio: ['ignore', 'ignore', 'inherit'],
      }),
    );
    // Measured from the first request to the last completion, so process start-up is not counted.
    const startBy = performance.now() + 60_000;
    while ((await target.count()) === 0) {
      if (children.some((ch) => ch.exitCode !== null) || performance.now() > startBy)
        throw new Error('a scheduler process did not start');
      await new Promise((r) => setTimeout(r, 5));
    }
    const t0 = performance.now();
    const t1 = await waitCompleted(s, 600_000);
    for (const ch of children) ch.kill('SIGTERM');
    await Promise.all(children.map((ch) => new Promise((r) => ch.once('exit', r))));
    await s.stop();
    return N_DRAIN / ((t1 - t0) / 1000);
  };
  log('scale: warm-up…');
  await drainBeside('empty');
  await drainBeside('full');
  await procs(1);
  await procs(2);
  const rates = { empty: [] as number[], full: [] as number[], one: [] as number[], two: [] as number[] };
  for (let round = 0; round < SCALE_ROUNDS; round++) {
    log(
      `scale: round ${round + 1}/${SCALE_ROUNDS}: empty table, beside finished jobs, 1 process, 2 processes…`,
    );
    rates.empty.push(await drainBeside('empty'));
    rates.full.push(await drainBeside('full'));
    rates.one.push(await procs(1));
    rates.two.push(await procs(2));
  }
  for (const [k, c] of Object.entries(clients)) {
    await c.query(`DELETE FROM jobs WHERE user_id <> $1`, [keep[k]]);
    await c.end();
  }
  const m = Object.fromEntries(Object.entries(rates).map(([k, xs]) => [k, median(xs)])) as Record<
    keyof typeof rates,
    number
  >;
  results.scale = {
    rounds: SCALE_ROUNDS,
    finished_rows: N_SCALE_FINISHED,
    jobs_per_s_rounds: rates,
    jobs_per_s_median: m,
  };
  const span = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
  lines.push(
    `### 4. Scale (${N_DRAIN} jobs drained; median of ${SCALE_ROUNDS} interleaved rounds after a warm-up)`,
    '',
    '| setting | jobs/s (median) | min–max | ratio |',
    '| --- | ---: | ---: | ---: |',
    `| empty table | ${m.empty.toFixed(0)} | ${span(rates.empty)} | 1.00× |`,
    `| beside ${N_SCALE_FINISHED.toLocaleString('en')} finished jobs | ${m.full.toFixed(0)} | ${span(rates.full)} | ${(m.full / m.empty).toFixed(2)}× |`,
    `| 1 scheduler process (compiled) | ${m.one.toFixed(0)} | ${span(rates.one)} | 1.00× |`,
    `| 2 scheduler processes | ${m.two.toFixed(0)} | ${span(rates.two)} | ${(m.two / m.one).toFixed(2)}× |`,
    '',
  );
}

/**
 * Retention: drain N jobs beside N_RETENTION_OLD finished jobs (each with an execution row) that are
 * past retention, with the cleaner off and with it deleting them, in interleaved rounds; the medians
 * are compared. The cleaner runs at its default duty cycle, starting at once.
 */
async function scenarioRetention(adminUrl: string, target: Target) {
  const url = await freshDatabase(adminUrl, 'bench_retention');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const { rows } = await c.query(`INSERT INTO users (email) VALUES ('old@example.com') RETURNING id`);
  const oldUser = rows[0].id as string;
  log(`retention: inserting ${N_RETENTION_OLD} finished jobs and their executions, 30 days old…`);
  await c.query(
    `WITH j AS (
       INSERT INTO jobs (user_id, method, url, fire_at, next_attempt_at, timeout_ms, retry_strategy, max_attempts,
                         base_delay_ms, max_delay_ms, status, attempts, completed_at)
       SELECT $1, 'POST', 'https://example.com/', now() - interval '30 days', now() - interval '30 days', 10000,
              'linear', 3, 100, 1000, CASE WHEN g % 10 = 0 THEN 'cancelled' ELSE 'succeeded' END, 1,
              now() - interval '30 days'
         FROM generate_series(1, $2::int) g
       RETURNING id
     )
     INSERT INTO job_executions (job_id, attempt, outcome, status_code, finished_at, response_body)
     SELECT id, 1, 'succeeded', 200, now() - interval '30 days', 'ok' FROM j`,
    [oldUser, N_RETENTION_OLD],
  );
  await c.query('VACUUM ANALYZE jobs');
  await c.query('VACUUM ANALYZE job_executions');
  const oldLeft = async () =>
    Number((await c.query(`SELECT count(*) AS n FROM jobs WHERE user_id = $1`, [oldUser])).rows[0].n);
  const off = ours(url, target.url, {
    cleaner: { retentionDays: { succeeded: 0, failed: 0, cancelled: 0 } },
  });
  const on = ours(url, target.url, { cleaner: { intervalMs: 1000, random: () => 0 } });
  const round = async (sys: System) => {
    await target.reset();
    await c.query(`DELETE FROM jobs WHERE user_id <> $1`, [oldUser]);
    const due = Date.now() - 1000;
    await sys.enqueue(Array.from({ length: N_DRAIN }, () => due));
    const before = await oldLeft();
    const t0 = performance.now();
    await sys.start();
    const rate = (N_DRAIN / ((await waitCompleted(sys, 600_000)) - t0)) * 1000;
    await sys.stop();
    return { rate, deleted: before - (await oldLeft()) };
  };
  log('retention: warm-up…');
  await round(off);
  const rates = { off: [] as number[], on: [] as number[] };
  let deleted = 0;
  for (let i = 0; i < RETENTION_ROUNDS; i++) {
    log(`retention: round ${i + 1}/${RETENTION_ROUNDS}…`);
    rates.off.push((await round(off)).rate);
    const r = await round(on);
    rates.on.push(r.rate);
    deleted += r.deleted;
  }
  await c.query(`DELETE FROM jobs`);
  await c.end();
  const med = (xs: number[]) => pct(xs, 50);
  const ratio = med(rates.on) / med(rates.off);
  results.retention = {
    old_rows: N_RETENTION_OLD,
    drain_jobs_per_s: rates,
    deleted_during_drains: deleted,
    median_ratio_on_vs_off: ratio,
  };
  const span = (xs: number[]) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
  lines.push(
    `### 5. Retention (${N_DRAIN} jobs drained beside ${N_RETENTION_OLD.toLocaleString('en')} finished jobs past retention; median of ${RETENTION_ROUNDS} interleaved rounds)`,
    '',
    '| cleaner | jobs/s (median) | min–max |',
    '| --- | ---: | ---: |',
    `| off | ${med(rates.off).toFixed(0)} | ${span(rates.off)} |`,
    `| on (deleted ${deleted.toLocaleString('en')} old jobs during the drains) | ${med(rates.on).toFixed(0)} (${ratio >= 1 ? '+' : ''}${((ratio - 1) * 100).toFixed(1)}%) | ${span(rates.on)} |`,
    '',
  );
}

/**
 * Schedules: N schedules fire every minute on the minute. Measured per tick: the lateness of each
 * occurrence at the target (arrival − planned time), and how long after the tick every schedule's
 * next occurrence exists (each is planned in the transaction that claims the previous one).
 */
async function scenarioSchedules(adminUrl: string, target: Target) {
  const url = await freshDatabase(adminUrl, 'bench_schedules');
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const { rows } = await c.query(`INSERT INTO users (email) VALUES ('sched@example.com') RETURNING id`);
  await c.query(
    `INSERT INTO schedules (user_id, cron, timezone, method, url, timeout_ms, retry_strategy, max_attempts, base_delay_ms, max_delay_ms)
     SELECT $1, '* * * * *', 'UTC', 'POST', $2, 10000, 'exponential', 3, 1000, 60000 FROM generate_series(1, $3::int)`,
    [rows[0].id, target.url, N_SCHEDULES],
  );
  // The first occurrences: planned by the repair pass, as for any schedule without a plan.
  const { OccurrencePlanner } = await import('../src/scheduler/occurrences.ts');
  const { SchedulerEvents } = await import('../src/scheduler/events.ts');
  const { createPool } = await import('../src/db/pool.ts');
  const pool = createPool(url, { max: 4 });
  const t0 = performance.now();
  const { planned } = await new OccurrencePlanner(
    { pool, log: silentLogger, events: new SchedulerEvents() },
    { repairIntervalMs: 60_000, notifyWithinMs: 5000, maxActivePerUser: 100_000 },
  ).repairOnce();
  const initialMs = performance.now() - t0;
  await pool.end();
  await c.query('ANALYZE');
  const sys = ours(url, target.url);
  await target.reset();
  await sys.start();
  const ticks: { tick: string; lateness: { p50: number; p99: number; max: number }; nextReadyMs: number }[] =
    [];
  try {
    for (let k = 0; k < SCHEDULE_TICKS; k++) {
      // The next minute boundary, by the database clock.
      const { rows: b } = await c.query<{ tick: Date; ms: number }>(
        `SELECT date_trunc('minute', now()) + interval '1 minute' AS tick,
                extract(epoch FROM date_trunc('minute', now()) + interval '1 minute' - now()) * 1000 AS ms`,
      );
      const tick = b[0]!.tick;
      log(`schedules: ${N_SCHEDULES} due at ${tick.toISOString()} (in ${Math.round(b[0]!.ms / 1000)} s)…`);
      await target.reset();
      await new Promise((r) => setTimeout(r, Math.max(0, b[0]!.ms)));
      const start = performance.now();
      let nextReadyMs = NaN;
      for (;;) {
        const { rows: n } = await c.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM jobs WHERE scheduled_for = $1::timestamptz + interval '1 minute'`,
          [tick],
        );
        if (n[0]!.n >= N_SCHEDULES) {
          nextReadyMs = performance.now() - start;
          break;
        }
        if (performance.now() - start > 55_000) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      while ((await target.count()) < N_SCHEDULES && performance.now() - start < 55_000)
        await new Promise((r) => setTimeout(r, 100));
      const l = (await target.stats()).lateness;
      ticks.push({
        tick: tick.toISOString(),
        lateness: { p50: pct(l, 50), p99: pct(l, 99), max: Math.max(...l) },
        nextReadyMs,
      });
    }
  } finally {
    await sys.stop();
    await c.query(`DELETE FROM jobs`);
    await c.end();
  }
  results.schedules = { schedules: N_SCHEDULES, initial_plan_ms: initialMs, initial_planned: planned, ticks };
  lines.push(
    `### 6. Schedules (${N_SCHEDULES.toLocaleString('en')} schedules firing every minute on the minute)`,
    '',
    `First occurrences of all schedules planned in ${initialMs.toFixed(0)} ms (${planned} created).`,
    '',
    '| tick | lateness p50 ms | p99 ms | max ms | all next occurrences exist after (ms) |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...ticks.map(
      (x) =>
        `| ${x.tick} | ${f1(x.lateness.p50)} | ${f1(x.lateness.p99)} | ${f1(x.lateness.max)} | ${f1(x.nextReadyMs)} |`,
    ),
    '',
  );
}

async function scenarioMemory(adminUrl: string) {
  const url = await freshDatabase(adminUrl, 'bench_memory');
  const big = await startTarget('big');
  try {
    const s = ours(url, big.url);
    const due = Date.now() - 1000;
    log(`memory: ${N_MEMORY} jobs against a target answering 1 MiB…`);
    await s.enqueue(Array.from({ length: N_MEMORY }, () => due));
    // The compiled build, with the container's flags (tsx alone adds ~25 MB of RSS).
    const args = schedulerArgs();
    const child = spawn(process.execPath, args, {
      env: schedulerEnv(
        url,
        process.env.BENCH_SCHED_CONCURRENCY
          ? { SCHEDULER_CONCURRENCY: process.env.BENCH_SCHED_CONCURRENCY }
          : {},
      ),
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    const t0 = performance.now();
    let peak = 0;
    const status = () => fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const hwm = () => Number(/VmHWM:\s+(\d+)/.exec(status())?.[1] ?? 0) / 1024;
    for (;;) {
      peak = Math.max(peak, hwm());
      if ((await s.remaining()) <= 0) break;
      if (performance.now() - t0 > 900_000) throw new Error('memory scenario did not finish');
      await new Promise((r) => setTimeout(r, 250));
    }
    peak = Math.max(peak, hwm());
    const seconds = (performance.now() - t0) / 1000;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await s.stop();
    results.memory = {
      jobs: N_MEMORY,
      response_bytes: 1024 * 1024,
      node_flags: args.slice(0, -1),
      peak_rss_mb: peak,
      seconds,
    };
    lines.push(
      `### 7. Memory (${N_MEMORY.toLocaleString('en')} jobs, target answers 1 MiB; scheduler run as \`node ${args.join(' ')}\`)`,
      '',
      '| peak RSS (MB) | drain time (s) |',
      '| ---: | ---: |',
      `| ${peak.toFixed(0)} | ${seconds.toFixed(1)} |`,
      '',
    );
  } finally {
    big.child.kill();
  }
}

/**
 * A noisy tenant: user A sits at the per-user in-flight cap (its target accepts connections and never
 * answers) with N_TENANT_BACKLOG more jobs due. User B's jobs, due evenly, should fire as precisely as
 * when A has nothing. Interleaved rounds without and with A's backlog; B's lateness at the target.
 */
async function scenarioTenant(adminUrl: string, target: Target) {
  const url = await freshDatabase(adminUrl, 'bench_tenant');
  const sockets = new Set<net.Socket>();
  const hang = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
  const hangUrl = `http://127.0.0.1:${(hang.address() as net.AddressInfo).port}/hang`;
  const cap = 100;
  const n = N_PRECISION / 5;
  const spanMs = PRECISION_SPAN_MS / 2;
  const s = ours(url, target.url, { perUserCap: cap });
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const noisy = (await c.query(`INSERT INTO users (email) VALUES ('noisy@example.com') RETURNING id`)).rows[0]
    .id as string;
  const round = async (backlog: number) => {
    await s.reset();
    await s.enqueue([Date.now() + 3_600_000]); // B's user exists; one far-future job, never due
    if (backlog)
      await c.query(
        `INSERT INTO jobs (user_id, method, url, fire_at, next_attempt_at, timeout_ms, retry_strategy, max_attempts,
                           base_delay_ms, max_delay_ms)
         SELECT $1, 'POST', $2, now() - interval '1 s', now() - interval '1 s', 600000, 'linear', 3, 1000, 1000
           FROM generate_series(1, $3::int)`,
        [noisy, hangUrl, backlog],
      );
    await c.query('ANALYZE jobs');
    await s.start();
    if (backlog) {
      // A at the cap: its requests hang, the rest of its backlog stays due.
      const by = performance.now() + 30_000;
      while (
        Number(
          (await c.query(`SELECT count(*) AS n FROM jobs WHERE user_id = $1 AND status = 'running'`, [noisy]))
            .rows[0].n,
        ) < cap
      ) {
        if (performance.now() > by) throw new Error('the noisy tenant did not reach its cap');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const l = await fireSpread(s, target, n, spanMs, 1000);
    await s.stop();
    return latenessOf(l);
  };
  log('tenant: warm-up…');
  await round(0);
  await round(N_TENANT_BACKLOG);
  const rounds = {
    alone: [] as Lateness[],
    noisy: [] as Lateness[],
  };
  for (let r = 0; r < TENANT_ROUNDS; r++) {
    log(
      `tenant: round ${r + 1}/${TENANT_ROUNDS}: B alone, then beside A's ${N_TENANT_BACKLOG} due jobs at the cap…`,
    );
    rounds.alone.push(await round(0));
    rounds.noisy.push(await round(N_TENANT_BACKLOG));
  }
  await c.query('DELETE FROM jobs');
  await c.end();
  for (const sock of sockets) sock.destroy();
  await new Promise((r) => hang.close(r));
  const table = { alone: latenessRounds(rounds.alone), noisy: latenessRounds(rounds.noisy) };
  results.tenant = {
    backlog: N_TENANT_BACKLOG,
    cap,
    jobs: n,
    span_ms: spanMs,
    lateness_ms: table,
    by_round: rounds,
  };
  lines.push(
    `### 8. Noisy tenant (user B: ${n} jobs due over ${spanMs / 1000} s; user A at its in-flight cap of ${cap}, target never answering; median of ${TENANT_ROUNDS} interleaved rounds)`,
    '',
    '| B fires | p50 ms (median) | p99 ms (median) | p99 min–max | max of all rounds | arrived per round |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    `| alone | ${f1(table.alone.p50)} | ${f1(table.alone.p99)} | ${f1(table.alone.p99_min)}–${f1(table.alone.p99_max)} | ${f1(table.alone.max)} | ${table.alone.arrived.join(', ')} |`,
    `| beside A's ${N_TENANT_BACKLOG.toLocaleString('en')} due jobs | ${f1(table.noisy.p50)} | ${f1(table.noisy.p99)} | ${f1(table.noisy.p99_min)}–${f1(table.noisy.p99_max)} | ${f1(table.noisy.max)} | ${table.noisy.arrived.join(', ')} |`,
    '',
  );
}

// ---------- main ----------
async function main() {
  // Scheduler processes in the scale and memory scenarios run the compiled build.
  execSync('npm run build', { stdio: 'ignore' });
  let embedded: ScratchPostgres | undefined;
  let adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!adminUrl) {
    embedded = await startScratchPostgres({ prefix: 'djs-bench-' });
    adminUrl = embedded.url;
  }
  results.postgres = adminUrl.replace(/:[^:@/]*@/, ':***@');
  const target = await startTarget('small');
  const m = results.machine as { cpus: number; cpu: string; memory_gib: number; node: string };
  console.log(`## Benchmark — ${m.cpus} cores (${m.cpu}), ${m.memory_gib} GiB, Node ${m.node}\n`);
  // What is compared, exactly: the peers' and our hot-path libraries, and the database.
  const versionOf = (pkg: string) =>
    (
      JSON.parse(fs.readFileSync(path.join('node_modules', pkg, 'package.json'), 'utf8')) as {
        version: string;
      }
    ).version;
  const pgc = new pg.Client({ connectionString: adminUrl });
  await pgc.connect();
  const serverVersion = (await pgc.query<{ v: string }>("SELECT current_setting('server_version') AS v"))
    .rows[0]!.v;
  await pgc.end();
  results.versions = {
    postgres: serverVersion,
    'graphile-worker': versionOf('graphile-worker'),
    'pg-boss': versionOf('pg-boss'),
    undici: versionOf('undici'),
    pg: versionOf('pg'),
  };
  console.log(
    `Versions: ${Object.entries(results.versions as Record<string, string>)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}; drain and precision run ours in this process through tsx, the peers from node_modules\n`,
  );
  // Each section is printed as soon as it is measured, so a failure later keeps what was done.
  const section = async (name: string, fn: () => Promise<void>) => {
    if (!ONLY.has(name)) return;
    const from = lines.length;
    await fn();
    console.log(lines.slice(from).join('\n'));
  };
  try {
    await section('drain', () => scenarioDrain(adminUrl, target));
    await section('precision', () => scenarioPrecision(adminUrl, target));
    await section('api', () => scenarioApi(adminUrl));
    await section('freeze', () => scenarioFreeze(adminUrl));
    await section('scale', () => scenarioScale(adminUrl, target));
    await section('retention', () => scenarioRetention(adminUrl, target));
    await section('schedules', () => scenarioSchedules(adminUrl, target));
    await section('memory', () => scenarioMemory(adminUrl));
    await section('tenant', () => scenarioTenant(adminUrl, target));
  } finally {
    target.child.kill();
    await embedded?.destroy();
  }
  fs.mkdirSync('bench/results', { recursive: true });
  const file = `bench/results/${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
  fs.writeFileSync(file, JSON.stringify(results, null, 2));
  console.log(`\nJSON: ${file}`);
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
