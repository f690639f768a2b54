-- Up Migration
-- A lease is its three fields (token, owner, expiry) or none, and only a running job has one. The old CHECK said only
-- "running iff token, owner and expiry are all set", so a scheduled row with a token but no owner
-- passed it. The scheduler's fenced writes match on id + lease token alone (src/sql/fragments.ts,
-- holdsLease: testing the status would let the planner scan the running-jobs index), which is only
-- sound if a token implies status = 'running'. Every writer already clears the lease whole
-- (RELEASE_LEASE), so existing rows satisfy the stronger rule; NOT VALID + VALIDATE checks them
-- without blocking writes for the whole scan.
ALTER TABLE jobs DROP CONSTRAINT jobs_lease_iff_running;
ALTER TABLE jobs ADD CONSTRAINT jobs_lease_iff_running CHECK (
  (status = 'running') = (lease_token IS NOT NULL)
  AND (lease_token IS NULL) = (lease_owner IS NULL)
  AND (lease_token IS NULL) = (lease_expires_at IS NULL)
) NOT VALID;
ALTER TABLE jobs VALIDATE CONSTRAINT jobs_lease_iff_running;

-- Down Migration
ALTER TABLE jobs DROP CONSTRAINT jobs_lease_iff_running;
ALTER TABLE jobs ADD CONSTRAINT jobs_lease_iff_running CHECK (
  (status = 'running') = (lease_token IS NOT NULL AND lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)
);
