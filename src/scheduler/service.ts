// The one shape of the scheduler's services (after River's baseservice and startstop):
// - constructor(deps, options): deps are what it is wired to (pool, logger, events, and callbacks
//   for what the rest of the scheduler must do on its word: abort a request, wake the claim loop);
//   options are its settings, documented field by field with their defaults;
// - start() / stop() when it runs on its own (StartStopService): start() runs it once, stop() ends
//   it and resolves when its work in progress has finished; stop() before start() resolves at once;
// - it reports only through `deps.events` (events.ts): tests wait on those, and the Prometheus
//   metrics are derived from them in one place (metricsFromEvents.ts). No service touches metrics.
import type { Logger } from '../logger.ts';
import type { SchedulerEvents } from './events.ts';

/** What every service is given (River's archetype). */
export interface ServiceDeps {
  log: Logger;
  events: SchedulerEvents;
}

/** A service that runs on its own between start() and stop(). */
export abstract class StartStopService {
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;

  /** Aborted by stop(): loops and long passes check it between steps. */
  protected get stopSignal(): AbortSignal {
    return this.abort.signal;
  }

  /** What the service does until `signal` aborts; the promise settles when it has left off. */
  protected abstract run(signal: AbortSignal): Promise<void>;

  /** Starts the service; a second call, or a call after stop(), does nothing. */
  start(): void {
    if (this.abort.signal.aborted) return;
    this.running ??= this.run(this.abort.signal);
  }

  /** Ends the service: resolves when what it was doing has finished (at once if it never started). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }
}
