-- PostgreSQL creates monthly message partitions in this migration. SQLite has
-- no partitioning; this file keeps the two migration histories aligned.
SELECT 1;
