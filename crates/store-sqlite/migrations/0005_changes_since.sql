-- What a reconnecting client missed: messages of its channels changed after
-- a point in time. Same shape as on PostgreSQL.
CREATE INDEX idx_messages_channel_updated ON messages (channel_id, updated_at);
