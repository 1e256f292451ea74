-- Durable security state: sessions (the database is their source of truth;
-- a cache may sit in front), pending MFA logins, used TOTP steps, failure
-- counters, and workspace invitations.

CREATE TABLE sessions (
    -- SHA-256 (hex) of the bearer token; the token itself is never stored.
    session_id VARCHAR(64) PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (user_id),
    workspace_id UUID REFERENCES workspaces (workspace_id),
    device_type VARCHAR(20) NOT NULL DEFAULT 'unknown',
    ip_address VARCHAR(64),
    user_agent TEXT,
    permissions JSONB NOT NULL DEFAULT '[]',
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    last_activity_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    revoked_at TIMESTAMP WITH TIME ZONE
);
CREATE INDEX idx_sessions_user ON sessions (user_id);
CREATE INDEX idx_sessions_expires_at ON sessions (expires_at);

CREATE TABLE login_challenges (
    -- SHA-256 (hex) of the challenge token handed out after the password step.
    challenge_id VARCHAR(64) PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (user_id),
    device_type VARCHAR(20) NOT NULL DEFAULT 'unknown',
    ip_address VARCHAR(64),
    user_agent TEXT,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX idx_login_challenges_user ON login_challenges (user_id);

CREATE TABLE mfa_used_codes (
    user_id UUID NOT NULL REFERENCES users (user_id),
    time_step BIGINT NOT NULL,
    used_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    PRIMARY KEY (user_id, time_step)
);

CREATE TABLE auth_failures (
    -- What is being counted, e.g. 'mfa:<user id>'.
    subject VARCHAR(200) PRIMARY KEY,
    failures INTEGER NOT NULL DEFAULT 0,
    window_started_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    locked_until TIMESTAMP WITH TIME ZONE
);

CREATE TABLE invitations (
    invitation_id UUID PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspaces (workspace_id),
    -- SHA-256 (hex) of the invitation token.
    token_hash VARCHAR(64) NOT NULL UNIQUE,
    email VARCHAR(255),
    role VARCHAR(50) NOT NULL DEFAULT 'member',
    max_uses INTEGER,
    use_count INTEGER NOT NULL DEFAULT 0,
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    revoked_at TIMESTAMP WITH TIME ZONE,
    created_by UUID NOT NULL REFERENCES users (user_id),
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_invitations_workspace ON invitations (workspace_id, created_at);
