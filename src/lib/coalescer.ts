// Group commit for small writes: many callers' items go to the database as one statement.
//
// A single-row INSERT pays per statement what a multi-row one shares: the round trip, parsing the
// bind, executor start-up (Postgres prepares every CHECK expression of the table per statement),
// statement triggers, and a commit with its WAL flush. Under load, requests that arrive while
// earlier flushes are still in the database wait and leave together in the next flush; at low
// load an item leaves alone on the next turn of the event loop, so nobody waits for a timer.

export interface CoalescerOptions<T> {
  /** Flushes in the database at once; more arrivals wait for one of them to finish. */
  maxInFlight: number;
  /** Items per flush at most (a statement's size is bounded). */
  maxBatch: number;
  /**
   * The size of an item (bytes, say) and the most a flush may carry: a flush takes items while they
   * fit, and always at least one. Without it every item weighs nothing.
   */
  weigh?: (item: T) => number;
  maxBatchWeight?: number;
  /** Items waiting at most; beyond it submit() rejects with CoalescerFull at once (backpressure). */
  maxWaiting?: number;
}

/** submit() found the queue full: the caller should answer "busy, retry" rather than wait. */
export class CoalescerFull extends Error {
  constructor(readonly waiting: number) {
    super(`${waiting} items are already waiting`);
    this.name = 'CoalescerFull';
  }
}

/**
 * Writes one batch. Returns one settled result per item, in the items' order; a rejection of the
 * whole promise rejects every item of the batch with that error.
 */
export type FlushBatch<T, R> = (items: T[]) => Promise<PromiseSettledResult<R>[]>;

interface Waiting<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class Coalescer<T, R> {
  private queue: Waiting<T, R>[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly flush: FlushBatch<T, R>,
    private readonly opts: CoalescerOptions<T>,
  ) {
    if (opts.maxInFlight < 1 || opts.maxBatch < 1) throw new Error('maxInFlight and maxBatch must be ≥ 1');
  }

  /** Items waiting for a flush (not counting those in flight). */
  get waiting(): number {
    return this.queue.length;
  }

  submit(item: T): Promise<R> {
    if (this.queue.length >= (this.opts.maxWaiting ?? Infinity))
      return Promise.reject(new CoalescerFull(this.queue.length));
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  // setImmediate, not a microtask: it runs after the event loop has read every request that had
  // arrived, so those of one turn share a flush even at moderate load.
  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.opts.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.fitting());
      this.inFlight++;
      void this.run(batch);
    }
  }

  /** How many of the waiting items the next flush takes (at least one). */
  private fitting(): number {
    const { weigh, maxBatchWeight, maxBatch } = this.opts;
    if (!weigh || maxBatchWeight === undefined) return maxBatch;
    let n = 0;
    let total = 0;
    while (n < maxBatch && n < this.queue.length) {
      total += weigh(this.queue[n]!.item);
      if (n > 0 && total > maxBatchWeight) break;
      n++;
    }
    return n;
  }

  private async run(batch: Waiting<T, R>[]): Promise<void> {
    try {
      const results = await this.flush(batch.map((w) => w.item));
      if (results.length !== batch.length)
        throw new Error(`flush returned ${results.length} results for ${batch.length} items`);
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') batch[i]!.resolve(r.value);
        else batch[i]!.reject(r.reason);
      });
    } catch (err) {
      for (const w of batch) w.reject(err);
    } finally {
      this.inFlight--;
      // What arrived meanwhile leaves at once: it has already waited for this flush.
      this.drain();
    }
  }
}
