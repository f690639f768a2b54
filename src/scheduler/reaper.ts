// The reaper: running jobs whose lease expired (their worker crashed, hung, or lost the database) go
// back to `retrying` with backoff, or to `failed` when their attempts are used up, each with a `lost`
// execution row. Safe in every scheduler at once: rows are taken FOR UPDATE SKIP LOCKED.
import { withTransaction, type Pool } from '../db/pool.ts';
import { backoffDelayMs, retryPolicyOf } from '../jobs/backoff.ts';
import { lockExpiredLeases, rescueExpired } from '../sql/scheduler.ts';

const BATCH = 500;

/** One reaper pass; returns how many jobs it rescued. */
export async function reapExpiredLeases(pool: Pool, random: () => number = Math.random): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await withTransaction(pool, async (tx) => {
      const expired = await lockExpiredLeases(tx, BATCH);
      return rescueExpired(
        tx,
        expired.map((j) => {
          const exhausted = j.attempts >= j.max_attempts;
          return {
            id: j.id,
            attempt: j.attempts,
            status: exhausted ? ('failed' as const) : ('retrying' as const),
            delayMs: exhausted ? 0 : backoffDelayMs(retryPolicyOf(j), j.attempts, random),
            owner: j.lease_owner,
          };
        }),
      );
    });
    total += n;
    if (n < BATCH) return total;
  }
}
