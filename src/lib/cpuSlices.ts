// Long CPU work in an API request, cut into slices: between slices other requests (a /healthz probe,
// another user's create) get the event loop. Cron searches are bounded (schedules/cron.ts), but a
// bounded search that misses every cache still costs milliseconds, and twenty at once would hold the
// loop for all of theirs together; sliced, a probe waits for one slice of each, not the whole.
import { setImmediate as nextTurn } from 'node:timers/promises';

/** Slices of about `sliceMs` of CPU: call yieldIfDue() between units of work. */
export class CpuSlices {
  private sliceStart = performance.now();
  constructor(private readonly sliceMs = 1) {}

  /** Yields the event loop (one turn) when this slice has run for `sliceMs` or more. */
  async yieldIfDue(): Promise<void> {
    if (performance.now() - this.sliceStart < this.sliceMs) return;
    await nextTurn();
    this.sliceStart = performance.now();
  }
}
