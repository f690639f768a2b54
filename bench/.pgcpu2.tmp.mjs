import fs from 'node:fs';
import pg from 'pg';
const c = new pg.Client('postgres://postgres@127.0.0.1:5432/prof_api'); await c.connect();
const { rows: [{ pid }] } = await c.query('SELECT pg_backend_pid() AS pid');
const ticks = () => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return Number(f[11]) + Number(f[12]); };
const { rows: [u] } = await c.query(`SELECT id FROM users LIMIT 1`);
const ins = (t) => `INSERT INTO ${t} (user_id, method, url, headers, body, fire_at, next_attempt_at, timeout_ms, retry_strategy, max_attempts, base_delay_ms, max_delay_ms) VALUES ($1, 'POST', 'https://example.com/hook', '{}', '{"a":1}', now() + interval '1 day', now() + interval '1 day', 10000, 'exponential', 5, 1000, 3600000) RETURNING id`;
const N = 4000;
for (let r = 0; r < 2; r++) for (const t of ['j_bare', 'j_checks', 'j_one', 'jobs']) {
  const t0 = ticks();
  for (let i = 0; i < N; i++) await c.query({ name: 'x' + t, text: ins(t), values: [u.id] });
  console.log(t.padEnd(10), 'pg CPU', ((ticks() - t0) * 10000 / N).toFixed(0), 'µs');
}
await c.end();
