// The API benchmark's baseline: bare Express 5 + express.json() + one prepared INSERT … RETURNING per
// request on the same Postgres. What ours adds on top (authentication, validation, quotas,
// idempotency, NOTIFY) is measured against this. Started by bench/run.ts as a child process.
import express from 'express';
import pg from 'pg';

const url = process.env.DATABASE_URL!;
const pool = new pg.Pool({ connectionString: url, max: 20 });
await pool.query(`CREATE TABLE IF NOT EXISTS bare_jobs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`);
const app = express();
app.use(express.json({ limit: '256kb' }));
app.post('/v1/jobs', async (req, res) => {
  const { rows } = await pool.query<{ id: string; created_at: Date }>({
    name: 'bare_insert',
    text: 'INSERT INTO bare_jobs (body) VALUES ($1) RETURNING id, created_at',
    values: [JSON.stringify(req.body)],
  });
  res.status(201).json(rows[0]);
});
const server = app.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.({ ready: true }));
process.on('SIGTERM', () => {
  server.close();
  void pool.end().then(() => process.exit(0));
});
