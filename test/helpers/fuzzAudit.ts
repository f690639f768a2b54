// What the fuzz suites check on every answer, shared by test/verification/api-fuzz*.test.ts:
// - a write audit: every row written to our tables bumps one counter (row-level triggers), so "a
//   rejected request writes no row" is a comparison of two numbers;
// - the error envelope of a 4xx;
// - the cause of a 5xx, from the server's own error log, by request id (logCapture.ts).
import type pg from 'pg';
import { capturingLogger as captureLog } from './logCapture.ts';

/** Installs the audit triggers on every table of the public schema (migrations' own table aside). */
export async function installWriteAudit(pool: pg.Pool): Promise<void> {
  // Row-level, so a statement that matches nothing (a bad sign-in token) writes nothing.
  await pool.query(`
    CREATE SCHEMA fuzz_audit;
    CREATE TABLE fuzz_audit.writes (n bigint NOT NULL, last text);
    INSERT INTO fuzz_audit.writes VALUES (0, NULL);
    CREATE FUNCTION fuzz_audit.count_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE fuzz_audit.writes SET n = n + 1, last = TG_OP || ' ' || TG_TABLE_NAME;
      RETURN NULL;
    END $$;
    DO $$
    DECLARE t text;
    BEGIN
      FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'pgmigrations' LOOP
        EXECUTE format('CREATE TRIGGER fuzz_count_write AFTER INSERT OR UPDATE OR DELETE ON public.%I
                          FOR EACH ROW EXECUTE FUNCTION fuzz_audit.count_write()', t);
      END LOOP;
    END $$;`);
}

/** Rows written so far (and the last one's operation and table). */
export async function auditedWrites(pool: pg.Pool): Promise<{ n: string; last: string | null }> {
  return (await pool.query<{ n: string; last: string | null }>('SELECT n, last FROM fuzz_audit.writes'))
    .rows[0]!;
}

/** The server's warnings and errors, kept to name a 5xx's cause by its request id. */
export const capturingLogger = () => captureLog('warn', 1000);

const ENVELOPE_CODE = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

/** The verdict on a 4xx body: null when it is the error envelope, else what is wrong. */
export function envelopeProblem(
  contentType: string | undefined,
  text: string,
  htmlAllowed = false,
): string | null {
  if (htmlAllowed && /^text\/html/.test(contentType ?? '')) return null;
  if (!/^application\/json/.test(contentType ?? ''))
    return `content-type ${JSON.stringify(contentType ?? null)}, body ${JSON.stringify(text.slice(0, 60))}`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `body is not JSON: ${JSON.stringify(text.slice(0, 60))}`;
  }
  const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (!e || typeof e.code !== 'string' || typeof e.message !== 'string' || !e.message)
    return `no {"error":{"code","message"}}: ${text.slice(0, 100)}`;
  if (!ENVELOPE_CODE.test(e.code) || e.code.length > 40) return `unstable code ${JSON.stringify(e.code)}`;
  return null;
}
