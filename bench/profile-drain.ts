// Profiling aid: drains N jobs with our scheduler in this process and prints the rate and the CPU
// seconds spent by this process, by Postgres and by the target, to see where a job's cost goes.
//   N=20000 BENCH_DATABASE_URL=postgres://… npx tsx bench/profile-drain.ts
//   node --cpu-prof --import tsx bench/profile-drain.ts   (then open the .cpuprofile)
import fs from 'node:fs';
import { execSync, fork } from 'node:child_process';
import pg from 'pg';
import { migrateUp } from '../src/db/migrate.ts';
import { withDatabase } from '../src/db/embedded.ts';
import { silentLogger } from '../src/logger.ts';
import { ours } from './systems.ts';

const admin = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const N = Number(process.env.N ?? 20000);
const c = new pg.Client(admin);
await c.connect();
await c.query('DROP DATABASE IF EXISTS djs_profile WITH (FORCE)');
await c.query('CREATE DATABASE djs_profile');
await c.end();
const url = withDatabase(admin, 'djs_profile');
await migrateUp(url, silentLogger);
const child = fork(new URL('./target.ts', import.meta.url).pathname, ['small'], {
  execArgv: ['--import', 'tsx'],
});
const port = await new Promise<number>((r) => child.once('message', (m: { port: number }) => r(m.port)));
const ticks = (pid: string) => {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
};
const pgCpu = () =>
  execSync('pgrep postgres || true')
    .toString()
    .trim()
    .split('\n')
    .filter(Boolean)
    .reduce((t, pid) => t + ticks(pid), 0);
const s = ours(url, `http://127.0.0.1:${port}/hook`);
await s.enqueue(Array.from({ length: N }, () => Date.now() - 1000));
const pg0 = pgCpu();
const me0 = process.cpuUsage();
const target0 = ticks(String(child.pid));
const t0 = performance.now();
await s.start();
while ((await s.remaining()) > 0) await new Promise((r) => setTimeout(r, 25));
const secs = (performance.now() - t0) / 1000;
const me = process.cpuUsage(me0);
console.log(
  `rate ${(N / secs).toFixed(0)}/s wall ${secs.toFixed(2)}s node ${((me.user + me.system) / 1e6).toFixed(2)}s ` +
    `pg ${(pgCpu() - pg0).toFixed(2)}s target ${(ticks(String(child.pid)) - target0).toFixed(2)}s`,
);
await s.stop();
child.kill();
process.exit(0);
