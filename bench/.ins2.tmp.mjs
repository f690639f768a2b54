import pg from 'pg';
const url = 'postgres://postgres@127.0.0.1:5432/prof_api';
const c = new pg.Client(url); await c.connect();
const { rows: [u] } = await c.query(`SELECT id FROM users LIMIT 1`);
const N = 3000;
const cols = `(user_id, name, method, url, headers, body, fire_at, next_attempt_at, timeout_ms, retry_strategy, max_attempts, base_delay_ms, max_delay_ms)`;
const vals = [u.id, null, 'POST', 'https://example.com/hook', '{}', '{"a":1}', 10000, 'exponential', 5, 1000, 3600000];
const variants = {
  star: `INSERT INTO jobs ${cols} VALUES ($1,$2,$3,$4,$5::jsonb,$6, now() + interval '1 day', now() + interval '1 day', $7,$8,$9,$10,$11) RETURNING *`,
  few: `INSERT INTO jobs ${cols} VALUES ($1,$2,$3,$4,$5::jsonb,$6, now() + interval '1 day', now() + interval '1 day', $7,$8,$9,$10,$11) RETURNING id, seq, created_at`,
};
for (let round = 0; round < 2; round++) {
  for (const [name, text] of Object.entries(variants)) {
    const t = performance.now();
    for (let i = 0; i < N; i++) await c.query({ name, text, values: vals });
    console.log(name, (((performance.now() - t) / N) * 1000).toFixed(0), 'µs');
  }
}
const { rows } = await c.query(`SELECT count(*) FROM jobs`); console.log(rows[0]);
await c.end();
