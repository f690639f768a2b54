-- Up Migration
-- Response bodies are stored losslessly: as text when they are valid UTF-8 without NUL (Postgres
-- `text` can hold neither NUL nor invalid UTF-8), otherwise as base64 of the raw bytes. The column
-- says which, so a reader never has to guess.
ALTER TABLE job_executions
  ADD COLUMN response_body_encoding text NOT NULL DEFAULT 'utf8'
    CONSTRAINT job_executions_response_body_encoding_check CHECK (response_body_encoding IN ('utf8', 'base64'));

-- Retention: the cleaner deletes finished jobs oldest first, per status. Only finished rows are in
-- this index, so claims and status changes between live states never touch it.
CREATE INDEX jobs_finished_idx ON jobs (status, completed_at) WHERE completed_at IS NOT NULL;

-- Down Migration
DROP INDEX jobs_finished_idx;
ALTER TABLE job_executions DROP COLUMN response_body_encoding;
