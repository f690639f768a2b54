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
  /**
   * Whose item it is (a user). Waiting items are taken in turns, one per key, so a key with a
   * thousand waiting cannot push another key's one behind all of them. Without it: one queue, in
   * arrival order.
   */
  keyOf?: (item: T) => string;
  /** Items waiting at most, in all and per key; beyond either submit() rejects with CoalescerFull. */
  maxWaiting?: number;
  maxWaitingPerKey?: number;
}

/** submit() found the queue full: the caller should answer "busy, retry" rather than wait. */
export class CoalescerFull extends Error {
  constructor(
    readonly waiting: number,
    /** True when the item's own key had too many waiting (others may still get through). */
    readonly perKey: boolean,
  ) {
    super(`${waiting} items are already waiting${perKey ? ' for this key' : ''}`);
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
  /** Waiting items by key; the Map's order is the turn order (a key served goes to the back). */
  private queues = new Map<string, Waiting<T, R>[]>();
  private total = 0;
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
    return this.total;
  }

  submit(item: T): Promise<R> {
    const key = this.opts.keyOf?.(item) ?? '';
    const own = this.queues.get(key);
    if (this.total >= (this.opts.maxWaiting ?? Infinity))
      return Promise.reject(new CoalescerFull(this.total, false));
    if ((own?.length ?? 0) >= (this.opts.maxWaitingPerKey ?? Infinity))
      return Promise.reject(new CoalescerFull(own!.length, true));
    return new Promise<R>((resolve, reject) => {
      const w = { item, resolve, reject };
      if (own) own.push(w);
      else this.queues.set(key, [w]);
      this.total++;
      this.schedule();
    });
  }

  // setImmediate, not a microtask: it runs after the event loop has read every request that had
  // arrived, so those of one turn share a flush even at moderate load.
  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.opts.maxInFlight || this.total === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  private drain(): void {
    while (this.inFlight < this.opts.maxInFlight && this.total > 0) {
      const batch = this.take();
      this.inFlight++;
      void this.run(batch);
    }
  }

  /** The next flush: one item per key in turn, while the batch and its weight fit (at least one). */
  private take(): Waiting<T, R>[] {
    const { weigh, maxBatchWeight, maxBatch } = this.opts;
    const batch: Waiting<T, R>[] = [];
    let weight = 0;
    while (batch.length < maxBatch && this.total > 0) {
      const [key, queue] = this.queues.entries().next().value!;
      const w = queue[0]!;
      if (weigh && maxBatchWeight !== undefined) {
        weight += weigh(w.item);
        if (batch.length > 0 && weight > maxBatchWeight) break;
      }
      queue.shift();
      this.total--;
      this.queues.delete(key);
      if (queue.length > 0) this.queues.set(key, queue);
      batch.push(w);
    }
    return batch;
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
