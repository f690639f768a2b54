// The loop every periodic scheduler service runs (heartbeater, reaper, cleaner, schedule repair): a pass, a pause,
// repeat until stopped. A failed pass is reported and the next one runs on time.
import { delay } from '../lib/delay.ts';
import { StartStopService } from './service.ts';

export interface Periodic {
  /** The pause between passes. */
  intervalMs: number;
  /** The wait before the first pass (jittered by services that run in every replica). */
  firstDelayMs: number;
  /** Ends the loop: an ongoing pause ends at once, an ongoing pass is awaited. */
  signal: AbortSignal;
  pass(): Promise<unknown>;
  onError(err: unknown): void;
}

/** Runs `p.pass` every `p.intervalMs` until `p.signal` aborts; resolves when the loop has left. */
export async function runPeriodically(p: Periodic): Promise<void> {
  let wait = p.firstDelayMs;
  while (!p.signal.aborted) {
    await delay(wait, p.signal);
    if (p.signal.aborted) break;
    try {
      await p.pass();
    } catch (err) {
      p.onError(err);
    }
    wait = p.intervalMs;
  }
}

/**
 * A service that runs a pass periodically until stopped (heartbeater, reaper, cleaner, schedule
 * repair): start() once, stop() ends the pause at once and awaits a pass in progress.
 */
export abstract class PeriodicService extends StartStopService {
  /** The pause between passes, and the wait before the first (read at start). */
  protected abstract timing(): { intervalMs: number; firstDelayMs: number };

  /** One pass. */
  protected abstract pass(): Promise<unknown>;

  /** A pass threw: the next one runs on time. */
  protected abstract passFailed(err: unknown): void;

  protected run(signal: AbortSignal): Promise<void> {
    return runPeriodically({
      ...this.timing(),
      signal,
      pass: () => this.pass(),
      onError: (err) => this.passFailed(err),
    });
  }
}

/**
 * Repeats `step` (one transaction over up to `batch` rows) until a step sees fewer than `batch`
 * rows; returns the sum of what the steps did.
 */
export async function inBatches(
  batch: number,
  step: () => Promise<{ did: number; saw: number }>,
): Promise<number> {
  let total = 0;
  for (;;) {
    const { did, saw } = await step();
    total += did;
    if (saw < batch) return total;
  }
}
