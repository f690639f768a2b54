// Pieces more than one resource answers with: instants, the stored request and retry policy (jobs and
// schedules), page cursors; and the examples' shared values. Response objects are strict: the contract
// test (test/integration/openapi.test.ts) then fails on a field a service adds without documenting
// it, as well as on one it drops or changes.
import { z } from 'zod';

export const instant = z.iso.datetime().describe('UTC, ISO-8601 with Z');
export const nullableInstant = instant.nullable();
export const uuid = z.uuid();
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export const StoredRequest = z.strictObject({
  method: z.enum(METHODS),
  url: z.string().describe('the normalised URL that was checked and is fired'),
  headers: z.record(z.string(), z.string()),
  body: z.string().nullable(),
});

export const RetryPolicy = z.strictObject({
  strategy: z.enum(['linear', 'exponential']),
  max_attempts: z.int(),
  base_delay_ms: z.int(),
  max_delay_ms: z.int(),
});

export const nextCursor = z
  .string()
  .nullable()
  .describe('pass as `cursor` for the next page; null on the last');

// Examples: each is checked against its schema, and the request examples are sent to the real API,
// by the OpenAPI test.
export const EXAMPLE_IDS = {
  job: '3f6c1a52-8d0e-4b7a-9c55-2e1f0a7b9d14',
  schedule: '8b1d2c3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e',
  apiKey: 'c0ffee00-1234-4abc-8def-0123456789ab',
  user: '5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d',
};
export const RETRY_EXAMPLE = {
  strategy: 'exponential',
  max_attempts: 5,
  base_delay_ms: 1000,
  max_delay_ms: 3_600_000,
} satisfies z.output<typeof RetryPolicy>;
export const REQUEST_EXAMPLE = {
  method: 'POST',
  url: 'https://example.com/hooks/report',
  headers: { 'content-type': 'application/json' },
  body: '{"report":"nightly"}',
} satisfies z.output<typeof StoredRequest>;

/** The example of a page holding one item. */
export const page = <T>(item: T) => ({ data: [item], next_cursor: null });
