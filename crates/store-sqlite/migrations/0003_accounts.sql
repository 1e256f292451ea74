-- Durable security state: sessions (the database is their source of truth;
-- a cache may sit in front), pending MFA logins, used TOTP steps, failure
-- counters, and workspace invitations. Same shape as on PostgreSQL.

CREATE TABLE sessions (
    session_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (user_id),
    workspace_id TEXT REFERENCES workspaces (workspace_id),
    device_type TEXT NOT NULL DEFAULT 'unknown',
    ip_address TEXT,
    user_agent TEXT,
    permissions TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(permissions)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    last_activity_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    expires_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;
CREATE INDEX idx_sessions_user ON sessions (user_id);
CREATE INDEX idx_sessions_expires_at ON sessions (expires_at);

CREATE TABLE login_challenges (
    challenge_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (user_id),
    device_type TEXT NOT NULL DEFAULT 'unknown',
    ip_address TEXT,
    user_agent TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    expires_at TEXT NOT NULL
) STRICT;
CREATE INDEX idx_login_challenges_user ON login_challenges (user_id);

CREATE TABLE mfa_used_codes (
    user_id TEXT NOT NULL REFERENCES users (user_id),
    time_step INTEGER NOT NULL,
    used_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    PRIMARY KEY (user_id, time_step)
) STRICT, WITHOUT ROWID;

CREATE TABLE auth_failures (
    subject TEXT PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    window_started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    locked_until TEXT
) STRICT;

CREATE TABLE invitations (
    invitation_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    token_hash TEXT NOT NULL UNIQUE,
    email TEXT,
    role TEXT NOT NULL DEFAULT 'member',
    max_uses INTEGER,
    use_count INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    created_by TEXT NOT NULL REFERENCES users (user_id),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
) STRICT;
CREATE INDEX idx_invitations_workspace ON invitations (workspace_id, created_at);
