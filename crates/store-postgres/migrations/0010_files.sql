-- Files: soft deletion, the type the client claimed, public links that
-- expire, the channel each attachment is shared in, bytes shared by
-- reference within a workspace, and blobs waiting to be removed. Same
-- shape as on SQLite.

ALTER TABLE files ADD COLUMN deleted_at TIMESTAMP WITH TIME ZONE;
ALTER TABLE files ADD COLUMN claimed_mime_type VARCHAR(200);
ALTER TABLE files ADD COLUMN share_expires_at TIMESTAMP WITH TIME ZONE;
CREATE INDEX idx_files_workspace_created ON files (workspace_id, created_at DESC, file_id DESC);
CREATE INDEX idx_files_uploader_created ON files (uploader_id, workspace_id, created_at DESC);

ALTER TABLE message_files ADD COLUMN channel_id UUID;
CREATE INDEX idx_message_files_channel ON message_files (channel_id, file_id);

-- One stored copy of each distinct content per workspace, and how many
-- files use it. A copy no file uses moves to blob_cleanup.
CREATE TABLE file_blobs (
    storage_key VARCHAR(1000) PRIMARY KEY,
    workspace_id UUID NOT NULL,
    file_hash VARCHAR(64) NOT NULL,
    file_size BIGINT NOT NULL,
    ref_count INTEGER NOT NULL CHECK (ref_count > 0),
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    UNIQUE (workspace_id, file_hash)
);

-- Keys whose bytes are to be removed from not_before on: uploads under way
-- (removed when abandoned), and copies no file uses any more.
CREATE TABLE blob_cleanup (
    storage_key VARCHAR(1000) PRIMARY KEY,
    not_before TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX idx_blob_cleanup_due ON blob_cleanup (not_before);
