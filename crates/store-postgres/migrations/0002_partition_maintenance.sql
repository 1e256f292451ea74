-- Monthly partitions for messages and messages_archive, created ahead of time
-- by confab_maintain_partitions(), which the server runs at start and daily.
-- A row that arrived in the default partition (a month with no partition yet)
-- is moved into its month's partition when that partition is created.

CREATE FUNCTION confab_create_month_partition(parent TEXT, month_start DATE)
RETURNS TEXT
LANGUAGE plpgsql AS $$
DECLARE
    part_name TEXT := parent || '_' || to_char(month_start, 'YYYY_MM');
    from_ts TIMESTAMPTZ := month_start::timestamp AT TIME ZONE 'UTC';
    to_ts TIMESTAMPTZ := (month_start + INTERVAL '1 month')::timestamp AT TIME ZONE 'UTC';
BEGIN
    IF to_regclass(part_name) IS NOT NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                   part_name, parent);
    EXECUTE format('WITH moved AS (DELETE FROM %I WHERE created_at >= $1 AND created_at < $2 RETURNING *) '
                   'INSERT INTO %I SELECT * FROM moved',
                   parent || '_default', part_name)
        USING from_ts, to_ts;
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   parent, part_name, from_ts, to_ts);
    RETURN part_name;
END $$;

CREATE FUNCTION confab_maintain_partitions(at TIMESTAMPTZ, months_ahead INTEGER)
RETURNS SETOF TEXT
LANGUAGE plpgsql AS $$
DECLARE
    parent TEXT;
    month_start DATE;
    created TEXT;
BEGIN
    -- Several nodes may run this at once; one at a time does the work.
    PERFORM pg_advisory_xact_lock(hashtext('confab_maintain_partitions'));
    FOREACH parent IN ARRAY ARRAY['messages', 'messages_archive'] LOOP
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
END $$;
