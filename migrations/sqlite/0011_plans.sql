-- Plans: several deploys in order ("update billionmail and redis", redis first). A plan's
-- steps run one after another; a failed or refused step stops the rest (recorded skipped).
-- A process that dies mid-plan leaves it running; the next start marks it interrupted.
-- (The sqlite twin; keep migrations/sqlite and migrations/postgres in step.)
CREATE TABLE plans (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    requested_by  TEXT NOT NULL,
    owner         TEXT NOT NULL,              -- the process running it (host:pid)
    platform      TEXT NOT NULL,              -- where it was asked (the origin's key)
    channel       TEXT NOT NULL,
    thread        TEXT NOT NULL,
    status        TEXT NOT NULL,              -- running | succeeded | failed | interrupted
    created_at    INTEGER NOT NULL,
    finished_at   INTEGER
);

CREATE TABLE plan_steps (
    plan_id       INTEGER NOT NULL,
    position      INTEGER NOT NULL,                -- 1, 2, ... in the order they run
    command       TEXT NOT NULL,              -- the deploy, serialised
    service       TEXT NOT NULL,
    environment   TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'pending', -- pending | running | succeeded | failed | refused | skipped
    run_id        INTEGER,
    detail        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (plan_id, position)
);
