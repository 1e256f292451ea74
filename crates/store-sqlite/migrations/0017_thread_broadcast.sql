-- A reply can be sent to the channel as well ("also send to channel"):
-- it stays in its thread and shows in the channel's history. History reads
-- the channel's top-level rows and its broadcasts as two index range scans
-- merged, so a thread of any length never slows the channel's page.

ALTER TABLE messages ADD COLUMN broadcast INTEGER NOT NULL DEFAULT 0 CHECK (broadcast IN (0, 1));
ALTER TABLE messages_archive ADD COLUMN broadcast INTEGER NOT NULL DEFAULT 0;
CREATE INDEX idx_messages_channel_broadcast
    ON messages (channel_id, created_at DESC, message_id DESC) WHERE broadcast;
