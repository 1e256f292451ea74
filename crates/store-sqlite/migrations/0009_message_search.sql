-- PostgreSQL keeps a full-text table for search.backend = "postgres" in
-- this migration. SQLite searches with the embedded index alone; this file
-- keeps the two migration histories aligned.
SELECT 1;
