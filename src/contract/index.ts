// The API contract: every operation, in the document's order, the named response schemas, the guarded
// prefixes, and the request schemas a deployment hands in. The registrar, the OpenAPI document, the
// fuzz suite and the contract tests read these and nothing else.
import { z, type ZodType } from 'zod';
import type { JobsService } from '../jobs/service.ts';
import type { SchedulesService } from '../schedules/service.ts';
import { apiKeyGuards, apiKeyOperations, apiKeySchemas } from './apiKeys.ts';
import { authOperations, authSchemas } from './auth.ts';
import { docsOperations } from './docs.ts';
import { errorSchemas } from './errors.ts';
import { healthOperations, healthSchemas } from './health.ts';
import { jobGuards, jobOperations, jobSchemas } from './jobs.ts';
import { scheduleGuards, scheduleOperations, scheduleSchemas } from './schedules.ts';
import { RetryPolicy, StoredRequest } from './shared.ts';
import { signingSecretGuards, signingSecretOperations, signingSecretSchemas } from './signingSecret.ts';
import type { Guard, OperationSpec, RequestSchemas } from './types.ts';

export * from './types.ts';

/** Every operation of the API, in the order the document lists them. */
export const OPERATIONS: readonly OperationSpec[] = [
  ...Object.values(authOperations),
  ...Object.values(apiKeyOperations),
  ...Object.values(jobOperations),
  ...Object.values(signingSecretOperations),
  ...Object.values(scheduleOperations),
  ...Object.values(healthOperations),
  ...Object.values(docsOperations),
];

/** Prefixes whose every request needs a credential (or a session), known route or not. */
export const GUARDS: readonly Guard[] = [
  ...apiKeyGuards,
  ...scheduleGuards,
  ...jobGuards,
  ...signingSecretGuards,
];

/** The named response schemas (`components.schemas` of the document, referenced by id), in order. */
export const COMPONENTS = z.registry<{ id: string }>();
const named: Record<string, ZodType> = {
  StoredRequest,
  RetryPolicy,
  ...jobSchemas,
  ...scheduleSchemas,
  ...apiKeySchemas,
  ...authSchemas,
  ...signingSecretSchemas,
  ...healthSchemas,
  ...errorSchemas,
};
for (const [id, schema] of Object.entries(named)) COMPONENTS.add(schema, { id });

/** The request schemas the services validate with (the job's limits are this deployment's). */
export function requestSchemas(services: {
  jobs: Pick<JobsService, 'schemas'>;
  schedules: Pick<SchedulesService, 'schemas'>;
}): RequestSchemas {
  const { jobs, schedules } = services;
  return {
    jobCreate: jobs.schemas.create,
    jobList: jobs.schemas.list,
    jobCounts: jobs.schemas.counts,
    executions: jobs.schemas.executions,
    scheduleCreate: schedules.schemas.create,
    schedulePatch: schedules.schemas.patch,
    scheduleList: schedules.schemas.list,
    preview: schedules.schemas.preview,
  };
}
