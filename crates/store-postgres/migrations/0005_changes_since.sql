-- What a reconnecting client missed: messages of its channels changed after
-- a point in time. Created on the partitioned parent, so every month
-- partition (present and future) gets it.
CREATE INDEX idx_messages_channel_updated ON messages (channel_id, updated_at);
