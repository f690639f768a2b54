import { describe, expect, it } from 'vitest';
import { WakeableSleep } from '../../src/scheduler/wakeableSleep.ts';

// Timing assertions: strict on the early side only (never a lower bound that could flake late).
describe('WakeableSleep', () => {
  it('sleeps the full time when nobody wakes it', async () => {
    const s = new WakeableSleep();
    const t0 = performance.now();
    await s.sleep(60);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(59);
  });

  it('wake() ends a sleep at once', async () => {
    const s = new WakeableSleep();
    const t0 = performance.now();
    const p = s.sleep(10_000);
    s.wake();
    await p;
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('a wake while awake is kept: the next sleep returns at once, the one after sleeps again', async () => {
    const s = new WakeableSleep();
    s.wake();
    const t0 = performance.now();
    await s.sleep(10_000);
    expect(performance.now() - t0).toBeLessThan(1000);
    let done = false;
    const p = s.sleep(10_000).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 30));
    expect(done).toBe(false);
    s.wake();
    await p;
  });

  it('clear() forgets a wake that came while awake', async () => {
    const s = new WakeableSleep();
    s.wake();
    s.clear();
    const t0 = performance.now();
    await s.sleep(50);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(49);
  });

  it('an aborted signal ends the sleep, and a sleep on an aborted signal returns at once', async () => {
    const s = new WakeableSleep();
    const ctl = new AbortController();
    const p = s.sleep(10_000, ctl.signal);
    ctl.abort();
    await p;
    const t0 = performance.now();
    await s.sleep(10_000, ctl.signal);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
