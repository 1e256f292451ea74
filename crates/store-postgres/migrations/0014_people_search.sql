-- People become searchable through the search engine: every change of an
-- account or a membership that the people index reads (names, address,
-- title, department, states) queues the person for the indexer, in the
-- transaction of the change, whatever wrote it. Everyone with a membership
-- is queued once now.

CREATE OR REPLACE FUNCTION confab_queue_person() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_outbox (kind, entity_id)
    VALUES ('user', CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END);
    RETURN NULL;
END $$;

CREATE TRIGGER search_user_changed
AFTER UPDATE OF username, display_name, email, title, status ON users
FOR EACH ROW EXECUTE FUNCTION confab_queue_person();

CREATE TRIGGER search_member_added
AFTER INSERT ON workspace_members
FOR EACH ROW EXECUTE FUNCTION confab_queue_person();

CREATE TRIGGER search_member_changed
AFTER UPDATE OF status, title, department ON workspace_members
FOR EACH ROW EXECUTE FUNCTION confab_queue_person();

CREATE TRIGGER search_member_removed
AFTER DELETE ON workspace_members
FOR EACH ROW EXECUTE FUNCTION confab_queue_person();

INSERT INTO search_outbox (kind, entity_id)
SELECT DISTINCT 'user', user_id FROM workspace_members;

-- PostgreSQL full-text search of people (search.backend = "postgres"): one
-- row per active membership, its words (display name, username, title,
-- department; lowercased, split at whitespace) and address (marked with
-- `=`) as tsvector lexemes found by their start.
CREATE TABLE person_search (
    user_id UUID NOT NULL,
    workspace_id UUID NOT NULL,
    -- The display name lowercased, then the username: the order of results
    -- (by bytes, as the other engines order them).
    name_key TEXT COLLATE "C" NOT NULL,
    username TEXT COLLATE "C" NOT NULL,
    words TSVECTOR NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX idx_person_search_words ON person_search USING gin (words);
CREATE INDEX idx_person_search_user ON person_search (user_id);
CREATE INDEX idx_person_search_order ON person_search (workspace_id, name_key, username);
