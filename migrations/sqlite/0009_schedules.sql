-- Schedules: a stored command that fires once at a time, or at each time a cron line
-- matches in a zone. Every replica ticks; a fire is claimed by inserting its
-- (schedule_id, fire_at) row, so exactly one replica runs it (the others' inserts conflict).
-- (The sqlite twin; keep migrations/sqlite and migrations/postgres in step.)
CREATE TABLE schedules (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT NOT NULL,              -- once | cron
    cron          TEXT,                       -- five-field line, for kind = cron
    tz            TEXT NOT NULL,              -- IANA zone the cron line is read in
    next_fire_at  INTEGER,                   -- unix ms; NULL once done or cancelled
    command       TEXT NOT NULL,              -- the Command, serialised (JSON)
    created_by    TEXT NOT NULL,              -- the person it runs as
    platform      TEXT NOT NULL,              -- where to report fires (the origin's key)
    channel       TEXT NOT NULL,
    thread        TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    cancelled_at  INTEGER,
    cancelled_by  TEXT
);
CREATE INDEX schedules_due ON schedules (next_fire_at);

CREATE TABLE schedule_fires (
    schedule_id   INTEGER NOT NULL,
    fire_at       INTEGER NOT NULL,              -- the time it was due, unix ms
    claimed_by    TEXT NOT NULL,              -- the replica that ran it
    claimed_at    INTEGER NOT NULL,
    outcome       TEXT NOT NULL DEFAULT 'claimed', -- claimed | started | awaiting_approval | refused | missed | failed
    detail        TEXT NOT NULL DEFAULT '',
    run_id        INTEGER,
    PRIMARY KEY (schedule_id, fire_at)
);
