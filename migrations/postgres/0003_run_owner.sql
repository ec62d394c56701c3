-- Which process owns a running run ("host:pid"), when it last proved it is alive, and the
-- process group of its current stage: a restarted process interrupts only runs whose owner is
-- gone, and stops the stage processes such a run left behind.
ALTER TABLE runs ADD COLUMN owner TEXT;
ALTER TABLE runs ADD COLUMN heartbeat_at BIGINT;
ALTER TABLE runs ADD COLUMN pgid BIGINT;
