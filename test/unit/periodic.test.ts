import { describe, expect, it } from 'vitest';
import { runPeriodically } from '../../src/scheduler/periodic.ts';
import { delay } from '../../src/lib/delay.ts';

describe('runPeriodically', () => {
  it('waits firstDelayMs, then runs a pass every intervalMs; a failing pass is reported and the loop goes on', async () => {
    const ctl = new AbortController();
    const passes: number[] = [];
    const errors: unknown[] = [];
    const t0 = performance.now();
    const loop = runPeriodically({
      intervalMs: 20,
      firstDelayMs: 50,
      signal: ctl.signal,
      pass: () => {
        passes.push(performance.now() - t0);
        return passes.length === 2 ? Promise.reject(new Error('boom')) : Promise.resolve();
      },
      onError: (e) => errors.push(e),
    });
    while (passes.length < 4) await delay(5);
    ctl.abort();
    await loop;
    expect(passes[0]).toBeGreaterThanOrEqual(49);
    for (let i = 1; i < passes.length; i++) expect(passes[i]! - passes[i - 1]!).toBeGreaterThanOrEqual(19);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('boom');
  });

  it('stops during the pause at once, and awaits a pass in progress', async () => {
    const ctl = new AbortController();
    let passes = 0;
    const loop = runPeriodically({
      intervalMs: 60_000,
      firstDelayMs: 60_000,
      signal: ctl.signal,
      pass: () => Promise.resolve(passes++),
      onError: () => {},
    });
    const t0 = performance.now();
    ctl.abort();
    await loop;
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(passes).toBe(0);

    const ctl2 = new AbortController();
    let finished = false;
    const loop2 = runPeriodically({
      intervalMs: 60_000,
      firstDelayMs: 0,
      signal: ctl2.signal,
      pass: async () => {
        ctl2.abort(); // stop requested while this pass runs
        await delay(30);
        finished = true;
      },
      onError: () => {},
    });
    await loop2;
    expect(finished).toBe(true);
  });
});
