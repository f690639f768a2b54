// CPU split per request: API server process vs Postgres backends vs the load generator.
import { spawn, execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import autocannon from 'autocannon';
const root = '/work/main';
const url = 'postgres://postgres@127.0.0.1:5432/prof_api';
const secret = Buffer.alloc(48, 5).toString('base64');
const ticks = (pid) => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); };
const pgPids = () => execSync(`pgrep -f "postgres:" || true`).toString().trim().split('\n').filter(Boolean).map(Number);
const pgTicks = () => pgPids().reduce((s, p) => { try { return s + ticks(p); } catch { return s; } }, 0);
const mode = process.argv[2] ?? 'ours';
let proc;
let target;
if (mode === 'ours') {
  proc = spawn(process.execPath, ['dist/cmd/server.js'], { cwd: root, env: { PATH: process.env.PATH, DATABASE_URL: url, JWT_SECRET: secret, SECRETS_KEY: secret, PORT: '3557', LOG_LEVEL: 'warn', NODE_ENV: 'production', MAIL_TRANSPORT: 'log', JOB_MAX_ACTIVE_PER_USER: '10000000', JOB_CREATE_RATE_PER_MINUTE: '10000000', PG_POOL_MAX: '20' }, stdio: ['ignore', 'ignore', 'inherit'] });
  for (;;) { try { if ((await fetch('http://127.0.0.1:3557/healthz')).ok) break; } catch {} await new Promise((r) => setTimeout(r, 100)); }
  target = 'http://127.0.0.1:3557';
} else {
  proc = spawn(process.execPath, ['--import', 'tsx', 'bench/bare-api.ts'], { cwd: root, env: { PATH: process.env.PATH, DATABASE_URL: url, PORT: '3558' }, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise((r) => proc.once('message', r));
  target = 'http://127.0.0.1:3558';
}
const { generateApiKey } = await import(path.join(root, 'dist/src/auth/apiKeys.js'));
const { insertApiKey } = await import(path.join(root, 'dist/src/sql/apiKeys.js'));
const kc = new pg.Client(url); await kc.connect();
const { rows: [u] } = await kc.query(`SELECT id FROM users LIMIT 1`);
const k = generateApiKey();
await insertApiKey(kc, { userId: u.id, name: 'b', scopes: ['jobs:write'], hash: k.hash, prefix: k.prefix, lastFour: k.lastFour, expiresAt: null });
await kc.end();
const body = JSON.stringify({ request: { method: 'POST', url: 'https://example.com/hook', body: '{"a":1}' }, delay_seconds: 86400 });
const a0 = ticks(proc.pid), p0 = pgTicks(), s0 = process.cpuUsage();
const res = await autocannon({ url: `${target}/v1/jobs`, method: 'POST', connections: 50, amount: 12000, headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' }, body });
const n = res.requests.total;
const a = (ticks(proc.pid) - a0) * 10000 / n, p = (pgTicks() - p0) * 10000 / n; const s1 = process.cpuUsage(s0); const l = (s1.user + s1.system) / n;
console.log(`${mode}: ${res.requests.average} req/s; CPU µs per request: api ${a.toFixed(0)}, postgres ${p.toFixed(0)}, loadgen ${l.toFixed(0)}`);
proc.kill('SIGTERM');
