-- Governance: approval requests and decisions, locks, and the hash-chained audit log.
-- (The sqlite twin; keep migrations/sqlite and migrations/postgres in step.)
CREATE TABLE approvals (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    action        TEXT    NOT NULL,            -- deploy | rollback
    service       TEXT    NOT NULL,
    environment   TEXT    NOT NULL,
    version       TEXT,
    strategy      TEXT    NOT NULL,
    percent       INTEGER,
    requested_by  TEXT    NOT NULL,            -- person
    platform      TEXT    NOT NULL,
    channel       TEXT    NOT NULL,
    thread        TEXT    NOT NULL,
    required      INTEGER    NOT NULL,
    status        TEXT    NOT NULL,            -- pending | approved | rejected | expired | cancelled
    note          TEXT    NOT NULL DEFAULT '', -- recommendation shown with the request
    created_at    INTEGER    NOT NULL,
    expires_at    INTEGER    NOT NULL,
    decided_at    INTEGER,
    run_id        INTEGER
);
CREATE INDEX approvals_by_thread ON approvals (platform, channel, thread, id);
CREATE INDEX approvals_pending ON approvals (status, expires_at);

CREATE TABLE approval_decisions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    approval_id  INTEGER NOT NULL REFERENCES approvals (id),
    person       TEXT NOT NULL,
    identity     TEXT NOT NULL,
    decision     TEXT NOT NULL,                -- approve | reject
    decided_at   INTEGER NOT NULL
);
-- One decision per person per request: a second "approve" from the same person counts once.
CREATE UNIQUE INDEX approval_decisions_once ON approval_decisions (approval_id, person);

CREATE TABLE locks (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    environment  TEXT NOT NULL,
    service      TEXT,                         -- NULL: the whole environment
    holder       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    released_at  INTEGER,
    released_by  TEXT
);
CREATE INDEX locks_by_environment ON locks (environment, released_at);

-- Append-only, hash-chained: each entry stores the previous entry's hash and its own SHA-256
-- over a canonical encoding. audit_head holds the last seq and hash, so a truncated tail is
-- detected too; appends lock the head row first, which serializes writers across processes.
CREATE TABLE audit_log (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    details    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY,
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
