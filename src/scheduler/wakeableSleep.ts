// A sleep that another part of the process can cut short: the claim loop sleeps until the next due
// job and is woken by NOTIFY (a sooner job) or by a freed slot. A wake that arrives while nobody sleeps
// is kept, so the next sleep returns at once: a notification that lands mid-claim is never lost.

export class WakeableSleep {
  private pending = false;
  private wakeUp: (() => void) | null = null;

  /** Waits up to `ms`; returns early on wake() or when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.pending || signal?.aborted) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        if (this.wakeUp === done) this.wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, Math.ceil(ms)));
      signal?.addEventListener('abort', done, { once: true });
      this.wakeUp = done;
    });
  }

  /** Ends the current sleep, or the next one if nobody sleeps now. */
  wake(): void {
    const w = this.wakeUp;
    if (w) {
      this.wakeUp = null;
      w();
    } else {
      this.pending = true;
    }
  }

  /** Forgets a wake that arrived while awake (the caller is about to look for work anyway). */
  clear(): void {
    this.pending = false;
  }
}
