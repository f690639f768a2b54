-- Up Migration
-- API keys: long-lived, scoped, revocable credentials for backends. Only a SHA-256 of the key is
-- stored; the key itself is shown once, at creation.
CREATE TABLE api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Deleting a user deletes (revokes) all of their keys.
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  scopes text[] NOT NULL CHECK (
    cardinality(scopes) >= 1
    AND scopes <@ ARRAY['jobs:read', 'jobs:write', 'schedules:read', 'schedules:write']::text[]
  ),
  key_hash bytea NOT NULL CHECK (octet_length(key_hash) = 32),
  -- Shown in lists so a user can tell keys apart: the start and the last four characters.
  prefix text NOT NULL CHECK (length(prefix) BETWEEN 4 AND 20),
  last_four text NOT NULL CHECK (length(last_four) = 4),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz CHECK (expires_at > created_at),
  -- Written at most once a minute per key (never per request): a coarse "is this key in use".
  last_used_at timestamptz,
  revoked_at timestamptz,
  CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);
CREATE INDEX api_keys_user_created_idx ON api_keys (user_id, created_at DESC);

-- Down Migration
DROP TABLE api_keys;
