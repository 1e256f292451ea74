-- The search outbox: one entry per change of a searchable entity, written
-- in the transaction of the change, removed once the index has it. Same
-- shape as on PostgreSQL.

CREATE TABLE search_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    -- 'message', 'file' or 'user'.
    kind TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    -- An indexer holds the entry until then (NULL: free).
    held_until TEXT
) STRICT;
