-- The Slack-compatible Web API: bot users, API tokens, and a per-channel
-- message stamp (Slack's `ts`).
--
-- A message's `ts` is in microseconds, close to its creation time, unique
-- in its channel and increasing: the insert takes the creation time, or
-- one more than the channel's latest stamp at or after it. A unique index
-- on the partitioned messages table would have to hold the partition key,
-- so uniqueness lives in message_ts (unpartitioned), written in the same
-- transaction. Posts to one channel take their stamps one at a time, under
-- a transaction-scoped advisory lock, so stamps increase in commit order.
-- Messages from before are stamped by their creation time, ties broken by id.

ALTER TABLE users ADD COLUMN is_bot BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE api_tokens (
    token_id UUID PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('bot', 'user')),
    user_id UUID NOT NULL REFERENCES users (user_id),
    workspace_id UUID NOT NULL REFERENCES workspaces (workspace_id),
    integration_id UUID REFERENCES integrations (integration_id),
    label TEXT NOT NULL,
    scopes TEXT[] NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX idx_api_tokens_user ON api_tokens (user_id, workspace_id);
CREATE INDEX idx_api_tokens_integration ON api_tokens (integration_id);

ALTER TABLE messages ADD COLUMN ts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages_archive ADD COLUMN ts BIGINT NOT NULL DEFAULT 0;

UPDATE messages SET ts = stamped.ts
FROM (
    SELECT message_id, created_at,
           (extract(epoch FROM created_at) * 1000000)::bigint
             + row_number() OVER (PARTITION BY channel_id, created_at ORDER BY message_id) - 1 AS ts
    FROM messages
) AS stamped
WHERE messages.message_id = stamped.message_id AND messages.created_at = stamped.created_at;

CREATE TABLE message_ts (
    channel_id UUID NOT NULL,
    ts BIGINT NOT NULL,
    message_id UUID NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (channel_id, ts)
);
INSERT INTO message_ts (channel_id, ts, message_id, created_at)
SELECT channel_id, ts, message_id, created_at FROM messages;
