-- Who reacted to what, one row per reaction, beside the `reactions` JSON of
-- each message (which stays what pages read): the list of what one person
-- reacted to, newest first, is an index range instead of a scan of every
-- message partition. Written in the transaction that changes the JSON.

CREATE TABLE message_reactions (
    message_id UUID NOT NULL,
    user_id UUID NOT NULL,
    emoji TEXT NOT NULL,
    workspace_id UUID NOT NULL,
    channel_id UUID NOT NULL,
    reacted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);
CREATE INDEX idx_message_reactions_user ON message_reactions (user_id, workspace_id, reacted_at);

INSERT INTO message_reactions (message_id, user_id, emoji, workspace_id, channel_id, reacted_at)
SELECT m.message_id, u.value::uuid, r.key, m.workspace_id, m.channel_id, m.updated_at
FROM messages m, jsonb_each(m.reactions) r, jsonb_array_elements_text(r.value) u
WHERE m.reactions <> '{}'::jsonb;
