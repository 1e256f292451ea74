-- Files become searchable: every live file is queued for the search index
-- (the embedded index holds them from now on). PostgreSQL also creates its
-- full-text table of files in this migration.
INSERT INTO search_outbox (kind, entity_id, created_at)
SELECT 'file', file_id, strftime('%Y-%m-%dT%H:%M:%S.000000Z', 'now')
FROM files WHERE deleted_at IS NULL;
