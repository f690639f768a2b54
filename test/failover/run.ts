// `npm run verify:failover`: a real PostgreSQL failover under load (test/failover/cluster.ts: etcd,
// two Patroni-managed PostgreSQL 15 nodes, HAProxy's read-write port). The API server and two
// scheduler processes connect through HAProxy, as they would through CloudNativePG's `-rw` Service.
// A client creates jobs at a steady rate (each due 1–3 s later, to a loopback receiver) and records
// every answer; meanwhile the primary is killed (-9, Patroni and Postgres), the old primary comes
// back as a standby (pg_rewind), and a planned switchover follows. Then it checks, and prints:
// - every job acknowledged with 201 exists and reached a final state, and fired at least once;
// - repeats: each carries the job's one webhook-id (counted, bounded);
// - no process exited; the API answered 503 with Retry-After while no primary was reachable, never
//   500, never past the client's 20 s patience;
// - recovery: kill → first 201, kill → first fire of a job due after the kill (RTO), the write gap
//   of the switchover, fire lateness p99 before and after.
// Once with synchronous replication (the guarantee: nothing acknowledged is lost) and once
// asynchronous (reported: what an acknowledged-but-unreplicated commit costs). Exit code 1 when a
// guarantee fails. FAILOVER_MODES=sync or async runs one.
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Cluster, missingPrerequisites } from './cluster.ts';
import { spawnScheduler, type SchedulerProcess } from '../helpers/processes.ts';
import { TEST_JWT_SECRET, TEST_SECRETS_KEY, testConfig } from '../helpers/app.ts';
import { migrateUp } from '../../src/db/migrate.ts';
import { silentLogger } from '../../src/logger.ts';
import { SessionTokens } from '../../src/auth/jwt.ts';
import { upsertUserByEmail } from '../../src/sql/users.ts';

const RATE_PER_S = 40;
const CLIENT_PATIENCE_MS = 20_000;
const SCHEDULER_CONCURRENCY = 50;
const STEADY_MS = 12_000;
const STANDBY_BEHIND_MS = 1_000;

interface Answer {
  seq: number;
  sentAt: number;
  doneAt: number;
  status: number; // 0: no answer within CLIENT_PATIENCE_MS or connection error
  retryAfter: boolean;
  id?: string;
  fireAt?: number;
  code?: string;
}
interface Hit {
  at: number;
  webhookId: string;
  seq: number;
}

const p99 = (xs: number[]) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.99) - 1)]!;
};
const fmt = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'n/a');

function spawnServer(
  url: string,
  port: number,
  env: Record<string, string>,
): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cmd/server.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'test',
      LOG_LEVEL: 'warn',
      DATABASE_URL: url,
      JWT_SECRET: TEST_JWT_SECRET,
      SECRETS_KEY: TEST_SECRETS_KEY,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: '0',
      METRICS_HOST: '127.0.0.1',
      TARGET_ALLOWLIST: '127.0.0.0/8',
      JOB_CREATE_RATE_PER_MINUTE: '1000000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-30_000)));
  child.stderr.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-30_000)));
  return { child, output: () => out };
}

/** The primary's view of its standby: bytes not yet flushed there, and its replay lag. */
async function replicationLag(port: number): Promise<string> {
  const c = new pg.Client(`postgres://postgres@127.0.0.1:${port}/postgres`);
  try {
    await c.connect();
    const { rows } = await c.query<{ sync_state: string; unflushed: string; replay_lag: string | null }>(
      `SELECT sync_state, pg_wal_lsn_diff(pg_current_wal_lsn(), flush_lsn)::bigint AS unflushed,
              replay_lag::text FROM pg_stat_replication`,
    );
    return (
      rows
        .map(
          (r) =>
            `${r.sync_state} standby, ${r.unflushed} bytes not flushed, replay lag ${r.replay_lag ?? '0'}`,
        )
        .join('; ') || 'no standby connected'
    );
  } catch (err) {
    return `unknown (${(err as Error).message})`;
  } finally {
    await c.end().catch(() => undefined);
  }
}

interface ModeResult {
  mode: string;
  ok: boolean;
  lines: string[];
}

