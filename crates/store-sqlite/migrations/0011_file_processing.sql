-- The processing queue: files waiting for thumbnails and text, oldest
-- first. Same shape as on PostgreSQL.
CREATE INDEX idx_files_processing ON files (processing_status, created_at);
