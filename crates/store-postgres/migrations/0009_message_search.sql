-- PostgreSQL full-text search (search.backend = "postgres"): one row per
-- searchable message, its text as a tsvector made by Confab's own analyzer
-- (the one the embedded Tantivy index uses: camelCase and snake_case split,
-- accents folded, English stems, CJK character pairs, and exact tokens such
-- as `PLT-3699` or `config.toml` kept whole as lexemes starting with `=`),
-- so both engines find the same messages. The indexer writes it from the
-- search outbox. Partitioned by month like messages, so a search over a
-- date range reads only the months in it.

CREATE TABLE message_search (
    message_id UUID NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    workspace_id UUID NOT NULL,
    channel_id UUID NOT NULL,
    user_id UUID NOT NULL,
    -- 1 link, 2 file, 4 reaction, 8 pin, 16 thread reply.
    flags SMALLINT NOT NULL DEFAULT 0,
    words TSVECTOR NOT NULL,
    -- The search outbox entry the row was read for: a write of an older
    -- one (a slower indexer on another node) is dropped.
    version BIGINT NOT NULL DEFAULT 0,
    -- When the indexer last wrote the row (a rebuild leaves newer rows).
    indexed_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, created_at)
) PARTITION BY RANGE (created_at);
CREATE TABLE message_search_default PARTITION OF message_search DEFAULT;

CREATE INDEX idx_message_search_words ON message_search USING gin (words);
CREATE INDEX idx_message_search_recent
    ON message_search (workspace_id, created_at DESC, message_id DESC);

-- Partitions of message_search follow those of messages, month by month.
CREATE OR REPLACE FUNCTION confab_maintain_partitions(at TIMESTAMPTZ, months_ahead INTEGER)
RETURNS SETOF TEXT
LANGUAGE plpgsql AS $$
DECLARE
    parent TEXT;
    month_start DATE;
    created TEXT;
BEGIN
    -- Several nodes may run this at once; one at a time does the work.
    PERFORM pg_advisory_xact_lock(hashtext('confab_maintain_partitions'));
    FOREACH parent IN ARRAY ARRAY['messages', 'messages_archive', 'message_search'] LOOP
        FOR month_start IN EXECUTE format(
            'SELECT DISTINCT date_trunc(''month'', created_at AT TIME ZONE ''UTC'')::date FROM %I',
            parent || '_default')
        LOOP
            created := confab_create_month_partition(parent, month_start);
            IF created IS NOT NULL THEN
                RETURN NEXT created;
            END IF;
        END LOOP;
    END LOOP;
    FOR ahead IN 0..months_ahead LOOP
        month_start := (date_trunc('month', at AT TIME ZONE 'UTC') + make_interval(months => ahead))::date;
        created := confab_create_month_partition('messages', month_start);
        IF created IS NOT NULL THEN
            RETURN NEXT created;
        END IF;
    END LOOP;
    FOR month_start IN
        SELECT to_date(substr(c.relname, 10), 'YYYY_MM')
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'messages'::regclass AND c.relname ~ '^messages_[0-9]{4}_[0-9]{2}$'
        ORDER BY 1
    LOOP
        created := confab_create_month_partition('message_search', month_start);
        IF created IS NOT NULL THEN
            RETURN NEXT created;
        END IF;
    END LOOP;
END $$;
