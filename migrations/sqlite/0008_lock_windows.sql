-- Locks with a start time (freeze windows said in chat: "freeze production from Friday 16:00
-- to Monday 08:00"), and whether a lock lets rollbacks through. Rows from before this
-- migration start when created and stop rollbacks too, as they always did.
-- (The sqlite twin; keep migrations/sqlite and migrations/postgres in step.)
ALTER TABLE locks ADD COLUMN starts_at INTEGER;
ALTER TABLE locks ADD COLUMN rollbacks TEXT NOT NULL DEFAULT 'deny';
