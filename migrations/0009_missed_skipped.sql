-- Up Migration
-- Misfire counts every missed fire time it skips (issue #29). A miss of a frequent schedule covers
-- many fire times that never get an occurrence (a per-second schedule down for 150 s misses about
-- 150); they are counted here instead of being written as one skipped job each. A schedule's
-- skipped_count is this plus its occurrences recorded as skipped.
ALTER TABLE schedules ADD COLUMN missed_skipped bigint NOT NULL DEFAULT 0
  CONSTRAINT schedules_missed_skipped_nonnegative CHECK (missed_skipped >= 0);

-- Down Migration
ALTER TABLE schedules DROP COLUMN missed_skipped;