async function runMode(synchronous: boolean, basePort: number): Promise<ModeResult> {
  const mode = synchronous ? 'synchronous' : 'asynchronous';
  const lines: string[] = [];
  const say = (s: string) => {
    lines.push(s);
    console.log(`[failover ${mode}] ${s}`);
  };
  const problems: string[] = [];
  const cluster = new Cluster({
    dir: `/tmp/djs-failover-${process.pid}-${mode}`,
    synchronous,
    basePort,
    log: say,
  });
  const t0 = Date.now();
  await cluster.start();
  say(
    `cluster up in ${fmt(Date.now() - t0)}: ${JSON.stringify((await cluster.members()).map((m) => [m.name, m.role]))}`,
  );

  const admin = new pg.Client(cluster.url('postgres'));
  await admin.connect();
  await admin.query('CREATE DATABASE djs');
  await admin.end();
  const url = cluster.url('djs');
  await migrateUp(url, silentLogger);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const user = await upsertUserByEmail(pool, 'failover@example.com');
  const config = testConfig(url);
  const tokens = new SessionTokens(config.JWT_SECRET, config.JWT_ISSUER, config.JWT_AUDIENCE, 86_400);
  const auth = `Bearer ${(await tokens.issue(user.id, user.token_version)).token}`;

  // The receiver: every delivery with its webhook-id and the client's sequence number.
  const hits: Hit[] = [];
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hits.push({ at: Date.now(), webhookId: String(req.headers['webhook-id']), seq: JSON.parse(body).seq });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const target = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;

  const apiPort = basePort + 50;
  const server = spawnServer(url, apiPort, {});
  const schedulers: SchedulerProcess[] = ['a', 'b'].map((w) =>
    spawnScheduler(url, `failover-${mode}-${w}`, { SCHEDULER_CONCURRENCY: String(SCHEDULER_CONCURRENCY) }),
  );
  const api = `http://127.0.0.1:${apiPort}`;
  await cluster.waitFor(
    async () => ((await fetch(`${api}/readyz`).catch(() => null))?.ok ? true : null),
    'the API ready',
    60_000,
  );

  // The client: RATE_PER_S creates a second, each answer recorded.
  const answers: Answer[] = [];
  let seq = 0;
  let loading = true;
  const inFlight = new Set<Promise<void>>();
  const create = async () => {
    const n = seq++;
    const sentAt = Date.now();
    const fireAt = new Date(sentAt + 1000 + Math.floor(Math.random() * 2000)).toISOString();
    const a: Answer = { seq: n, sentAt, doneAt: 0, status: 0, retryAfter: false };
    try {
      const r = await fetch(`${api}/v1/jobs`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: `f${n}`,
          request: { method: 'POST', url: target, body: JSON.stringify({ seq: n }) },
          fire_at: fireAt,
          timeout_ms: 5000,
          retry: { strategy: 'linear', max_attempts: 10, base_delay_ms: 500, max_delay_ms: 2000 },
        }),
        signal: AbortSignal.timeout(CLIENT_PATIENCE_MS),
      });
      a.status = r.status;
      a.retryAfter = r.headers.has('retry-after');
      const body = (await r.json()) as { id?: string; fire_at?: string; error?: { code: string } };
      if (r.status === 201) {
        a.id = body.id;
        a.fireAt = Date.parse(body.fire_at!);
      } else a.code = body.error?.code;
    } catch {
      a.status = 0;
    }
    a.doneAt = Date.now();
    answers.push(a);
  };
  const loader = (async () => {
    const start = Date.now();
    for (let i = 0; loading; i++) {
      const p = create();
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      const next = start + ((i + 1) * 1000) / RATE_PER_S;
      await sleep(Math.max(0, next - Date.now()));
    }
  })();

  // Phase 1: steady.
  await sleep(STEADY_MS);
  const old = (await cluster.leader())!;
  const other = cluster.nodes.find((n) => n !== old)!;
  // On loopback a standby is never behind; over a network it is, by the round trip and more. So the
  // primary's WAL sender is stopped STANDBY_BEHIND_MS before the kill: the primary then dies holding
  // commits its standby never received. Synchronous replication holds those commits' answers until
  // the standby has them (the client gets 503, not 201); asynchronous replication acknowledges them,
  // and they are what a failover loses.
  const sender = cluster.pauseWalSender(old);
  await sleep(STANDBY_BEHIND_MS);
  const lag = await replicationLag(old.pgPort);
  say(`replication at the kill: ${lag} (the primary's WAL sender stopped ${STANDBY_BEHIND_MS} ms before)`);
  const tKill = Date.now();
  say(`kill -9 of the primary ${old.name} (Patroni and PostgreSQL)`);
  cluster.killNode(old);
  sender.resume(); // killed with its node; resumed in case it outlived it
  await cluster.waitFor(
    async () => ((await cluster.leader())?.name === other.name ? true : null),
    'promotion',
    60_000,
  );
  const tPromoted = Date.now();
  say(`${other.name} promoted after ${fmt(tPromoted - tKill)}`);
  await cluster.waitFor(
    () => Promise.resolve(answers.some((a) => a.status === 201 && a.sentAt > tKill) ? true : null),
    'a create acknowledged after the kill',
    60_000,
  );
  await sleep(5000);
  // The old primary comes back: Patroni rewinds it (pg_rewind) and it follows the new one.
  const tRejoin = Date.now();
  cluster.startNode(old);
  await cluster.waitStandby(old);
  say(`${old.name} back as a standby after ${fmt(Date.now() - tRejoin)} (pg_rewind)`);
  await sleep(5000);
  const tSwitch = Date.now();
  cluster.switchover(other, old);
  await cluster.waitFor(
    async () => ((await cluster.leader())?.name === old.name ? true : null),
    'switchover',
    60_000,
  );
  say(`switchover ${other.name} → ${old.name}: patronictl returned after ${fmt(Date.now() - tSwitch)}`);
  await cluster.waitStandby(other);
  const tSteadyAgain = Date.now() + 3000;
  await sleep(STEADY_MS);
  loading = false;
  await loader;
  await Promise.all([...inFlight]);

  // Drain: every acknowledged job to a final state (a result lost with a primary comes back through
  // its lease's expiry and the reaper: 30 s).
  const acked = answers.filter((a) => a.status === 201);
  const ids = acked.map((a) => a.id!);
  let states = new Map<string, string>();
  const drainUntil = Date.now() + 120_000;
  while (Date.now() < drainUntil) {
    try {
      const { rows } = await pool.query<{ id: string; status: string }>(
        'SELECT id, status FROM jobs WHERE id = ANY($1::uuid[])',
        [ids],
      );
      states = new Map(rows.map((r) => [r.id, r.status]));
      // Lost jobs (asynchronous replication) never appear: wait for the ones that exist.
      if ([...states.values()].every((s) => s === 'succeeded' || s === 'failed')) break;
    } catch {
      // A moment without a primary; ask again.
    }
    await sleep(1000);
  }

  // Verdicts.
  const lost = ids.filter((id) => !states.has(id));
  const notFinal = ids.filter((id) => states.has(id) && !['succeeded', 'failed'].includes(states.get(id)!));
  const failed = ids.filter((id) => states.get(id) === 'failed');
  const hitsBySeq = new Map<number, Hit[]>();
  for (const h of hits) hitsBySeq.set(h.seq, [...(hitsBySeq.get(h.seq) ?? []), h]);
  const ackedSeqs = new Set(acked.map((a) => a.seq));
  const neverFired = acked.filter((a) => states.has(a.id!) && !hitsBySeq.has(a.seq));
  const repeats = [...hitsBySeq.values()].reduce((n, hs) => n + hs.length - 1, 0);
  const idMismatch = [...hitsBySeq.entries()].filter(
    ([s, hs]) =>
      new Set(hs.map((h) => h.webhookId)).size !== 1 ||
      (ackedSeqs.has(s) && hs[0]!.webhookId !== acked.find((a) => a.seq === s)!.id),
  );
  const byStatus = new Map<number, number>();
  for (const a of answers) byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
  const errors500 = answers.filter((a) => a.status >= 500 && a.status !== 503);
  const no503RetryAfter = answers.filter((a) => a.status === 503 && !a.retryAfter);
  const hangs = answers.filter((a) => a.status === 0);
  const slowest = Math.max(...answers.map((a) => a.doneAt - a.sentAt));
  const firstCreate = acked.filter((a) => a.sentAt > tKill).map((a) => a.doneAt);
  const rtoCreate = Math.min(...firstCreate) - tKill;
  const fireAtOf = new Map(acked.map((a) => [a.seq, a.fireAt!]));
  const firstFire = hits.filter((h) => (fireAtOf.get(h.seq) ?? 0) > tKill).map((h) => h.at);
  const rtoFire = Math.min(...firstFire) - tKill;
  // The switchover's write gap: the longest stretch without a 201 answer around it.
  const done201 = acked.map((a) => a.doneAt).sort((a, b) => a - b);
  let switchGap = 0;
  for (let i = 1; i < done201.length; i++)
    if (done201[i]! > tSwitch - 2000 && done201[i - 1]! < tSwitch + 30_000)
      switchGap = Math.max(switchGap, done201[i]! - done201[i - 1]!);
  const lateness = (from: number, to: number) =>
    hits
      .filter((h) => {
        const f = fireAtOf.get(h.seq);
        return f !== undefined && f >= from && f < to && hitsBySeq.get(h.seq)![0] === h;
      })
      .map((h) => h.at - fireAtOf.get(h.seq)!);
  const before = lateness(t0, tKill - 1000);
  const after = lateness(tSteadyAgain, Date.now());
  const exited = [
    ['server', server.child.exitCode],
    ...schedulers.map((s) => [s.workerId, s.child.exitCode] as const),
  ].filter(([, c]) => c !== null);

  say(
    `creates ${answers.length}: ${JSON.stringify(Object.fromEntries([...byStatus].sort()))} (0 = no answer within ${CLIENT_PATIENCE_MS / 1000} s); slowest answer ${fmt(slowest)}`,
  );
  say(
    `acknowledged ${acked.length}: lost ${lost.length}, not final ${notFinal.length}, failed ${failed.length}, never fired ${neverFired.length}`,
  );
  say(
    `deliveries ${hits.length}: repeats ${repeats} (bound ${2 * 2 * SCHEDULER_CONCURRENCY}: in flight at two failovers), every repeat with its job's webhook-id: ${idMismatch.length === 0}`,
  );
  say(
    `RTO: kill → promotion ${fmt(tPromoted - tKill)}, → first 201 ${fmt(rtoCreate)}, → first fire of a job due after the kill ${fmt(rtoFire)}; switchover write gap ${fmt(switchGap)}`,
  );
  say(
    `fire lateness p99: before ${before.length ? `${p99(before)} ms` : 'n/a'} (${before.length} jobs), after recovery ${after.length ? `${p99(after)} ms` : 'n/a'} (${after.length} jobs)`,
  );
  say(`processes exited: ${exited.length ? JSON.stringify(exited) : 'none'}`);

  if (synchronous && lost.length) problems.push(`${lost.length} acknowledged jobs lost`);
  if (notFinal.length) problems.push(`${notFinal.length} acknowledged jobs not final after the drain`);
  if (neverFired.length) problems.push(`${neverFired.length} acknowledged jobs never fired`);
  if (idMismatch.length) problems.push(`${idMismatch.length} jobs delivered under more than one webhook-id`);
  if (repeats > 2 * 2 * SCHEDULER_CONCURRENCY) problems.push(`${repeats} repeats, above the bound`);
  if (errors500.length)
    problems.push(`${errors500.length} answers 5xx other than 503: ${JSON.stringify(errors500.slice(0, 3))}`);
  if (no503RetryAfter.length) problems.push(`${no503RetryAfter.length} answers 503 without Retry-After`);
  if (hangs.length)
    problems.push(`${hangs.length} creates without an answer within ${CLIENT_PATIENCE_MS / 1000} s`);
  if (exited.length) problems.push(`processes exited: ${JSON.stringify(exited)}`);
  if (!Number.isFinite(rtoFire)) problems.push('no job due after the kill fired');
  if (after.length && p99(after) > 1000)
    problems.push(`fire lateness p99 after recovery ${p99(after)} ms (> 1 s)`);
  for (const p of problems) say(`FAILED: ${p}`);
  if (problems.length) {
    say(`server output:\n${server.output().slice(-3000)}`);
    for (const s of schedulers) say(`${s.workerId} output:\n${s.output().slice(-3000)}`);
  }

  server.child.kill('SIGTERM');
  for (const s of schedulers) s.child.kill('SIGTERM');
  await Promise.all([
    new Promise((r) => (server.child.exitCode !== null ? r(null) : server.child.once('exit', r))),
    ...schedulers.map((s) => s.exited),
  ]);
  await pool.end().catch(() => undefined);
  receiver.close();
  await cluster.stop();
  return { mode, ok: problems.length === 0, lines };
}

async function main() {
  const missing = missingPrerequisites();
  if (missing) {
    console.error(`verify:failover cannot run: ${missing}`);
    process.exit(2);
  }
  const modes = (process.env.FAILOVER_MODES ?? 'sync,async').split(',').map((m) => m.trim());
  const results: ModeResult[] = [];
  let port = 24100;
  for (const m of modes) {
    results.push(await runMode(m === 'sync', port));
    port += 100;
  }
  console.log('\n[failover] summary');
  for (const r of results) console.log(`  ${r.mode}: ${r.ok ? 'passed' : 'FAILED'}`);
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}

await main();
