-- PostgreSQL locks its default message partition while moving rows into a
-- new month partition. SQLite has no partitions: nothing to change.
SELECT 1;
