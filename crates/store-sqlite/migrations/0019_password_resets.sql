-- Single-use links that set a new password: printed by an operator
-- (`confab admin reset-password`) or mailed on request. Only a hash of each
-- token is kept. Same shape as on PostgreSQL.

CREATE TABLE password_resets (
    -- SHA-256 (hex) of the token in the link.
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (user_id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;
CREATE INDEX idx_password_resets_user ON password_resets (user_id);
