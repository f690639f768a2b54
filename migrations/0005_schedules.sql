-- Up Migration
-- Recurring schedules. Each occurrence is an ordinary job (schedule_id, scheduled_for); the schedule
-- holds the request template, the cron expression and its zone, and how far it has been planned.
CREATE TABLE schedules (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Keyset pagination order, as for jobs.
  seq bigint GENERATED ALWAYS AS IDENTITY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name text CHECK (length(name) BETWEEN 1 AND 200),
  cron text NOT NULL CHECK (length(cron) BETWEEN 1 AND 200),
  timezone text NOT NULL CHECK (length(timezone) BETWEEN 1 AND 64),
  method text NOT NULL CHECK (method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
  url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
  headers jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(headers) = 'object'),
  body text,
  timeout_ms integer NOT NULL CHECK (timeout_ms BETWEEN 1 AND 3600000),
  retry_strategy text NOT NULL CHECK (retry_strategy IN ('linear', 'exponential')),
  max_attempts integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
  base_delay_ms integer NOT NULL CHECK (base_delay_ms >= 0),
  max_delay_ms integer NOT NULL CHECK (max_delay_ms >= base_delay_ms),
  start_at timestamptz,
  end_at timestamptz,
  overlap text NOT NULL DEFAULT 'allow' CHECK (overlap IN ('allow', 'skip')),
  misfire text NOT NULL DEFAULT 'run_once' CHECK (misfire IN ('skip', 'run_once', 'run_all')),
  paused boolean NOT NULL DEFAULT false,
  -- The latest fire time turned into an occurrence job (null: none yet). The next occurrence is the
  -- first fire time after it; the unique index on jobs makes each (schedule, time) exist once.
  planned_until timestamptz,
  -- Set when no fire time is left (end_at passed, or an expression that never fires again).
  finished_at timestamptz,
  -- Bumped by every change a client makes; the ETag, so PATCH with If-Match can refuse stale edits.
  version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
  idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  request_hash bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT schedules_body_not_with_get CHECK (method <> 'GET' OR body IS NULL),
  CONSTRAINT schedules_window CHECK (end_at IS NULL OR start_at IS NULL OR end_at > start_at),
  CONSTRAINT schedules_idempotency_pair CHECK ((idempotency_key IS NULL) = (request_hash IS NULL))
);
CREATE UNIQUE INDEX schedules_user_idempotency_key ON schedules (user_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX schedules_user_seq_idx ON schedules (user_id, seq DESC);
-- The materializer's work list: live schedules, by how far they are planned.
CREATE INDEX schedules_live_idx ON schedules (planned_until NULLS FIRST) WHERE NOT paused AND finished_at IS NULL;

-- Occurrences. Deleting a schedule keeps its past occurrences (their history) as plain jobs.
ALTER TABLE jobs
  ADD COLUMN schedule_id uuid REFERENCES schedules (id) ON DELETE SET NULL,
  ADD COLUMN scheduled_for timestamptz,
  -- A catch-up run of a time missed while every scheduler was down (misfire run_once / run_all).
  ADD COLUMN catch_up boolean NOT NULL DEFAULT false,
  ADD CONSTRAINT jobs_occurrence_pair CHECK (schedule_id IS NULL OR scheduled_for IS NOT NULL);
-- One job per (schedule, fire time), however many schedulers plan at once. A cancelled occurrence
-- (pause, edit, delete) frees its time, so resuming or editing can plan that time again.
CREATE UNIQUE INDEX jobs_schedule_occurrence_idx ON jobs (schedule_id, scheduled_for)
  WHERE schedule_id IS NOT NULL AND status <> 'cancelled';
-- A schedule's occurrences, newest first (GET /v1/schedules/{id}/jobs), and its live ones (overlap).
CREATE INDEX jobs_schedule_seq_idx ON jobs (schedule_id, seq DESC) WHERE schedule_id IS NOT NULL;

-- An occurrence not fired because the previous one still ran (overlap: skip) or because its time was
-- missed while every scheduler was down (misfire: skip) is recorded with this outcome.
ALTER TABLE job_executions DROP CONSTRAINT job_executions_outcome_check;
ALTER TABLE job_executions ADD CONSTRAINT job_executions_outcome_check CHECK (outcome IN
  ('succeeded', 'failed', 'timeout', 'network_error', 'blocked', 'lost', 'cancelled', 'superseded', 'skipped'));

-- Down Migration
DELETE FROM job_executions WHERE outcome = 'skipped';
ALTER TABLE job_executions DROP CONSTRAINT job_executions_outcome_check;
ALTER TABLE job_executions ADD CONSTRAINT job_executions_outcome_check CHECK (outcome IN
  ('succeeded', 'failed', 'timeout', 'network_error', 'blocked', 'lost', 'cancelled', 'superseded'));
DROP INDEX jobs_schedule_seq_idx;
DROP INDEX jobs_schedule_occurrence_idx;
ALTER TABLE jobs DROP CONSTRAINT jobs_occurrence_pair, DROP COLUMN catch_up, DROP COLUMN scheduled_for,
  DROP COLUMN schedule_id;
DROP TABLE schedules;
