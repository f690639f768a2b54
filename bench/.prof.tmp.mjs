// Profiles the API server under autocannon load (API key, POST /v1/jobs), prints top self-time.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import autocannon from 'autocannon';
const root = '/work/main';
const admin = 'postgres://postgres@127.0.0.1:5432/postgres';
const db = 'prof_api';
const c = new pg.Client(admin); await c.connect();
await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`); await c.query(`CREATE DATABASE ${db}`); await c.end();
const url = `postgres://postgres@127.0.0.1:5432/${db}`;
await new Promise((r, j) => spawn(process.execPath, ['dist/cmd/migrate.js', 'up'], { cwd: root, env: { ...process.env, DATABASE_URL: url }, stdio: 'ignore' }).on('exit', (code) => (code ? j(code) : r())));
const secret = Buffer.alloc(48, 5).toString('base64');
const profDir = '/tmp/prof/out'; fs.rmSync(profDir, { recursive: true, force: true }); fs.mkdirSync(profDir);
const prof = process.argv.includes('--prof');
const server = spawn(process.execPath, [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), 'dist/cmd/server.js'], {
  cwd: root,
  env: { PATH: process.env.PATH, DATABASE_URL: url, JWT_SECRET: secret, SECRETS_KEY: secret, PORT: '3555', LOG_LEVEL: 'warn', NODE_ENV: 'production', MAIL_TRANSPORT: 'log', JOB_MAX_ACTIVE_PER_USER: '10000000', JOB_CREATE_RATE_PER_MINUTE: '10000000', PG_POOL_MAX: '20' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
for (let i = 0; ; i++) { try { if ((await fetch('http://127.0.0.1:3555/healthz')).ok) break; } catch {} await new Promise((r) => setTimeout(r, 100)); }
const { generateApiKey } = await import(path.join(root, 'dist/src/auth/apiKeys.js'));
const { insertApiKey } = await import(path.join(root, 'dist/src/sql/apiKeys.js'));
const { upsertUserByEmail } = await import(path.join(root, 'dist/src/sql/users.js'));
const kc = new pg.Client(url); await kc.connect();
const user = await upsertUserByEmail(kc, 'p@example.com');
const k = generateApiKey();
await insertApiKey(kc, { userId: user.id, name: 'b', scopes: ['jobs:write'], hash: k.hash, prefix: k.prefix, lastFour: k.lastFour, expiresAt: null });
await kc.end();
const body = JSON.stringify({ request: { method: 'POST', url: 'https://example.com/hook', body: '{"a":1}' }, delay_seconds: 86400 });
const res = await autocannon({ url: 'http://127.0.0.1:3555/v1/jobs', method: 'POST', connections: 50, duration: Number(process.env.SECONDS ?? 8), headers: { authorization: `Bearer ${k.key}`, 'content-type': 'application/json' }, body });
console.log(`req/s ${res.requests.average} p99 ${res.latency.p99} ms non2xx ${res.non2xx} errors ${res.errors}`);
server.kill('SIGTERM');
await new Promise((r) => server.on('exit', r));
if (prof) {
  const f = fs.readdirSync(profDir)[0];
  const p = JSON.parse(fs.readFileSync(path.join(profDir, f), 'utf8'));
  const self = new Map(); const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const dt = new Map();
  for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  let total = 0;
  for (const n of p.nodes) { const t = dt.get(n.id) ?? 0; total += t; const cf = n.callFrame; const key = `${cf.functionName || '(anon)'} ${cf.url.replace(/.*node_modules\//, 'nm/').replace(/.*\/work\/main\//, '')}:${cf.lineNumber}`; self.set(key, (self.get(key) ?? 0) + t); }
  const byFile = new Map();
  for (const n of p.nodes) { const t = dt.get(n.id) ?? 0; const u = n.callFrame.url; const key = u.includes('node_modules/') ? 'nm/' + u.split('node_modules/')[1].split('/')[0] : u.replace(/.*\/work\/main\//, '') || n.callFrame.functionName; byFile.set(key, (byFile.get(key) ?? 0) + t); }
  console.log('total ms', (total / 1000).toFixed(0));
  for (const [k2, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 35)) console.log((v / total * 100).toFixed(1).padStart(5), k2);
  console.log('--- by package/file');
  for (const [k2, v] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log((v / total * 100).toFixed(1).padStart(5), k2);
}
