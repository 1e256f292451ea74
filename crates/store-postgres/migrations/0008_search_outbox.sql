-- The search outbox: one entry per change of a searchable entity, written
-- in the transaction of the change, removed once the index has it. Indexers
-- on several nodes claim entries with FOR UPDATE SKIP LOCKED and a hold
-- time. Same shape as on SQLite.

CREATE TABLE search_outbox (
    seq BIGSERIAL PRIMARY KEY,
    -- 'message', 'file' or 'user'.
    kind VARCHAR(16) NOT NULL,
    entity_id UUID NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    -- An indexer holds the entry until then (NULL: free).
    held_until TIMESTAMP WITH TIME ZONE
);
