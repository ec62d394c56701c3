-- A running plan's own sign of life (unix ms), beaten by the process that runs it; a process
-- on another host takes the plan as interrupted only once it is older than the runs' lease.
-- NULL: a plan from before this column (judged by its steps' times). (The sqlite twin; keep
-- migrations/sqlite and migrations/postgres in step.)
ALTER TABLE plans ADD COLUMN heartbeat_at INTEGER;
