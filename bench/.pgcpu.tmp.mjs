import fs from 'node:fs';
import pg from 'pg';
const { insertJob } = await import('/work/main/dist/src/sql/jobs.js');
const { authenticateApiKey } = await import('/work/main/dist/src/sql/apiKeys.js');
const { findUserById } = await import('/work/main/dist/src/sql/users.js');
const c = new pg.Client('postgres://postgres@127.0.0.1:5432/prof_api'); await c.connect();
const { rows: [{ pid }] } = await c.query('SELECT pg_backend_pid() AS pid');
const ticks = () => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); };
const { rows: [u] } = await c.query(`SELECT id FROM users LIMIT 1`);
const { rows: [k] } = await c.query(`SELECT key_hash FROM api_keys LIMIT 1`);
const job = { userId: u.id, name: null, method: 'POST', url: 'https://example.com/hook', headers: {}, body: '{"a":1}', fireAt: null, delaySeconds: 86400, timeoutMs: 10000, retry: { strategy: 'exponential', max_attempts: 5, base_delay_ms: 1000, max_delay_ms: 3600000 }, idempotencyKey: null, requestHash: null, notifyWithinMs: 5000, traceParent: null };
const N = 4000;
const cases = {
  auth: () => authenticateApiKey(c, k.key_hash),
  user: () => findUserById(c, u.id),
  insertJob: () => insertJob(c, job),
  plainInsert: () => c.query({ name: 'pi', text: `INSERT INTO jobs (user_id, method, url, headers, body, fire_at, next_attempt_at, timeout_ms, retry_strategy, max_attempts, base_delay_ms, max_delay_ms) VALUES ($1, 'POST', 'https://example.com/hook', '{}', '{"a":1}', now() + interval '1 day', now() + interval '1 day', 10000, 'exponential', 5, 1000, 3600000) RETURNING id`, values: [u.id] }),
  bare: () => c.query({ name: 'b', text: 'INSERT INTO bare_jobs (body) VALUES ($1) RETURNING id, created_at', values: ['{"request":{"method":"POST","url":"https://example.com/hook","body":"{\\"a\\":1}"},"delay_seconds":86400}'] }),
  select1: () => c.query({ name: 's1', text: 'SELECT 1' }),
};
for (let r = 0; r < 2; r++) for (const [name, f] of Object.entries(cases)) {
  const t0 = ticks(); const w0 = performance.now();
  for (let i = 0; i < N; i++) await f();
  console.log(name.padEnd(12), 'pg CPU', ((ticks() - t0) * 10000 / N).toFixed(0).padStart(4), 'µs; latency', ((performance.now() - w0) * 1000 / N).toFixed(0), 'µs');
}
await c.end();
