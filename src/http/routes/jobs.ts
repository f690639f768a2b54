// /v1/jobs and /v1/signing-secret, on the contract's operations (src/contract/jobs.ts,
// signingSecret.ts): the registrar applies access and parsing, these handlers call the services, which
// scope all SQL to the user. Every job answered passes through jobsSeenBy: a schedule occurrence's
// request template is shown only to a credential that may read schedules.
import type { Request, Router } from 'express';
import { jobGuards, jobOperations as ops } from '../../contract/jobs.ts';
import { signingSecretGuards, signingSecretOperations } from '../../contract/signingSecret.ts';
import type { JobsService } from '../../jobs/service.ts';
import { jobAsSeenBy, type JobJson } from '../../jobs/representation.ts';
import type { Logger } from '../../logger.ts';
import type { SigningSecrets } from '../../webhooks/secrets.ts';
import { credentialAllows } from '../middleware.ts';
import type { Registrar } from '../registrar.ts';

/** Jobs as this request's credential may see them: occurrences' templates need schedules:read. */
export function jobsSeenBy(req: Request): (job: JobJson) => JobJson {
  const mayReadSchedules = credentialAllows(req.credential, 'schedules:read');
  return (job) => jobAsSeenBy(job, mayReadSchedules);
}

export function jobsRoutes(deps: {
  routes: Registrar;
  jobs: JobsService;
  secrets: SigningSecrets;
  log: Logger;
}): Router {
  const { jobs, secrets, log } = deps;
  const r = deps.routes.router([...jobGuards, ...signingSecretGuards]);
  const changed = (req: Request, job: { id: string; status: string }, what: string) =>
    log.debug({ request_id: req.id, job_id: job.id, status: job.status }, `job ${what}`);

  r.json(ops.createJobs, async ({ req, user, body }) => {
    const { data, replayed } = await jobs.createBatch(user.id, body);
    return { status: replayed ? 200 : 201, body: { data: data.map(jobsSeenBy(req)) } };
  });
  r.json(ops.createJob, async ({ req, user, body }) => {
    const { job, replayed } = await jobs.create(user.id, body, req.get('idempotency-key'));
    if (!replayed) changed(req, job, 'created');
    return {
      status: replayed ? 200 : 201,
      body: jobsSeenBy(req)(job),
      headers: { Location: `/v1/jobs/${job.id}` },
    };
  });
  r.json(ops.listJobs, async ({ req, user }) => {
    const page = await jobs.list(user.id, req.query);
    return { status: 200, body: { ...page, data: page.data.map(jobsSeenBy(req)) } };
  });
  r.json(ops.countJobs, async ({ req, user }) => ({
    status: 200,
    body: await jobs.counts(user.id, req.query),
  }));
  r.json(ops.getJob, async ({ req, user, id }) => ({
    status: 200,
    body: jobsSeenBy(req)(await jobs.get(user.id, id)),
  }));
  r.json(ops.listExecutions, async ({ req, user, id }) => ({
    status: 200,
    body: await jobs.executions(user.id, id, req.query),
  }));
  r.json(ops.cancelJob, async ({ req, user, id }) => {
    const { attempt_in_flight, ...job } = await jobs.cancel(user.id, id);
    changed(req, job, 'cancelled');
    return { status: 200, body: { ...jobsSeenBy(req)(job), attempt_in_flight } };
  });
  r.json(ops.retryJob, async ({ req, user, id }) => {
    const job = await jobs.redrive(user.id, id);
    changed(req, job, 're-driven');
    return { status: 200, body: jobsSeenBy(req)(job) };
  });

  r.json(signingSecretOperations.getSigningSecret, async ({ user }) => ({
    status: 200,
    body: await secrets.current(user.id),
  }));
  r.json(signingSecretOperations.rotateSigningSecret, async ({ user }) => ({
    status: 200,
    body: await secrets.rotate(user.id),
  }));
  return r.router;
}
