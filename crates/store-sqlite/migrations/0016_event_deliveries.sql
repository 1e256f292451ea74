-- The Events API: events for bots, queued durably until their request URL
-- acknowledges them (or they fail for good). A delivery is claimed for a
-- while by one node; one acknowledged is never sent again.

CREATE TABLE event_deliveries (
    delivery_id TEXT PRIMARY KEY,
    integration_id TEXT NOT NULL REFERENCES integrations (integration_id),
    event_id TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL CHECK (json_valid(payload)),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_until TEXT,
    last_error TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
) STRICT;
CREATE INDEX idx_event_deliveries_due ON event_deliveries (status, next_attempt_at);
CREATE INDEX idx_event_deliveries_integration ON event_deliveries (integration_id, created_at);
