// The scheduler's Prometheus metrics, derived from what its services report (events.ts): the one
// place that turns events into metrics, so a service never touches them and a metric can be read
// off its event. The due backlog is the exception: a gauge measured when Prometheus scrapes.
import type { Gauge } from 'prom-client';
import type { Metrics } from '../observability/metrics.ts';
import type { SchedulerEvents } from './events.ts';

/** Keeps `metrics` up to date with what is reported on `events`. */
export function metricsFromEvents(events: SchedulerEvents, metrics: Metrics): void {
  events.on('dueNotClaimed', () => metrics.stuckWaits.inc());
  events.on('inFlight', ({ count }) => metrics.inFlight.set(count));
  events.on('requestEnded', (e) => {
    metrics.fireLateness.observe(e.lateMs / 1000);
    // A handed-back request was interrupted: its duration says nothing about the target.
    if (e.outcome !== 'handed_back') metrics.executionDuration.observe(e.durationMs / 1000);
  });
  events.on('attemptRecorded', ({ outcome }) => {
    metrics.executions.inc({ outcome });
    if (outcome === 'superseded') metrics.superseded.inc();
  });
  events.on('resultFallback', () => metrics.resultFallbacks.inc());
  events.on('reaped', ({ rescued }) => {
    if (rescued > 0) metrics.reaperRescues.inc(rescued);
  });
  events.on('deleted', ({ status, count }) => metrics.retentionDeleted.inc({ status }, count));
  events.on('occurrencePlanned', (p) => {
    if (p.kind === 'skipped') metrics.occurrencesSkipped.inc({ reason: p.reason });
    // Missed times skipped without ever being occurrences count as misfire skips too.
    else if (p.kind === 'missed') metrics.occurrencesSkipped.inc({ reason: 'misfire' }, p.count);
  });
}

/**
 * Makes `gauge` measure itself when Prometheus scrapes (prom-client calls a metric's `collect` on
 * every read), instead of a timer of its own querying whether anyone looks or not. A failed
 * measurement keeps the last value.
 */
export function measureOnScrape(gauge: Gauge, measure: () => Promise<number>): void {
  (gauge as unknown as { collect: () => Promise<void> }).collect = async () => {
    try {
      gauge.set(await measure());
    } catch {
      // database unavailable: the last value stands; readiness reports the outage
    }
  };
}
