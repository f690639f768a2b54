-- Up Migration
-- Tenant isolation in the claim. Until now a claim walked the due jobs of every user in due order
-- (jobs_claimable_idx) and filtered out users at their in-flight cap row by row: one user with a
-- hanging target and 200,000 due jobs made every claim read those 200,000 entries (~60 ms), and so
-- made every other user's jobs that late. Now a claim finds due users first, one row each, and reads
-- only the due jobs of users under the cap, through a per-user index.
--
-- user_queues.next_due is, per user, a time no later than the user's earliest waiting job (or
-- 'infinity'). It may be early (a claimed or cancelled job leaves it behind until a scheduler
-- settles it: when such users pile up, or once a second), never late: a late value would hide a
-- due job. So:
--   * every path that makes a job waiting or moves it earlier lowers it, by trigger, so that no SQL
--     path can forget (API insert, batch, schedule occurrences, retry verdicts, rescue, hand-back,
--     re-drive and any later one);
--   * only djs_settle_due raises it (a scheduler calls it when users with nothing due pile up),
--     to the earliest waiting job it can see. A raise must not miss a
--     job whose writer is still in flight (invisible to it) and saw the old, lower value (so did not
--     lower it). Writers hold a shared advisory lock on the user while they lower; the raise takes the
--     exclusive one with a try-lock (never waiting: it simply skips a busy user, which stays early)
--     and reads in a statement begun after it holds the lock. Lowering and raising thus never overlap,
--     and each sees the other's committed result. Both rely on READ COMMITTED (PostgreSQL's default),
--     where each statement of a plpgsql function takes a fresh snapshot.
-- The lowering writes the row only when it lowers it, so concurrent inserts of one user do not
-- serialise on it; shared advisory locks do not conflict with each other. A statement lowers its
-- users in user id order, so two statements cannot deadlock on their rows; a transaction that made
-- jobs of several users due in several statements, in opposite orders to another, could (none does).
CREATE TABLE user_queues (
  user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  next_due timestamptz NOT NULL DEFAULT 'infinity'
);
-- Claims and the scheduler's sleep read users in next_due order.
CREATE INDEX user_queues_next_due_idx ON user_queues (next_due);

-- The advisory lock class of "user_queues row of this user" (the second key is hashtext(user id)).
-- A hash collision only makes two users share a lock: a raise may then skip a user, which is safe.
CREATE FUNCTION djs_user_queue_lock_class() RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT 1685418803';

-- Lowers a user's next_due to `due` if it is later. Called by the triggers below.
CREATE FUNCTION djs_user_due(p_user uuid, p_due timestamptz) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(djs_user_queue_lock_class(), hashtext(p_user::text));
  IF current_setting('transaction_isolation') = 'read committed' THEN
    -- A new statement, so a fresh snapshot taken while holding the lock: it sees any raise committed
    -- before. It writes (and row-locks) only when it lowers: concurrent inserts do not queue up here.
    UPDATE user_queues SET next_due = p_due WHERE user_id = p_user AND next_due > p_due;
  ELSE
    -- A snapshot older than the lock could miss a committed raise: always write, so that such a
    -- transaction fails with a serialization error instead of leaving next_due late.
    UPDATE user_queues SET next_due = least(next_due, p_due) WHERE user_id = p_user;
  END IF;
END $$;

