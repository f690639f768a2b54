// The API's shapes as the console sees them, inferred from the server's response schemas: a field the
// server adds, drops or changes reaches the console's types, so a page that relies on it stops
// compiling. Type-only imports: no zod reaches the bundle. The one place web/ names where the schemas
// live (src/contract/<resource>.ts).
import type { z } from 'zod';
import type * as ApiKeys from '../../src/contract/apiKeys.ts';
import type * as Auth from '../../src/contract/auth.ts';
import type * as Errors from '../../src/contract/errors.ts';
import type * as Jobs from '../../src/contract/jobs.ts';
import type * as Schedules from '../../src/contract/schedules.ts';
import type * as Shared from '../../src/contract/shared.ts';
import type * as Signing from '../../src/contract/signingSecret.ts';

export type Job = z.output<typeof Jobs.Job>;
/** What POST /v1/jobs/:id/cancel answers: the job, and whether an attempt was stopped mid-flight. */
export type CancelledJob = z.output<typeof Jobs.CancelledJob>;
export type JobStatus = Job['status'];
export type JobRequest = z.output<typeof Shared.StoredRequest>;
export type RetryPolicy = z.output<typeof Shared.RetryPolicy>;
export type Execution = z.output<typeof Jobs.Execution>;
export type JobPage = z.output<typeof Jobs.JobPage>;
/**
 * The schema builds `counts` from the status list at run time, which types its keys as any string;
 * it holds every status (zeros included), so the console may index it by status.
 */
export type JobCounts = Omit<z.output<typeof Jobs.JobCounts>, 'counts'> & {
  counts: Record<JobStatus, number>;
};
export type ExecutionPage = z.output<typeof Jobs.ExecutionPage>;
export type FireTime = z.output<typeof Schedules.FireTime>;
export type Preview = z.output<typeof Schedules.Preview>;
export type Schedule = z.output<typeof Schedules.Schedule>;
export type SchedulePage = z.output<typeof Schedules.SchedulePage>;
export type ApiKey = z.output<typeof ApiKeys.ApiKey>;
export type ApiKeyCreated = z.output<typeof ApiKeys.ApiKeyCreated>;
export type ApiKeyList = z.output<typeof ApiKeys.ApiKeyList>;
export type Scope = ApiKey['scopes'][number];
export type SigningSecret = z.output<typeof Signing.SigningSecret>;
export type Me = z.output<typeof Auth.Me>;
export type ErrorEnvelope = z.output<typeof Errors.ErrorEnvelope>;
export type ValidationDetail = z.output<typeof Errors.ValidationDetail>;
