-- People become searchable through the search engine: every change of an
-- account or a membership that the people index reads (names, address,
-- title, department, states) queues the person for the indexer, in the
-- transaction of the change, whatever wrote it. Everyone with a membership
-- is queued once now. PostgreSQL also creates its people table here.

CREATE TRIGGER search_user_changed
AFTER UPDATE OF username, display_name, email, title, status ON users
BEGIN
    INSERT INTO search_outbox (kind, entity_id, created_at)
    VALUES ('user', NEW.user_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TRIGGER search_member_added
AFTER INSERT ON workspace_members
BEGIN
    INSERT INTO search_outbox (kind, entity_id, created_at)
    VALUES ('user', NEW.user_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TRIGGER search_member_changed
AFTER UPDATE OF status, title, department ON workspace_members
BEGIN
    INSERT INTO search_outbox (kind, entity_id, created_at)
    VALUES ('user', NEW.user_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TRIGGER search_member_removed
AFTER DELETE ON workspace_members
BEGIN
    INSERT INTO search_outbox (kind, entity_id, created_at)
    VALUES ('user', OLD.user_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

INSERT INTO search_outbox (kind, entity_id, created_at)
SELECT DISTINCT 'user', user_id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM workspace_members;
