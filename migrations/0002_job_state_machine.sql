-- Up Migration
-- The job state machine in the database: the same table as src/jobs/stateMachine.ts (a test checks
-- they agree for every pair of states) and a trigger that refuses any status change not in it.
-- The check is an immutable SQL function in the trigger's WHEN clause, so an allowed transition
-- costs one array lookup and no PL/pgSQL call (this UPDATE runs twice per attempt).
CREATE FUNCTION job_transition_allowed(from_status text, to_status text) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN from_status = to_status OR (from_status || '>' || to_status) = ANY (ARRAY[
    'scheduled>running', 'scheduled>cancelled',
    'running>succeeded', 'running>retrying', 'running>failed', 'running>cancelled',
    'retrying>running', 'retrying>cancelled',
    'failed>scheduled'
  ]);

CREATE FUNCTION jobs_refuse_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'illegal job status transition % -> %', OLD.status, NEW.status
    USING ERRCODE = 'check_violation';
END $$;

CREATE TRIGGER jobs_enforce_transition BEFORE UPDATE OF status ON jobs
  FOR EACH ROW WHEN (NOT job_transition_allowed(OLD.status, NEW.status))
  EXECUTE FUNCTION jobs_refuse_transition();

-- Down Migration
DROP TRIGGER jobs_enforce_transition ON jobs;
DROP FUNCTION jobs_refuse_transition();
DROP FUNCTION job_transition_allowed(text, text);
