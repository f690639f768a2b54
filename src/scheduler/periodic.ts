// The loop every periodic scheduler service runs (heartbeater, reaper, cleaner, schedule repair): a pass, a pause,
// repeat until stopped. A failed pass is reported and the next one runs on time.
import { delay } from '../lib/delay.ts';

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