-- Raises next_due to the earliest waiting job for up to `p_limit` users whose next_due has passed and
-- who have nothing due (left early by a claim or a cancel); users with due jobs, at the cap say, are
-- passed over (one probe each) so that they can never keep it from the others. Users another
-- transaction is lowering just now are skipped. Returns how many rows changed.
-- Meant to run as its own transaction, whose settings it changes: it commits asynchronously, which
-- is safe because it only raises next_due (a crash that loses a raise leaves the older, earlier
-- value, which is always allowed), and it uses generic plans (primary-key lookups), since the
-- custom plans of its array-valued statements were re-planned on every call (~0.4 ms, measured).
CREATE FUNCTION djs_settle_due(p_limit int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  locked uuid[];
  n int;
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN RETURN 0; END IF;
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM set_config('plan_cache_mode', 'force_generic_plan', true);
  locked := ARRAY(
    SELECT user_id FROM (
      SELECT q.user_id FROM user_queues q
       WHERE q.next_due <= now()
         AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.user_id = q.user_id
                            AND j.status IN ('scheduled', 'retrying') AND j.next_attempt_at <= now())
       ORDER BY q.next_due LIMIT p_limit) d
     WHERE pg_try_advisory_xact_lock(djs_user_queue_lock_class(), hashtext(user_id::text))
  );
  IF cardinality(locked) = 0 THEN RETURN 0; END IF;
  -- A statement begun after the locks are held: every writer of these users has committed or waits.
  -- It does not wait for lowerers: they row-lock these rows only while holding the shared lock.
  UPDATE user_queues q SET next_due = m.due
    FROM (SELECT u AS user_id,
                 coalesce((SELECT min(j.next_attempt_at) FROM jobs j
                            WHERE j.user_id = u AND j.status IN ('scheduled', 'retrying')), 'infinity') AS due
            FROM unnest(locked) u) m
   WHERE q.user_id = m.user_id AND q.next_due IS DISTINCT FROM m.due;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

CREATE FUNCTION jobs_lower_user_due() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  -- One call per statement: a batch of 1,000 jobs of one user is one lock and one UPDATE at most.
  -- Users in id order, so two statements lowering the same users cannot deadlock on their rows.
  FOR r IN SELECT user_id, min(next_attempt_at) AS due FROM changed_jobs
            WHERE status IN ('scheduled', 'retrying') GROUP BY user_id ORDER BY user_id LOOP
    PERFORM djs_user_due(r.user_id, r.due);
  END LOOP;
  RETURN NULL;
END $$;

CREATE FUNCTION users_create_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO user_queues (user_id) VALUES (NEW.id);
  RETURN NULL;
END $$;

-- Triggers first, then the backfill, in this one transaction: CREATE TRIGGER locks the tables against
-- writes until commit, so a job is either seen by the backfill or lowers its user's row itself.
CREATE TRIGGER users_create_queue AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION users_create_queue();
CREATE TRIGGER jobs_lower_user_due_on_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS changed_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION jobs_lower_user_due();
-- Statement-level too (a row-level trigger would lower users in whatever order rows come, and two
-- result writes could deadlock on two users' rows). Its cost on claims, heartbeats and results that
-- make no job waiting: the transition table and one query over it per statement.
CREATE TRIGGER jobs_lower_user_due_on_update AFTER UPDATE ON jobs REFERENCING NEW TABLE AS changed_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION jobs_lower_user_due();

INSERT INTO user_queues (user_id, next_due)
SELECT u.id, coalesce((SELECT min(j.next_attempt_at) FROM jobs j
                        WHERE j.user_id = u.id AND j.status IN ('scheduled', 'retrying')), 'infinity')
  FROM users u;

-- A user's waiting jobs in due order: the claim reads only users under the cap through it, and it
-- still serves the quota's count of waiting jobs. It replaces both jobs_user_waiting_idx (user only)
-- and jobs_claimable_idx (due time across all users), so a state change touches one index fewer.
CREATE INDEX jobs_user_due_idx ON jobs (user_id, next_attempt_at) WHERE status IN ('scheduled', 'retrying');
DROP INDEX jobs_user_waiting_idx;
DROP INDEX jobs_claimable_idx;

-- Down Migration
CREATE INDEX jobs_claimable_idx ON jobs (next_attempt_at) WHERE status IN ('scheduled', 'retrying');
CREATE INDEX jobs_user_waiting_idx ON jobs (user_id) WHERE status IN ('scheduled', 'retrying');
DROP INDEX jobs_user_due_idx;
DROP TRIGGER jobs_lower_user_due_on_update ON jobs;
DROP TRIGGER jobs_lower_user_due_on_insert ON jobs;
DROP TRIGGER users_create_queue ON users;
DROP FUNCTION users_create_queue();
DROP FUNCTION jobs_lower_user_due();
DROP FUNCTION djs_settle_due(int);
DROP FUNCTION djs_user_due(uuid, timestamptz);
DROP FUNCTION djs_user_queue_lock_class();
DROP TABLE user_queues;
