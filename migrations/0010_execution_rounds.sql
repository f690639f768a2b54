-- Up Migration
-- Rounds of attempts. A re-drive gives a failed job a fresh attempts budget, and attempts count from
-- 1 again; executions were ordered by (attempt, id), so a job that failed 3 times and then succeeded
-- on re-drive listed 1 failed, 1 succeeded, 2 failed, 3 failed, and its last execution read "attempt
-- 3, failed" while the job had succeeded. Now the job carries its round (1, bumped by each re-drive)
-- and every execution the round it belongs to: executions are ordered by (round, attempt, id), the
-- order they happened in (a late, superseded result still sorts with the attempt it belongs to), and
-- the API shows "round 2, attempt 1".
ALTER TABLE jobs ADD COLUMN round integer NOT NULL DEFAULT 1 CONSTRAINT jobs_round_check CHECK (round >= 1);
ALTER TABLE job_executions ADD COLUMN round integer NOT NULL DEFAULT 1
  CONSTRAINT job_executions_round_check CHECK (round >= 1);

-- Existing rows: a re-drive shows as an attempt number that goes down, in write (id) order. A
-- superseded row is a late result of an earlier attempt and never starts a round.
WITH marked AS (
  SELECT id, job_id,
         coalesce(attempt < lag(attempt) OVER (PARTITION BY job_id ORDER BY id) AND outcome <> 'superseded', false)
           AS restart
    FROM job_executions
), numbered AS (
  SELECT id, 1 + count(*) FILTER (WHERE restart) OVER (PARTITION BY job_id ORDER BY id) AS round FROM marked
)
UPDATE job_executions e SET round = n.round FROM numbered n WHERE e.id = n.id AND n.round > 1;

-- A job is in the round of its newest executions, or in the next one if it was re-driven since: its
-- attempts count is below the highest attempt recorded in that round (or equal to it while running,
-- since a running attempt has no row yet).
WITH last AS (
  SELECT DISTINCT ON (job_id) job_id, round FROM job_executions ORDER BY job_id, round DESC
), top AS (
  SELECT e.job_id, l.round, max(e.attempt) AS attempt
    FROM job_executions e JOIN last l ON l.job_id = e.job_id AND l.round = e.round
   GROUP BY e.job_id, l.round
), fixed AS (
  SELECT t.job_id,
         t.round + (j.attempts < t.attempt OR (j.status = 'running' AND j.attempts = t.attempt))::int AS round
    FROM top t JOIN jobs j ON j.id = t.job_id
)
UPDATE jobs j SET round = t.round FROM fixed t WHERE j.id = t.job_id AND t.round > 1;

DROP INDEX job_executions_job_attempt_idx;
CREATE INDEX job_executions_job_round_attempt_idx ON job_executions (job_id, round, attempt, id);

-- Down Migration
DROP INDEX job_executions_job_round_attempt_idx;
CREATE INDEX job_executions_job_attempt_idx ON job_executions (job_id, attempt, id);
ALTER TABLE job_executions DROP COLUMN round;
ALTER TABLE jobs DROP COLUMN round;
