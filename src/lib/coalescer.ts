// Group commit for small writes: many callers' items go to the database as one statement.
//
// A single-row INSERT pays per statement what a multi-row one shares: the round trip, parsing the
// bind, executor start-up (Postgres prepares every CHECK expression of the table per statement),
// statement triggers, and a commit with its WAL flush. Under load, items that arrive while earlier
// flushes are still in the database wait and leave together in the next flush; at low load an item
// leaves alone on the next turn of the event loop, so nobody waits for a timer.
//
// Two writers use it: the API's single creates (src/jobs/creates.ts: keyed by user, bounded, a
// failure is the caller's answer) and the scheduler's attempt results (src/scheduler/completer.ts:
// one flush at a time, the oldest given up when full, failures retried with backoff).

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
  /** Items waiting at most, in all and per key; see `whenFull` for what happens beyond them. */
  maxWaiting?: number;
  maxWaitingPerKey?: number;
  /**
   * Beyond `maxWaiting`: 'refuse' the new item (submit rejects with CoalescerFull, so the caller
   * answers "busy, retry" rather than wait), or 'dropOldest': take it and give up the oldest waiting
   * item instead (that one's submit rejects with CoalescerFull), for a writer that must not block and
   * whose lost items are recovered elsewhere. Default 'refuse'. Beyond `maxWaitingPerKey`: always
   * refused.
   */
  whenFull?: 'refuse' | 'dropOldest';
  /**
   * For writes that must happen eventually: an item whose flush failed is not answered but waits
   * again, first in line, and no flush starts until a backoff has passed (doubling from firstDelayMs
   * up to maxDelayMs; back to firstDelayMs after a flush without failures). `onRetry` is told each
   * time, with the error and how many items wait. Without it a failure is the item's answer.
   */
  retry?: {
    firstDelayMs: number;
    maxDelayMs: number;
    onRetry?: (err: unknown, waiting: number) => void;
  };
}

