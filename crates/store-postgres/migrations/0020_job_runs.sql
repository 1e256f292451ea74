-- When each periodic job (the daily retention run) last started, so that
-- one node alone runs it. Same shape as on SQLite.

CREATE TABLE job_runs (
    job TEXT PRIMARY KEY,
    started_at TIMESTAMP WITH TIME ZONE NOT NULL
);
