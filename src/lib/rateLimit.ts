// An in-process sliding-window limiter (per key), O(1) per call: the previous fixed window's count,
// weighted by how much of it still overlaps the sliding window, plus the current window's count.
// Per replica by design: it shields the process and database from bursts; limits that must hold
// across replicas (magic links) are enforced in SQL instead.

interface Bucket {
  start: number;
  count: number;
  prev: number;
}

export class SlidingWindowLimiter {
  private readonly buckets = new Map<string, Bucket>();
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Records `n` hits and returns 0, or returns how many ms until they are allowed (nothing recorded). */
  take(key: string, n = 1): number {
    const t = this.now();
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= 100_000) this.prune(t);
      b = { start: t, count: 0, prev: 0 };
      this.buckets.set(key, b);
    }
    const elapsedWindows = Math.floor((t - b.start) / this.windowMs);
    if (elapsedWindows >= 1) {
      b.prev = elapsedWindows === 1 ? b.count : 0;
      b.count = 0;
      b.start += elapsedWindows * this.windowMs;
    }
    const overlap = 1 - (t - b.start) / this.windowMs;
    const estimate = b.prev * overlap + b.count;
    if (estimate + n > this.limit) {
      // Time until enough of the previous window slides out (or the current one ends).
      const need = estimate + n - this.limit;
      const wait = b.prev > 0 ? (need / b.prev) * this.windowMs : b.start + this.windowMs - t;
      return Math.max(1, Math.min(wait, b.start + this.windowMs - t + this.windowMs));
    }
    b.count += n;
    return 0;
  }

  private prune(t: number): void {
    for (const [k, b] of this.buckets) if (t - b.start >= 2 * this.windowMs) this.buckets.delete(k);
  }
}
