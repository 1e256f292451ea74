-- When each periodic job (the daily retention run) last started, so that
-- one node alone runs it. Same shape as on PostgreSQL.

CREATE TABLE job_runs (
    job TEXT PRIMARY KEY,
    started_at TEXT NOT NULL
) STRICT;
