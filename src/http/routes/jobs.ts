// /v1/jobs and /v1/signing-secret. Every route needs a credential; jobs routes take a session or an API
// key with the scope named, the signing secret a session. The services scope all SQL to the user.
// Every job answered passes through jobsSeenBy: a schedule occurrence's request template is shown only
// to a credential that may read schedules.
import { Router, type Request, type RequestHandler } from 'express';
import type { JobsService } from '../../jobs/service.ts';
import { jobAsSeenBy, type JobJson } from '../../jobs/representation.ts';
import type { Logger } from '../../logger.ts';
import type { SigningSecrets } from '../../webhooks/secrets.ts';
import { credentialAllows, requireJson, requireScope, requireSession } from '../middleware.ts';

/** Jobs as this request's credential may see them: occurrences' templates need schedules:read. */
export function jobsSeenBy(req: Request): (job: JobJson) => JobJson {
  const mayReadSchedules = credentialAllows(req.credential, 'schedules:read');
  return (job) => jobAsSeenBy(job, mayReadSchedules);
}

export function jobsRoutes(deps: {
  /** Authenticates (bearer or console cookie): see middleware.ts. */
  requireUser: RequestHandler;
  jobs: JobsService;
  secrets: SigningSecrets;
  log: Logger;
  /** The JSON parser with the large limit, run only after authentication. */
  createJson: RequestHandler;
  /** The JSON parser for batches (JOB_BATCH_MAX_BYTES), also run only after authentication. */
  batchJson: RequestHandler;
}): Router {
  const r = Router();
  const { jobs, log } = deps;
  const changed = (req: Request, job: { id: string; status: string }, what: string) =>
    log.debug({ request_id: req.id, job_id: job.id, status: job.status }, `job ${what}`);
  r.use(['/v1/jobs', '/v1/signing-secret'], deps.requireUser);
  r.use('/v1/signing-secret', requireSession());
  const read = requireScope('jobs:read');
  const write = requireScope('jobs:write');

  r.post('/v1/jobs/batch', write, requireJson(), deps.batchJson, async (req, res) => {
    const { data, replayed } = await jobs.createBatch(req.user!.id, req.body);
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(replayed ? 200 : 201).json({ data: data.map(jobsSeenBy(req)) });
  });
  r.post('/v1/jobs', write, requireJson(), deps.createJson, async (req, res) => {
    const { job, replayed } = await jobs.create(req.user!.id, req.body, req.get('idempotency-key'));
    res.setHeader('Location', `/v1/jobs/${job.id}`);
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    else changed(req, job, 'created');
    res.status(replayed ? 200 : 201).json(jobsSeenBy(req)(job));
  });
  r.get('/v1/jobs', read, async (req, res) => {
    const page = await jobs.list(req.user!.id, req.query);
    res.json({ ...page, data: page.data.map(jobsSeenBy(req)) });
  });
  // Before /:id, which would otherwise take "counts" as an id.
  r.get('/v1/jobs/counts', read, async (req, res) => {
    res.json(await jobs.counts(req.user!.id, req.query));
  });
  r.get('/v1/jobs/:id', read, async (req, res) => {
    res.json(jobsSeenBy(req)(await jobs.get(req.user!.id, String(req.params.id))));
  });
  r.get('/v1/jobs/:id/executions', read, async (req, res) => {
    res.json(await jobs.executions(req.user!.id, String(req.params.id), req.query));
  });
  r.post('/v1/jobs/:id/cancel', write, async (req, res) => {
    const { attempt_in_flight, ...job } = await jobs.cancel(req.user!.id, String(req.params.id));
    changed(req, job, 'cancelled');
    res.json({ ...jobsSeenBy(req)(job), attempt_in_flight });
  });
  r.post('/v1/jobs/:id/retry', write, async (req, res) => {
    const job = await jobs.redrive(req.user!.id, String(req.params.id));
    changed(req, job, 're-driven');
    res.json(jobsSeenBy(req)(job));
  });

  r.get('/v1/signing-secret', async (req, res) => {
    res.set('Cache-Control', 'no-store');
    res.json(await deps.secrets.current(req.user!.id));
  });
  r.post('/v1/signing-secret/rotate', async (req, res) => {
    res.set('Cache-Control', 'no-store');
    res.json(await deps.secrets.rotate(req.user!.id));
  });
  return r;
}
