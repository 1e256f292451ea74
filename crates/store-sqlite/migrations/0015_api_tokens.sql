-- The Slack-compatible Web API: bot users, API tokens, and a per-channel
-- message stamp (Slack's `ts`).
--
-- A message's `ts` is in microseconds, close to its creation time, unique
-- in its channel and increasing: the insert takes the creation time, or
-- one more than the channel's latest stamp at or after it. Messages from
-- before are stamped by their creation time, ties broken by id.

ALTER TABLE users ADD COLUMN is_bot INTEGER NOT NULL DEFAULT 0 CHECK (is_bot IN (0, 1));

CREATE TABLE api_tokens (
    token_id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('bot', 'user')),
    user_id TEXT NOT NULL REFERENCES users (user_id),
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    integration_id TEXT REFERENCES integrations (integration_id),
    label TEXT NOT NULL,
    scopes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(scopes)),
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT
) STRICT;
CREATE INDEX idx_api_tokens_user ON api_tokens (user_id, workspace_id);
CREATE INDEX idx_api_tokens_integration ON api_tokens (integration_id);

ALTER TABLE messages ADD COLUMN ts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages_archive ADD COLUMN ts INTEGER NOT NULL DEFAULT 0;

UPDATE messages SET ts = stamped.ts
FROM (
    SELECT message_id,
           CAST(strftime('%s', substr(created_at, 1, 19)) AS INTEGER) * 1000000
             + CAST(substr(created_at, 21, 6) AS INTEGER)
             + row_number() OVER (PARTITION BY channel_id, created_at ORDER BY message_id) - 1 AS ts
    FROM messages
) AS stamped
WHERE messages.message_id = stamped.message_id;

CREATE UNIQUE INDEX idx_messages_channel_ts ON messages (channel_id, ts);
