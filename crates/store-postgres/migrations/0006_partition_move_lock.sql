-- A message dated in a month without a partition lands in the default
-- partition. Moving such rows into a new month partition and attaching it
-- must not race with another such insert: the attach would find the new
-- row in the default partition and fail. The default partition is locked
-- against writes (reads go on) from before the move until the attach
-- commits, so a racing insert waits and then lands in the new partition.
CREATE OR REPLACE FUNCTION confab_create_month_partition(parent TEXT, month_start DATE)
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
    EXECUTE format('LOCK TABLE %I IN EXCLUSIVE MODE', parent || '_default');
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
