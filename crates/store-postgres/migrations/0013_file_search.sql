-- PostgreSQL full-text search of files (search.backend = "postgres"): one
-- row per live file, its name and extracted text (and as a tsvector made by
-- Confab's analyzer, as message_search), the channels it is shared in, and
-- its kind as a flag bit. The indexer writes it from the search outbox. A
-- file is found by its uploader and by whoever can read one of its
-- channels.

CREATE TABLE file_search (
    file_id UUID PRIMARY KEY,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    workspace_id UUID NOT NULL,
    -- The uploader.
    user_id UUID NOT NULL,
    channel_ids UUID[] NOT NULL DEFAULT '{}',
    -- One bit for its kind: 32 image, 64 video, 128 audio, 256 pdf,
    -- 512 document, 1024 spreadsheet, 2048 presentation, 4096 text,
    -- 8192 archive, 16384 other.
    flags SMALLINT NOT NULL DEFAULT 0,
    words TSVECTOR NOT NULL,
    -- The name, then the text: what snippets are cut from.
    content TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    indexed_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()
);

CREATE INDEX idx_file_search_words ON file_search USING gin (words);
CREATE INDEX idx_file_search_channels ON file_search USING gin (channel_ids);
CREATE INDEX idx_file_search_recent
    ON file_search (workspace_id, created_at DESC, file_id DESC);

-- Files become searchable: every live file is queued for the search index.
INSERT INTO search_outbox (kind, entity_id)
SELECT 'file', file_id FROM files WHERE deleted_at IS NULL;
