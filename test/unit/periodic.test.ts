// The loops of the scheduler's services: runPeriodically (pass, pause, repeat) and the start/stop
// shape every service with a lifecycle has (service.ts, PeriodicService).
import { describe, expect, it } from 'vitest';
import { PeriodicService, runPeriodically } from '../../src/scheduler/periodic.ts';
import { StartStopService } from '../../src/scheduler/service.ts';
import { delay } from '../../src/lib/delay.ts';

describe('runPeriodically', () => {
  it('waits firstDelayMs, then runs a pass every intervalMs; a failing pass is reported and the loop goes on', async () => {
    const ctl = new AbortController();
    const passes: number[] = [];
    const errors: unknown[] = [];
    const t0 = performance.now();
    let fourth = () => {};
    const fourPasses = new Promise<void>((resolve) => (fourth = resolve));
    const loop = runPeriodically({
      intervalMs: 20,
      firstDelayMs: 50,
      signal: ctl.signal,
      pass: () => {
        passes.push(performance.now() - t0);
        if (passes.length === 4) fourth();
        return passes.length === 2 ? Promise.reject(new Error('boom')) : Promise.resolve();
      },
      onError: (e) => errors.push(e),
    });
    await fourPasses;
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

/** A service whose run() waits for stop() and then takes `finishMs` to finish. */
class Service extends StartStopService {
  runs = 0;
  finished = false;
  constructor(private readonly finishMs = 0) {
    super();
  }
  protected async run(signal: AbortSignal) {
    this.runs++;
    await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    await delay(this.finishMs);
    this.finished = true;
  }
}

describe('StartStopService', () => {
  it('runs once however often started; stop() resolves when the run has finished', async () => {
    const s = new Service(30);
    s.start();
    s.start();
    expect(s.runs).toBe(1);
    await s.stop();
    expect(s.finished).toBe(true);
    await s.stop(); // twice is fine
  });

  it('stop() before start() resolves at once, and a later start() runs nothing', async () => {
    const s = new Service();
    await s.stop();
    s.start();
    expect(s.runs).toBe(0);
  });
});

describe('PeriodicService', () => {
  it('passes on its timing until stopped; a failed pass goes to passFailed and the next runs', async () => {
    const failed: unknown[] = [];
    let third = () => {};
    const threePasses = new Promise<void>((resolve) => (third = resolve));
    const p = new (class extends PeriodicService {
      passes = 0;
      protected timing() {
        return { intervalMs: 10, firstDelayMs: 0 };
      }
      protected pass() {
        if (++this.passes === 3) third();
        return this.passes === 1 ? Promise.reject(new Error('first')) : Promise.resolve();
      }
      protected passFailed(err: unknown) {
        failed.push(err);
      }
    })();
    p.start();
    await threePasses;
    await p.stop();
    expect(failed.map((e) => (e as Error).message)).toEqual(['first']);
    const after = p.passes;
    await delay(30);
    expect(p.passes).toBe(after);
  });
});
