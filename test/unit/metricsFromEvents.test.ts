// The scheduler's metrics are read off its events (metricsFromEvents.ts), and a listener that throws
// never fails the service that reported (SchedulerEvents).
import { describe, expect, it } from 'vitest';
import { SchedulerEvents } from '../../src/scheduler/events.ts';
import { metricsFromEvents } from '../../src/scheduler/metricsFromEvents.ts';
import { Metrics } from '../../src/observability/metrics.ts';

async function value(metrics: Metrics, name: string, labels = ''): Promise<number | undefined> {
  const text = await metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('metricsFromEvents', () => {
  it('derives every scheduler metric from its event, with the names and labels /metrics shows', async () => {
    const events = new SchedulerEvents();
    const metrics = new Metrics();
    metricsFromEvents(events, metrics);
    const id = '00000000-0000-0000-0000-000000000001';
    events.emit('dueNotClaimed', { retryInMs: 50 });
    events.emit('inFlight', { count: 3 });
    events.emit('inFlight', { count: 2 });
    const ended = { jobId: id, round: 1, attempt: 1, lateMs: 20, durationMs: 1500 };
    events.emit('requestEnded', { ...ended, outcome: 'succeeded' });
    events.emit('requestEnded', { ...ended, outcome: 'handed_back' });
    const recorded = { jobId: id, round: 1, attempt: 1 };
    events.emit('attemptRecorded', { ...recorded, outcome: 'succeeded', status: 'succeeded' });
    events.emit('attemptRecorded', { ...recorded, outcome: 'superseded', status: null });
    events.emit('resultFallback', { jobId: id, attempt: 1 });
    events.emit('reaped', { rescued: 0 });
    events.emit('reaped', { rescued: 4 });
    events.emit('deleted', { status: 'failed', count: 7 });
    const at = new Date();
    events.emit('occurrencePlanned', { kind: 'created', scheduleId: id, scheduledFor: at, catchUp: false });
    events.emit('occurrencePlanned', {
      kind: 'skipped',
      scheduleId: id,
      scheduledFor: at,
      jobId: id,
      reason: 'overlap',
    });
    events.emit('occurrencePlanned', {
      kind: 'skipped',
      scheduleId: id,
      scheduledFor: at,
      jobId: id,
      reason: 'misfire',
    });
    events.emit('occurrencePlanned', { kind: 'missed', scheduleId: id, count: 5 });

    expect(await value(metrics, 'djs_scheduler_stuck_waits_total')).toBe(1);
    expect(await value(metrics, 'djs_jobs_in_flight')).toBe(2);
    // Lateness for both; the handed-back request's duration says nothing about the target.
    expect(await value(metrics, 'djs_job_fire_lateness_seconds_count')).toBe(2);
    expect(await value(metrics, 'djs_job_fire_lateness_seconds_bucket', '{le="0.02"}')).toBe(2);
    expect(await value(metrics, 'djs_job_execution_duration_seconds_count')).toBe(1);
    expect(await value(metrics, 'djs_job_execution_duration_seconds_sum')).toBe(1.5);
    expect(await value(metrics, 'djs_job_executions_total', '{outcome="succeeded"}')).toBe(1);
    expect(await value(metrics, 'djs_job_executions_total', '{outcome="superseded"}')).toBe(1);
    expect(await value(metrics, 'djs_superseded_results_total')).toBe(1);
    expect(await value(metrics, 'djs_result_fallback_rows_total')).toBe(1);
    expect(await value(metrics, 'djs_reaper_rescues_total')).toBe(4);
    expect(await value(metrics, 'djs_retention_deleted_jobs_total', '{status="failed"}')).toBe(7);
    expect(await value(metrics, 'djs_occurrences_skipped_total', '{reason="overlap"}')).toBe(1);
    // The claimed occurrence skipped as missed, and the missed times that never became one.
    expect(await value(metrics, 'djs_occurrences_skipped_total', '{reason="misfire"}')).toBe(6);
  });
});

describe('SchedulerEvents', () => {
  it('a listener that throws is handed to listenerFailed; emit() does not throw and later events still arrive', () => {
    const failed: [string, string][] = [];
    const events = new SchedulerEvents((err, event) => failed.push([(err as Error).message, event]));
    const got: number[] = [];
    events.on('reaped', ({ rescued }) => {
      if (rescued === 1) throw new Error('listener bug');
      got.push(rescued);
    });
    expect(() => events.emit('reaped', { rescued: 1 })).not.toThrow();
    events.emit('reaped', { rescued: 2 });
    expect(failed).toEqual([['listener bug', 'reaped']]);
    expect(got).toEqual([2]);
  });
});