/** submit() found the queue full (or its item was given up to make room: `whenFull: 'dropOldest'`). */
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
  /** Batches being flushed: their items are not answered yet (see pending()). */
  private readonly flying = new Set<Waiting<T, R>[]>();
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs: number;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly flush: FlushBatch<T, R>,
    private readonly opts: CoalescerOptions<T>,
  ) {
    if (opts.maxInFlight < 1 || opts.maxBatch < 1) throw new Error('maxInFlight and maxBatch must be ≥ 1');
    this.retryDelayMs = opts.retry?.firstDelayMs ?? 0;
  }

  /** Items waiting for a flush (not counting those in flight). */
  get waiting(): number {
    return this.total;
  }

  /** Every item not answered yet: those in flight, then those waiting (by key, each in order). */
  pending(): T[] {
    const ws = [...this.flying].flat().concat([...this.queues.values()].flat());
    return ws.map((w) => w.item);
  }

  submit(item: T): Promise<R> {
    const key = this.keyOf(item);
    const own = this.queues.get(key);
    const refuseWhenFull = this.opts.whenFull !== 'dropOldest';
    if (refuseWhenFull && this.total >= (this.opts.maxWaiting ?? Infinity))
      return Promise.reject(new CoalescerFull(this.total, false));
    if ((own?.length ?? 0) >= (this.opts.maxWaitingPerKey ?? Infinity))
      return Promise.reject(new CoalescerFull(own!.length, true));
    return new Promise<R>((resolve, reject) => {
      const w = { item, resolve, reject };
      if (own) own.push(w);
      else this.queues.set(key, [w]);
      this.total++;
      this.dropOverflow();
      this.schedule();
    });
  }

  /** Resolves true once nothing waits or is in flight, or false after `timeoutMs`. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.idle()) return true;
    let timer: NodeJS.Timeout | undefined;
    const ok = await new Promise<boolean>((resolve) => {
      this.idleWaiters.push(() => resolve(true));
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    clearTimeout(timer);
    return ok;
  }

  /**
   * Starts no more flushes (those in flight finish) and cancels a pending retry, so no timer keeps the
   * process alive: what still waits stays unanswered.
   */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private keyOf(item: T): string {
    return this.opts.keyOf?.(item) ?? '';
  }

  private idle(): boolean {
    return this.total === 0 && this.flying.size === 0;
  }

  /** With `whenFull: 'dropOldest'`, gives up the oldest waiting items beyond maxWaiting. */
  private dropOverflow(): void {
    if (this.opts.whenFull !== 'dropOldest') return;
    while (this.total > (this.opts.maxWaiting ?? Infinity))
      this.next().reject(new CoalescerFull(this.total, false));
  }

  /** Whether a flush may start now: a slot is free, and no retry is pending. */
  private mayFlush(): boolean {
    return !this.stopped && !this.retryTimer && this.flying.size < this.opts.maxInFlight && this.total > 0;
  }

  // setImmediate, not a microtask: it runs after the event loop has read every request that had
  // arrived, so those of one turn share a flush even at moderate load.
  private schedule(): void {
    if (this.scheduled || !this.mayFlush()) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.launch();
    });
  }

  private launch(): void {
    while (this.mayFlush()) {
      const batch = this.take();
      this.flying.add(batch);
      void this.run(batch);
    }
  }

  /** The next flush: one item per key in turn, while the batch and its weight fit (at least one). */
  private take(): Waiting<T, R>[] {
    const { weigh, maxBatchWeight, maxBatch } = this.opts;
    const batch: Waiting<T, R>[] = [];
    let weight = 0;
    while (batch.length < maxBatch && this.total > 0) {
      if (weigh && maxBatchWeight !== undefined) {
        const [, queue] = this.queues.entries().next().value!;
        weight += weigh(queue[0]!.item);
        if (batch.length > 0 && weight > maxBatchWeight) break;
      }
      batch.push(this.next());
    }
    return batch;
  }

  /** Takes the first waiting item of the key whose turn it is; that key goes to the back. */
  private next(): Waiting<T, R> {
    const [key, queue] = this.queues.entries().next().value!;
    const w = queue.shift()!;
    this.total--;
    this.queues.delete(key);
    if (queue.length > 0) this.queues.set(key, queue);
    return w;
  }

  private async run(batch: Waiting<T, R>[]): Promise<void> {
    let results: PromiseSettledResult<R>[];
    try {
      results = await this.flush(batch.map((w) => w.item));
      if (results.length !== batch.length)
        throw new Error(`flush returned ${results.length} results for ${batch.length} items`);
    } catch (err) {
      results = batch.map(() => ({ status: 'rejected', reason: err }));
    }
    this.flying.delete(batch);
    const failed: Waiting<T, R>[] = [];
    let reason: unknown;
    results.forEach((r, i) => {
      const w = batch[i]!;
      if (r.status === 'fulfilled') w.resolve(r.value);
      else if (this.opts.retry) {
        failed.push(w);
        reason = r.reason;
      } else w.reject(r.reason);
    });
    if (failed.length > 0) this.retryLater(failed, reason);
    else this.retryDelayMs = this.opts.retry?.firstDelayMs ?? 0;
    // What arrived meanwhile leaves at once: it has already waited for this flush.
    this.launch();
    if (this.idle()) this.idleWaiters.splice(0).forEach((w) => w());
  }

  /** Puts failed items first in line again, in their order, and holds flushes for the backoff. */
  private retryLater(failed: Waiting<T, R>[], reason: unknown): void {
    const queues = new Map<string, Waiting<T, R>[]>();
    for (const w of failed) {
      const key = this.keyOf(w.item);
      const q = queues.get(key);
      if (q) q.push(w);
      else queues.set(key, [w]);
    }
    for (const [key, queue] of this.queues) {
      const q = queues.get(key);
      if (q) q.push(...queue);
      else queues.set(key, queue);
    }
    this.queues = queues;
    this.total += failed.length;
    this.dropOverflow();
    const retry = this.opts.retry!;
    if (this.stopped || this.retryTimer) return;
    const delay = this.retryDelayMs;
    this.retryDelayMs = Math.min(delay * 2, retry.maxDelayMs);
    retry.onRetry?.(reason, this.total);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.launch();
    }, delay);
  }
}
