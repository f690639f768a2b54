-- Up Migration
-- The whole data model. Invariants live here as constraints, so a bug in one process cannot store a
-- state the others do not understand.

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Stored normalised (trimmed, lower-case); the CHECK makes "unique" mean "unique case-insensitively".
  email text NOT NULL CHECK (email = lower(btrim(email)) AND length(email) BETWEEN 3 AND 254),
  -- Bumped by logout: every session token carrying an older version is refused.
  token_version integer NOT NULL DEFAULT 0 CHECK (token_version >= 0),
  -- Webhook signing secrets are derived from SECRETS_KEY and this version, so a dump holds no secret.
  signing_key_version integer NOT NULL DEFAULT 1 CHECK (signing_key_version >= 1),
  signing_prev_version integer CHECK (signing_prev_version >= 1),
  signing_prev_valid_until timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_email_key UNIQUE (email),
  CONSTRAINT users_prev_signing_pair CHECK ((signing_prev_version IS NULL) = (signing_prev_valid_until IS NULL))
);

CREATE TABLE magic_links (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  email text NOT NULL CHECK (email = lower(btrim(email))),
  -- SHA-256 of the token; the token itself is never stored.
  token_hash bytea NOT NULL CHECK (octet_length(token_hash) = 32),
  requested_ip inet,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  -- Set when a newer link for the same email replaced this one.
  revoked_at timestamptz,
  CONSTRAINT magic_links_token_hash_key UNIQUE (token_hash),
  CONSTRAINT magic_links_expiry_after_creation CHECK (expires_at > created_at)
);
CREATE INDEX magic_links_email_created_idx ON magic_links (email, created_at DESC);
CREATE INDEX magic_links_ip_created_idx ON magic_links (requested_ip, created_at DESC);

CREATE TABLE jobs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Keyset pagination order: strictly increasing, unlike created_at (ties) or id (random).
  seq bigint GENERATED ALWAYS AS IDENTITY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name text CHECK (length(name) <= 200),
  method text NOT NULL CHECK (method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
  url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
  headers jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(headers) = 'object'),
  body text,
  fire_at timestamptz NOT NULL,
  next_attempt_at timestamptz NOT NULL,
  timeout_ms integer NOT NULL CHECK (timeout_ms BETWEEN 1 AND 3600000),
  retry_strategy text NOT NULL CHECK (retry_strategy IN ('linear', 'exponential')),
  max_attempts integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 100),
  base_delay_ms integer NOT NULL CHECK (base_delay_ms >= 0),
  max_delay_ms integer NOT NULL CHECK (max_delay_ms >= base_delay_ms),
  status text NOT NULL DEFAULT 'scheduled'
    CHECK (status IN ('scheduled', 'running', 'retrying', 'succeeded', 'failed', 'cancelled')),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0 AND attempts <= max_attempts),
  lease_token uuid,
  lease_owner text,
  lease_expires_at timestamptz,
  heartbeat_at timestamptz,
  idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  -- SHA-256 of the canonical create request: same key + other body is a conflict, not a replay.
  request_hash bytea,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  CONSTRAINT jobs_body_not_with_get CHECK (method <> 'GET' OR body IS NULL),
  -- A running job always holds a lease, and only a running job does.
  CONSTRAINT jobs_lease_iff_running CHECK (
    (status = 'running') = (lease_token IS NOT NULL AND lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)
  ),
  -- Terminal states carry their completion time; live states do not.
  CONSTRAINT jobs_completed_iff_terminal CHECK (
    (status IN ('succeeded', 'failed', 'cancelled')) = (completed_at IS NOT NULL)
  ),
  CONSTRAINT jobs_idempotency_pair CHECK ((idempotency_key IS NULL) = (request_hash IS NULL))
);
CREATE UNIQUE INDEX jobs_user_idempotency_key ON jobs (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
-- "Due and claimable": only live rows are in it, so it stays small with millions of finished jobs.
CREATE INDEX jobs_claimable_idx ON jobs (next_attempt_at) WHERE status IN ('scheduled', 'retrying');
-- Running jobs (few: bounded by total concurrency): per-user counts for the fairness cap, and the
-- reaper's scan for expired leases.
CREATE INDEX jobs_running_idx ON jobs (user_id, lease_expires_at) WHERE status = 'running';
-- Quotas: waiting jobs per user. Running jobs are counted through jobs_running_idx, so a claim
-- (scheduled → running) does not also have to insert into this index.
CREATE INDEX jobs_user_waiting_idx ON jobs (user_id) WHERE status IN ('scheduled', 'retrying');
-- Listing: a user's jobs, newest first. (seq is unique by construction: GENERATED ALWAYS.)
CREATE INDEX jobs_user_seq_idx ON jobs (user_id, seq DESC);

CREATE TABLE job_executions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  attempt integer NOT NULL CHECK (attempt >= 1),
  worker_id text,
  started_at timestamptz,
  finished_at timestamptz NOT NULL DEFAULT now(),
  duration_ms integer CHECK (duration_ms >= 0),
  outcome text NOT NULL CHECK (outcome IN
    ('succeeded', 'failed', 'timeout', 'network_error', 'blocked', 'lost', 'cancelled', 'superseded')),
  status_code integer CHECK (status_code BETWEEN 100 AND 599),
  error text CHECK (length(error) <= 2000),
  response_body text,
  response_truncated boolean NOT NULL DEFAULT false
);
CREATE INDEX job_executions_job_attempt_idx ON job_executions (job_id, attempt, id);

-- Down Migration
DROP TABLE job_executions;
DROP TABLE jobs;
DROP TABLE magic_links;
DROP TABLE users;
