-- A schedule's approval (a scheduled production deploy is approved before it fires; the
-- approval binds to that schedule only) and the config job a recurring schedule stands for
-- (one row per job name, kept in step with the config's `jobs:` at start-up).
-- (The postgres twin; keep migrations/sqlite and migrations/postgres in step.)
ALTER TABLE schedules ADD COLUMN approval_id BIGINT;
ALTER TABLE schedules ADD COLUMN job TEXT;
CREATE UNIQUE INDEX schedules_job ON schedules (job);
CREATE INDEX schedules_approval ON schedules (approval_id);
