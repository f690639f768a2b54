// /v1/schedules: recurring requests. A session or an API key with schedules:read (GETs) or
// schedules:write (everything else); the service scopes all SQL to the user.
import { Router, type RequestHandler, type Response } from 'express';
import type { SchedulesService } from '../../schedules/service.ts';
import type { Logger } from '../../logger.ts';
import { requireJson, requireScope } from '../middleware.ts';
import { jobsSeenBy } from './jobs.ts';

export function schedulesRoutes(deps: {
  /** Authenticates (bearer or console cookie): see middleware.ts. */
  requireUser: RequestHandler;
  schedules: SchedulesService;
  log: Logger;
}): Router {
  const r = Router();
  const { schedules, log } = deps;
  const read = requireScope('schedules:read');
  const write = requireScope('schedules:write');
  const send = (res: Response, s: { etag: string }, status = 200) => {
    res.setHeader('ETag', s.etag);
    res.status(status).json(s);
  };
  r.use('/v1/schedules', deps.requireUser);

  // Before /:id, which would otherwise take "preview" as an id.
  r.get('/v1/schedules/preview', read, async (req, res) => {
    res.json(await schedules.preview(req.query));
  });
  r.post('/v1/schedules', write, requireJson(), async (req, res) => {
    const { schedule, replayed } = await schedules.create(req.user!.id, req.body, req.get('idempotency-key'));
    res.setHeader('Location', `/v1/schedules/${schedule.id}`);
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    else log.debug({ request_id: req.id, schedule_id: schedule.id }, 'schedule created');
    send(res, schedule, replayed ? 200 : 201);
  });
  r.get('/v1/schedules', read, async (req, res) => {
    res.json(await schedules.list(req.user!.id, req.query));
  });
  r.get('/v1/schedules/:id', read, async (req, res) => {
    send(res, await schedules.get(req.user!.id, String(req.params.id)));
  });
  r.patch('/v1/schedules/:id', write, requireJson(), async (req, res) => {
    send(res, await schedules.patch(req.user!.id, String(req.params.id), req.body, req.get('if-match')));
  });
  r.post('/v1/schedules/:id/pause', write, async (req, res) => {
    send(res, await schedules.setPaused(req.user!.id, String(req.params.id), true));
  });
  r.post('/v1/schedules/:id/resume', write, async (req, res) => {
    send(res, await schedules.setPaused(req.user!.id, String(req.params.id), false));
  });
  r.delete('/v1/schedules/:id', write, async (req, res) => {
    await schedules.delete(req.user!.id, String(req.params.id), req.get('if-match'));
    res.status(204).end();
  });
  r.get('/v1/schedules/:id/jobs', read, async (req, res) => {
    // schedules:read was required, so these are in full; the one rule applies all the same.
    const page = await schedules.occurrences(req.user!.id, String(req.params.id), req.query);
    res.json({ ...page, data: page.data.map(jobsSeenBy(req)) });
  });
  return r;
}
