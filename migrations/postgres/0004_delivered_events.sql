-- Platform events already handled, so a retried or duplicated delivery is acted on once, also
-- across restarts and replicas. Old rows are pruned by the background task.
CREATE TABLE delivered_events (
    platform  TEXT NOT NULL,
    event_id  TEXT NOT NULL,
    seen_at   BIGINT NOT NULL,
    PRIMARY KEY (platform, event_id)
);
CREATE INDEX delivered_events_by_time ON delivered_events (seen_at);
