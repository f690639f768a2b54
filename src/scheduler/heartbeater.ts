// Renews the leases this scheduler holds — requests in flight and results not yet written — in one
// batched UPDATE per beat. A lease missing from the answer was lost (the user cancelled the job, or a
// reaper took it back after we stalled): its request is aborted, since someone else owns the job now.
import type { Pool } from '../db/pool.ts';
import { heartbeat } from '../sql/leases.ts';
import { PeriodicService } from './periodic.ts';
import type { ServiceDeps } from './service.ts';

export interface HeartbeaterOptions {
  /** Time between beats (SCHEDULER_HEARTBEAT_INTERVAL_MS, default 5 000; at most half the lease). */
  intervalMs: number;
  /** Lease length each beat extends to, from now (SCHEDULER_LEASE_MS, default 30 000). */
  leaseMs: number;
}

export interface Lease {
  id: string;
  leaseToken: string;
}

export interface HeartbeaterDeps extends ServiceDeps {
  pool: Pool;
  /** The leases to renew now. */
  leases(): Lease[];
  /** Called for each lease the database no longer grants us. */
  onLost(lease: Lease): void;
}

export class Heartbeater extends PeriodicService {
  constructor(
    private readonly deps: HeartbeaterDeps,
    private readonly opts: HeartbeaterOptions,
  ) {
    super();
  }

  /** One beat; never throws (a failed beat is retried by the next one, well within the lease). */
  async beatOnce(): Promise<{ held: number; lost: number }> {
    const leases = this.deps.leases();
    if (leases.length === 0) return { held: 0, lost: 0 };
    try {
      const held = await heartbeat(this.deps.pool, leases, this.opts.leaseMs);
      const lost = leases.filter((l) => !held.has(l.id));
      for (const l of lost) this.deps.onLost(l);
      const r = { held: held.size, lost: lost.length };
      this.deps.events.emit('heartbeat', r);
      return r;
    } catch (err) {
      this.deps.log.warn({ err: { message: (err as Error).message } }, 'heartbeat failed');
      return { held: 0, lost: 0 };
    }
  }

  protected timing() {
    return { intervalMs: this.opts.intervalMs, firstDelayMs: this.opts.intervalMs };
  }

  protected pass() {
    return this.beatOnce();
  }

  protected passFailed() {
    // beatOnce() reports its own failures.
  }
}
