-- When each plan step started and ended (unix ms), so the plan's message and its line in
-- status/history can say how long a step took ("1. redis ✓ (30 s)"). NULL: not yet, or never
-- (a skipped step has no start). (The sqlite twin; keep migrations/sqlite and migrations/postgres in step.)
ALTER TABLE plan_steps ADD COLUMN started_at INTEGER;
ALTER TABLE plan_steps ADD COLUMN finished_at INTEGER;
