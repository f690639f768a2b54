-- Up Migration
-- The job state machine in the database: the same table as src/jobs/stateMachine.ts (a test checks
-- they agree) and a trigger that refuses any status change not in it. Terminal states stay terminal.
CREATE TABLE job_status_transitions (
  from_status text NOT NULL,
  to_status text NOT NULL,
  PRIMARY KEY (from_status, to_status)
);
INSERT INTO job_status_transitions (from_status, to_status) VALUES
  ('scheduled', 'running'), ('scheduled', 'cancelled'),
  ('running', 'succeeded'), ('running', 'retrying'), ('running', 'failed'), ('running', 'cancelled'),
  ('retrying', 'running'), ('retrying', 'cancelled'),
  ('failed', 'scheduled');

CREATE FUNCTION jobs_enforce_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status AND NOT EXISTS (
    SELECT 1 FROM job_status_transitions WHERE from_status = OLD.status AND to_status = NEW.status
  ) THEN
    RAISE EXCEPTION 'illegal job status transition % -> %', OLD.status, NEW.status
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER jobs_enforce_transition BEFORE UPDATE OF status ON jobs
  FOR EACH ROW EXECUTE FUNCTION jobs_enforce_transition();

-- Down Migration
DROP TRIGGER jobs_enforce_transition ON jobs;
DROP FUNCTION jobs_enforce_transition();
DROP TABLE job_status_transitions;
