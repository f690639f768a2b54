// The schedules use cases, one object for the routes and the process root: validation (cron, zone,
// minimum interval, the same request template as a job), idempotency, quotas, and the owner-scoped
// commands. The work is in writes.ts and reads.ts; the request schemas in schema.ts.
import type { JobLimits } from '../jobs/schema.ts';
import type { JobsService } from '../jobs/service.ts';
import type { TargetPolicy } from '../jobs/urlPolicy.ts';
import type { ScheduleView } from '../sql/schedules.ts';
import { getSchedule, listSchedules, previewSchedule, scheduleOccurrences } from './reads.ts';
import { scheduleJson, type NextRun } from './representation.ts';
import { createScheduleSchema, patchScheduleSchema, previewQuery, scheduleListQuery } from './schema.ts';
import {
  createSchedule,
  deleteSchedule,
  patchSchedule,
  setSchedulePaused,
  type WriteDeps,
} from './writes.ts';

export interface SchedulesServiceDeps extends WriteDeps {
  limits: JobLimits;
  policy: TargetPolicy;
  jobs: JobsService;
}

export class SchedulesService {
  private readonly create_: ReturnType<typeof createScheduleSchema>;
  private readonly patch_: ReturnType<typeof patchScheduleSchema>;

  constructor(private readonly deps: SchedulesServiceDeps) {
    this.create_ = createScheduleSchema(deps.limits, deps.policy);
    this.patch_ = patchScheduleSchema(deps.limits, deps.policy);
  }

  /** The request schemas this service validates with: the OpenAPI document is generated from them. */
  get schemas() {
    return { create: this.create_, patch: this.patch_, list: scheduleListQuery, preview: previewQuery };
  }

  async create(userId: string, body: unknown, idempotencyKey: string | undefined) {
    return createSchedule(this.deps, this.create_, userId, body, idempotencyKey);
  }

  async get(userId: string, id: string) {
    return getSchedule(this.deps.pool, userId, id);
  }

  async list(userId: string, query: unknown) {
    return listSchedules(this.deps.pool, userId, query);
  }

  /** Changes any fields; `ifMatch` (an ETag) makes it conditional. The pending occurrence is replaced. */
  async patch(userId: string, id: string, body: unknown, ifMatch: string | undefined) {
    return patchSchedule(this.deps, this.patch_, userId, id, body, ifMatch);
  }

  /** Pauses or resumes (from now: nothing missed is backfilled). */
  async setPaused(userId: string, id: string, paused: boolean) {
    return setSchedulePaused(this.deps, userId, id, paused);
  }

  /** Deletes the schedule; `ifMatch` (an ETag) makes it conditional. Past occurrences stay. */
  async delete(userId: string, id: string, ifMatch?: string): Promise<void> {
    return deleteSchedule(this.deps, userId, id, ifMatch);
  }

  /** The schedule's occurrences, paginated and filtered like the job list. */
  async occurrences(userId: string, id: string, query: unknown) {
    return scheduleOccurrences(this.deps, userId, id, query);
  }

  /** The next fire times of an expression, with no side effect. */
  async preview(query: unknown) {
    return previewSchedule(query);
  }

  /** A schedule as answers show it; `runs`: its next fire times computed already (by a write). */
  json(s: ScheduleView, runs?: NextRun[]) {
    return scheduleJson(s, runs);
  }
}
