// /v1/schedules on the contract's operations (src/contract/schedules.ts): the registrar applies access
// and parsing, these handlers call the service, which scopes all SQL to the user.
import type { Router } from 'express';
import { scheduleGuards, scheduleOperations as ops } from '../../contract/schedules.ts';
import type { Logger } from '../../logger.ts';
import type { SchedulesService } from '../../schedules/service.ts';
import type { Registrar } from '../registrar.ts';
import { jobsSeenBy } from './jobs.ts';

export function schedulesRoutes(deps: {
  routes: Registrar;
  schedules: SchedulesService;
  log: Logger;
}): Router {
  const { schedules, log } = deps;
  const r = deps.routes.router(scheduleGuards);
  /** A schedule answered with its version in ETag. */
  const answer = <S extends { etag: string }>(s: S) => ({
    status: 200 as const,
    body: s,
    headers: { ETag: s.etag },
  });

  // Before /{id}, which would otherwise take "preview" as an id (the registrar checks the order).
  r.json(ops.previewSchedule, async ({ req }) => ({ status: 200, body: await schedules.preview(req.query) }));
  r.json(ops.createSchedule, async ({ req, user, body }) => {
    const { schedule, replayed } = await schedules.create(user.id, body, req.get('idempotency-key'));
    if (!replayed) log.debug({ request_id: req.id, schedule_id: schedule.id }, 'schedule created');
    return {
      status: replayed ? 200 : 201,
      body: schedule,
      headers: { ETag: schedule.etag, Location: `/v1/schedules/${schedule.id}` },
    };
  });
  r.json(ops.listSchedules, async ({ req, user }) => ({
    status: 200,
    body: await schedules.list(user.id, req.query),
  }));
  r.json(ops.getSchedule, async ({ user, id }) => answer(await schedules.get(user.id, id)));
  r.json(ops.updateSchedule, async ({ req, user, id }) =>
    answer(await schedules.patch(user.id, id, req.body, req.get('if-match'))),
  );
  r.json(ops.pauseSchedule, async ({ user, id }) => answer(await schedules.setPaused(user.id, id, true)));
  r.json(ops.resumeSchedule, async ({ user, id }) => answer(await schedules.setPaused(user.id, id, false)));
  r.json(ops.deleteSchedule, async ({ req, user, id }) => {
    await schedules.delete(user.id, id, req.get('if-match'));
    return { status: 204 };
  });
  r.json(ops.listScheduleJobs, async ({ req, user, id }) => {
    // schedules:read was required, so these are in full; the one rule applies all the same.
    const page = await schedules.occurrences(user.id, id, req.query);
    return { status: 200, body: { ...page, data: page.data.map(jobsSeenBy(req)) } };
  });
  return r.router;
}
