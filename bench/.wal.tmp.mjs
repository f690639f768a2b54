import pg from 'pg';
const c = new pg.Client('postgres://postgres@127.0.0.1:5432/prof_api'); await c.connect();
const { rows: [u] } = await c.query(`SELECT id FROM users LIMIT 1`);
const v7 = () => { const b = Buffer.alloc(16); const ms = BigInt(Date.now()); b.writeUIntBE(Number(ms >> 16n), 0, 4); b.writeUInt16BE(Number(ms & 0xffffn), 4); require_random(b); b[6] = (b[6] & 0x0f) | 0x70; b[8] = (b[8] & 0x3f) | 0x80; const h = b.toString('hex'); return `${h.slice(0,8)}-${h.slice(8,12)}-${h.slice(12,16)}-${h.slice(16,20)}-${h.slice(20)}`; };
import crypto from 'node:crypto';
function require_random(b) { crypto.randomFillSync(b, 6, 10); }
const text = `INSERT INTO jobs (id, user_id, method, url, headers, body, fire_at, next_attempt_at, timeout_ms, retry_strategy, max_attempts, base_delay_ms, max_delay_ms) VALUES ($1, $2, 'POST', 'https://example.com/hook', '{}', '{"a":1}', now() + interval '1 day', now() + interval '1 day', 10000, 'exponential', 5, 1000, 3600000) RETURNING id`;
await c.query('CHECKPOINT');
for (const [name, gen] of [['random', () => crypto.randomUUID()], ['v7', v7], ['random', () => crypto.randomUUID()], ['v7', v7]]) {
  await c.query('CHECKPOINT');
  const { rows: [a] } = await c.query('SELECT pg_current_wal_lsn() AS l');
  const t = performance.now();
  for (let i = 0; i < 5000; i++) await c.query({ name: 'ins', text, values: [gen(), u.id] });
  const ms = performance.now() - t;
  const { rows: [b] } = await c.query(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS d`, [a.l]);
  console.log(name, (ms / 5).toFixed(0), 'µs/insert', (b.d / 5000).toFixed(0), 'WAL bytes/insert');
}
await c.end();
