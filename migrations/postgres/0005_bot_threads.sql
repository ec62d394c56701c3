-- Threads the bot takes part in: a plain reply there (no mention) is meant for the bot.
-- Kept in the store so a restart or another replica still knows them.
CREATE TABLE bot_threads (
    platform   TEXT NOT NULL,
    channel    TEXT NOT NULL,
    thread     TEXT NOT NULL,
    joined_at  BIGINT NOT NULL,
    PRIMARY KEY (platform, channel, thread)
);
CREATE INDEX bot_threads_by_time ON bot_threads (joined_at);
