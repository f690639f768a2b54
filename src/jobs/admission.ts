// Admission of new active jobs: anything that makes a job active (a create, a batch, a re-drive)
// passes the same two gates, the user's creation rate limit and the user's active-jobs quota.
import type { Pool } from '../db/pool.ts';
import { fail, rateLimited } from '../errors.ts';
import { SlidingWindowLimiter } from '../lib/rateLimit.ts';
import * as jobsSql from '../sql/jobs.ts';

// How long a user's counted active jobs are trusted before counting again.
const QUOTA_CACHE_MS = 2000;

export interface AdmissionDeps {
  pool: Pool;
  maxActivePerUser: number;
  createRatePerMinute: number;
}

export class Admission {
  private readonly createLimiter: SlidingWindowLimiter;
  private readonly activeCounts = new Map<string, { n: number; at: number }>();
  private readonly pool: Pool;
  private readonly maxActivePerUser: number;

  constructor(deps: AdmissionDeps) {
    this.pool = deps.pool;
    this.maxActivePerUser = deps.maxActivePerUser;
    this.createLimiter = new SlidingWindowLimiter(deps.createRatePerMinute, 60_000);
  }

  /** The gates for one job becoming active; call `admitted` once it is. */
  async admitOne(userId: string): Promise<void> {
    const wait = this.createLimiter.take(userId);
    if (wait > 0) throw rateLimited(wait / 1000, 'job creation rate limit reached');
    if (!(await this.withinQuota(userId))) {
      throw fail('quota_exceeded', `at most ${this.maxActivePerUser} active jobs per user`);
    }
  }

  /** The same gates for `n` new jobs at once (a batch): all of them pass, or none is admitted. */
  async admitMany(userId: string, n: number): Promise<void> {
    if (n === 0) return;
    const wait = this.createLimiter.take(userId, n);
    if (wait > 0) throw rateLimited(wait / 1000, 'job creation rate limit reached');
    const active = await jobsSql.countActive(this.pool, userId, this.maxActivePerUser);
    if (active + n > this.maxActivePerUser)
      throw fail(
        'quota_exceeded',
        `at most ${this.maxActivePerUser} active jobs per user (${active} active, ${n} in this batch)`,
      );
    const cached = this.activeCounts.get(userId);
    if (cached) cached.n = active + n;
  }

  /** One job admitted by `admitOne` became active: the cached count follows without a recount. */
  admitted(userId: string): void {
    const cached = this.activeCounts.get(userId);
    if (cached) cached.n++;
  }

  /**
   * Whether the user may have one more active job. Counting a big user's active jobs on every create
   * would cost O(jobs), so the count is cached for a moment and bumped locally; near the limit it is
   * recounted exactly before refusing. Between replicas the limit can overshoot by at most what the
   * others create within the cache age.
   */
  private async withinQuota(userId: string): Promise<boolean> {
    const max = this.maxActivePerUser;
    const now = performance.now();
    let c = this.activeCounts.get(userId);
    const fresh = c && now - c.at < QUOTA_CACHE_MS;
    if (!c || !fresh || c.n + 1 > max) {
      if (this.activeCounts.size > 100_000) this.activeCounts.clear();
      c = { n: await jobsSql.countActive(this.pool, userId, max), at: now };
      this.activeCounts.set(userId, c);
    }
    return c.n < max;
  }
}
