-- Mentions parsed from messages, and the creation time of the read-marker
-- message. Same shape as on PostgreSQL.

CREATE TABLE message_mentions (
    message_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    mentioned TEXT NOT NULL,
    PRIMARY KEY (message_id, mentioned)
) STRICT, WITHOUT ROWID;
CREATE INDEX idx_message_mentions_channel ON message_mentions (channel_id, mentioned, created_at);

ALTER TABLE channel_members ADD COLUMN last_read_message_at TEXT;
