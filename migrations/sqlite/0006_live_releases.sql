-- What each target runs, as its pipelines reported it: one row per switch of a target to a
-- release (a `::live <version>` line, the pipeline's `rollback_from` stage succeeding, or a
-- run completing without either). The newest row per (service, environment) is what is live,
-- whatever became of the run afterwards; `outcome` says how the checks after the switch went.
-- (The sqlite twin; keep migrations/sqlite and migrations/postgres in step.)
CREATE TABLE live_releases (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        INTEGER NOT NULL REFERENCES runs (id),
    phase         TEXT    NOT NULL,            -- main | rollback (an automatic rollback)
    action        TEXT    NOT NULL,            -- deploy | rollback
    service       TEXT    NOT NULL,
    environment   TEXT    NOT NULL,
    version       TEXT,
    requested_by  TEXT    NOT NULL,
    switched_at   INTEGER NOT NULL,            -- unix milliseconds
    outcome       TEXT,                        -- NULL while its phase runs; succeeded | failed | cancelled | interrupted
    failed_stage  TEXT                         -- the stage that did not succeed after the switch
);
CREATE INDEX live_releases_by_target ON live_releases (service, environment, id);
CREATE INDEX live_releases_by_run ON live_releases (run_id);
-- Until now a successful deployment was the only record of a switch.
INSERT INTO live_releases (run_id, phase, action, service, environment, version, requested_by, switched_at, outcome)
SELECT d.run_id,
       CASE WHEN d.action = (SELECT r.action FROM runs r WHERE r.id = d.run_id) THEN 'main' ELSE 'rollback' END,
       d.action, d.service, d.environment, d.version, d.requested_by, d.created_at, 'succeeded'
FROM deployments d WHERE d.status = 'succeeded' ORDER BY d.id;
-- The stage a run is executing now, so a restart after a crash knows how far it got.
ALTER TABLE runs ADD COLUMN stage TEXT;
ALTER TABLE runs ADD COLUMN stage_phase TEXT;
