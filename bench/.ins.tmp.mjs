import pg from 'pg';
const { insertJob } = await import('/work/main/dist/src/sql/jobs.js');
const url = 'postgres://postgres@127.0.0.1:5432/prof_api';
const c = new pg.Client(url); await c.connect();
const { rows: [u] } = await c.query(`SELECT id FROM users LIMIT 1`);
await c.query(`CREATE TABLE IF NOT EXISTS bare_jobs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
const N = 3000;
const job = { userId: u.id, name: null, method: 'POST', url: 'https://example.com/hook', headers: {}, body: '{"a":1}', fireAt: null, delaySeconds: 86400, timeoutMs: 10000, retry: { strategy: 'exponential', max_attempts: 5, base_delay_ms: 1000, max_delay_ms: 3600000 }, idempotencyKey: null, requestHash: null, notifyWithinMs: 5000, traceParent: null };
for (let round = 0; round < 2; round++) {
  let t = performance.now();
  for (let i = 0; i < N; i++) await insertJob(c, job);
  const ours = (performance.now() - t) / N;
  t = performance.now();
  for (let i = 0; i < N; i++) await c.query({ name: 'bare', text: 'INSERT INTO bare_jobs (body) VALUES ($1) RETURNING id, created_at', values: [JSON.stringify({ request: { method: 'POST', url: 'https://example.com/hook', body: '{"a":1}' }, delay_seconds: 86400 })] });
  const bare = (performance.now() - t) / N;
  const s1 = process.cpuUsage();
  console.log(`ours ${(ours * 1000).toFixed(0)} µs/insert, bare ${(bare * 1000).toFixed(0)} µs/insert`);
}
await c.end();
