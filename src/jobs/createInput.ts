// Create requests as new jobs' columns, without I/O: the Idempotency-Key's form, a batch's items
// validated together, and what a create weighs in a shared INSERT (the pipeline is creates.ts).
import { z } from 'zod';
import { validationFailed, zodDetails, type ValidationDetail } from '../errors.ts';
import type { NewBatchJob } from '../sql/jobRows.ts';
import { requestHash, type createJobSchema } from './schema.ts';

export type CreateSchema = ReturnType<typeof createJobSchema>;

/** An idempotency key: 1 to 255 visible ASCII characters (header or batch item alike). */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** Bytes, not UTF-16 units: a body of emoji is twice its length on the wire and in the statement. */
const headersSize = (h: Record<string, string>) => {
  let n = 0;
  for (const k in h) n += Buffer.byteLength(k) + Buffer.byteLength(h[k]!);
  return n;
};

/** What a create adds to its shared INSERT statement, in bytes (about: 256 for the fixed columns). */
export const createWeight = (j: Pick<NewBatchJob, 'url' | 'body' | 'headers'>) =>
  256 + Buffer.byteLength(j.url) + (j.body === null ? 0 : Buffer.byteLength(j.body)) + headersSize(j.headers);

/** A validated create request as the columns of a new job (one mapping for single and batch). */
export function newJobFields(userId: string, d: z.output<CreateSchema>) {
  return {
    userId,
    name: d.name ?? null,
    method: d.request.method,
    url: d.request.url,
    headers: d.request.headers ?? {},
    body: d.request.body ?? null,
    fireAt: d.fire_at ? d.fire_at.toJSDate() : null,
    delaySeconds: d.delay_seconds ?? 0,
    timeoutMs: d.timeout_ms,
    retry: d.retry,
  };
}

/** A batch: up to 1,000 job objects, each validated by the create schema (plus idempotency_key). */
export const batchSchema = z.strictObject({
  jobs: z.array(z.record(z.string(), z.unknown())).min(1).max(1000),
});

/**
 * The items of a batch, each validated by `schema`, with its idempotency key and the hash of its
 * body (null without a key). Throws one 400 listing every invalid item by index, and every key
 * repeated within the batch.
 */
export function parseBatchItems(schema: CreateSchema, input: z.output<typeof batchSchema>) {
  const details: ValidationDetail[] = [];
  const items = input.jobs.map((raw, i) => {
    const { idempotency_key: key, ...job } = raw as Record<string, unknown> & { idempotency_key?: unknown };
    const parsed = schema.safeParse(job);
    if (!parsed.success)
      details.push(
        ...zodDetails(parsed.error.issues).map((d) => ({
          ...d,
          path: d.path === '(body)' ? `jobs.${i}` : `jobs.${i}.${d.path}`,
        })),
      );
    if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)))
      details.push({
        path: `jobs.${i}.idempotency_key`,
        message: 'must be 1 to 255 visible ASCII characters',
      });
    return { job, key: typeof key === 'string' ? key : null, parsed: parsed.success ? parsed.data : null };
  });
  const seen = new Map<string, number>();
  items.forEach((it, i) => {
    if (it.key === null) return;
    if (seen.has(it.key))
      details.push({
        path: `jobs.${i}.idempotency_key`,
        message: `repeats the key of jobs.${seen.get(it.key)}`,
      });
    seen.set(it.key, i);
  });
  if (details.length) throw validationFailed(details);
  return items.map((it) => ({
    key: it.key,
    fields: it.parsed!,
    hash: it.key ? requestHash(it.job) : null,
  }));
}
