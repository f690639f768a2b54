// The executor's deadline covers the whole exchange: an answer whose body ends after timeout_ms is a
// timeout, never a success that took longer than the job allows (#29: 2,000 ms timeout, recorded as
// succeeded after 2,002 ms). The executor's clock is injected, so "the deadline has passed" is a
// step of the test, not a race between its timer and the target's last byte.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type http from 'node:http';
import { targets, waitFor } from '../helpers/http.ts';
import { Executor } from '../../src/scheduler/executor.ts';
import { SchedulerEvents } from '../../src/scheduler/events.ts';
import { createTargetPolicy } from '../../src/jobs/urlPolicy.ts';

const { target, closeAll } = targets();
afterEach(() => closeAll());

// The real timer never fires within a test: only the injected clock moves past the deadline.
const TIMEOUT_MS = 60_000;
let offset = 0;
const executor = new Executor(
  { events: new SchedulerEvents(), now: () => performance.now() + offset },
  { policy: createTargetPolicy(['127.0.0.0/8']), maxResponseBytes: 1024, userAgent: 'test' },
);
afterAll(() => executor.close());

/** A target that sends the status and part of the body, then ends when the test says so. */
async function halfAnswered() {
  let res: http.ServerResponse | null = null;
  const t = await target((_q, r) => {
    r.writeHead(200, { 'content-type': 'text/plain' });
    r.write('part one, ');
    res = r;
  });
  const run = executor.execute(
    {
      webhookId: 'job',
      method: 'POST',
      url: t.url,
      headers: {},
      body: null,
      timeoutMs: TIMEOUT_MS,
      secrets: ['c2VjcmV0'],
    },
    new AbortController().signal,
  );
  await waitFor(() => res !== null, 'the target to start answering');
  return { run, end: () => res!.end('part two') };
}

describe('the deadline covers the body', () => {
  it('a body that ends after the deadline is a timeout, with a duration of at least timeout_ms', async () => {
    offset = 0;
    const { run, end } = await halfAnswered();
    offset = TIMEOUT_MS; // the deadline passes on the executor's clock before the last byte is sent
    end();
    const r = await run;
    expect(r.result).toEqual({ kind: 'timeout' });
    expect(r.error).toBe(`timed out after ${TIMEOUT_MS} ms`);
    expect(r.statusCode).toBeNull();
    expect(r.responseBody).toBeNull();
    expect(r.durationMs).toBeGreaterThanOrEqual(TIMEOUT_MS);
  });

  it('a body that ends just before the deadline succeeds, with a duration within timeout_ms', async () => {
    offset = 0;
    const { run, end } = await halfAnswered();
    offset = TIMEOUT_MS - 1000;
    end();
    const r = await run;
    expect(r.result).toEqual({ kind: 'response', statusCode: 200 });
    expect(r.responseBody).toBe('part one, part two');
    expect(r.durationMs).toBeLessThan(TIMEOUT_MS);
  });
});
