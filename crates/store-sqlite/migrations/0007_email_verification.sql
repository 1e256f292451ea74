-- Verified e-mail addresses: when an account proved it receives mail at its
-- address, and the single-use tokens sent there. Same shape as on PostgreSQL.

ALTER TABLE users ADD COLUMN email_verified_at TEXT;

CREATE TABLE email_verifications (
    -- SHA-256 (hex) of the token in the link that was mailed.
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (user_id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT;
CREATE INDEX idx_email_verifications_user ON email_verifications (user_id);
