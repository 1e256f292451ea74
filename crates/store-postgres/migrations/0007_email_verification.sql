-- Verified e-mail addresses: when an account proved it receives mail at its
-- address, and the single-use tokens sent there. Same shape as on SQLite.

ALTER TABLE users ADD COLUMN email_verified_at TIMESTAMP WITH TIME ZONE;

CREATE TABLE email_verifications (
    -- SHA-256 (hex) of the token in the link that was mailed.
    token_hash VARCHAR(64) PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (user_id),
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL
);
CREATE INDEX idx_email_verifications_user ON email_verifications (user_id);
