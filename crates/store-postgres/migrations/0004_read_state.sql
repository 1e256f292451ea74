-- Mentions parsed from messages, for mention counts and search, and the
-- creation time of the read-marker message, so unread counts scan only the
-- partitions and index range after it.

CREATE TABLE message_mentions (
    message_id UUID NOT NULL,
    channel_id UUID NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    -- A user id, or 'channel' for @channel / @everyone, or 'here' for @here.
    mentioned VARCHAR(64) NOT NULL,
    PRIMARY KEY (message_id, mentioned)
);
CREATE INDEX idx_message_mentions_channel ON message_mentions (channel_id, mentioned, created_at);

ALTER TABLE channel_members ADD COLUMN last_read_message_at TIMESTAMP WITH TIME ZONE;
