-- Runs, their stage results and the deployments they produced.
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    action        TEXT    NOT NULL,            -- deploy | rollback
    service       TEXT    NOT NULL,
    environment   TEXT    NOT NULL,
    version       TEXT,                        -- requested, then the built/rolled-to version
    strategy      TEXT    NOT NULL,
    percent       INTEGER,
    requested_by  TEXT    NOT NULL,
    platform      TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    thread        TEXT    NOT NULL,
    status        TEXT    NOT NULL,            -- running | succeeded | failed | cancelled | interrupted
    rolled_back   INTEGER NOT NULL DEFAULT 0,
    error         TEXT,
    started_at    INTEGER NOT NULL,            -- unix milliseconds
    finished_at   INTEGER
);
-- At most one running run per service and environment, enforced by the database so that
-- two requests racing (or two processes) cannot both start.
CREATE UNIQUE INDEX runs_one_running ON runs (service, environment) WHERE status = 'running';
CREATE INDEX runs_by_target ON runs (service, environment, started_at);

CREATE TABLE stage_results (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id       INTEGER NOT NULL REFERENCES runs (id),
    phase        TEXT    NOT NULL,             -- main | rollback
    position     INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    status       TEXT    NOT NULL,             -- succeeded | failed | timed_out | cancelled
    exit_code    INTEGER,
    duration_ms  INTEGER NOT NULL,
    log_tail     TEXT    NOT NULL,
    finished_at  INTEGER NOT NULL
);
CREATE INDEX stage_results_by_run ON stage_results (run_id);

CREATE TABLE deployments (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        INTEGER NOT NULL REFERENCES runs (id),
    action        TEXT    NOT NULL,            -- deploy | rollback
    service       TEXT    NOT NULL,
    environment   TEXT    NOT NULL,
    version       TEXT,
    status        TEXT    NOT NULL,            -- succeeded | failed | cancelled | interrupted
    requested_by  TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX deployments_by_target ON deployments (service, environment, created_at);
