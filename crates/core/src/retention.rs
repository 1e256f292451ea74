//! Retention: which messages age out of a channel, and the statements that
//! move them into `messages_archive`, the same on both databases but their
//! placeholders.
//!
//! The unit that moves is a thread: a top-level message with all of its
//! replies, once the message and its latest reply are both older than the
//! channel's retention. A thread still talked in stays whole in the channel.
//! The archived rows keep their reactions, pins and edits (they are columns
//! of the row); their mentions, per-person reaction rows and retry keys go,
//! and the search index forgets them. Files stay (they have lifecycles of
//! their own), and so do the links from archived messages to them.

use serde_json::Value;

/// How long a workspace keeps messages: `settings.retention_days`, unless
/// the channel's `retention_policy` says otherwise (`retention_days`, or
/// `keep_forever: true`). `None`: kept forever (the default).
pub fn retention_days(workspace_settings: &Value, channel_policy: Option<&Value>) -> Option<u32> {
    let days = |v: &Value| v.get("retention_days").and_then(Value::as_u64);
    if let Some(policy) = channel_policy {
        if policy.get("keep_forever").and_then(Value::as_bool) == Some(true) {
            return None;
        }
        if let Some(d) = days(policy) {
            return u32::try_from(d).ok();
        }
    }
    days(workspace_settings).and_then(|d| u32::try_from(d).ok())
}

/// Whether a workspace is under legal hold (`settings.legal_hold`): nothing
/// of it is archived.
pub fn legal_hold(workspace_settings: &Value) -> bool {
    workspace_settings
        .get("legal_hold")
        .and_then(Value::as_bool)
        == Some(true)
}

/// Take the run of a periodic job (`p(1)`) unless one started at or after
/// `p(2)`; `p(3)` is now. One row changes when the caller takes it.
pub fn claim_job_run_sql(p: fn(usize) -> String) -> String {
    format!(
        "INSERT INTO job_runs (job, started_at) VALUES ({job}, {now})
         ON CONFLICT (job) DO UPDATE SET started_at = excluded.started_at
         WHERE job_runs.started_at < {since}",
        job = p(1),
        since = p(2),
        now = p(3)
    )
}

/// The columns of `messages` and `messages_archive`, in one order.
const MOVED: &str = "message_id, workspace_id, channel_id, user_id, content, message_type, \
    formatted_content, thread_id, reply_count, is_pinned, pinned_by, pinned_at, is_deleted, \
    deleted_at, reactions, edited_at, edit_history, client_msg_id, created_at, updated_at, ts, broadcast";

/// The threads of a channel that age out: `p(1)` the channel, `p(2)` the
/// cut-off time; what is selected (`what`) over those threads' parents `m`.
fn aged_threads(what: &str, p: fn(usize) -> String) -> String {
    format!(
        "SELECT {what} FROM messages m
         WHERE m.channel_id = {channel} AND m.thread_id IS NULL AND m.created_at < {before}
           AND NOT EXISTS (SELECT 1 FROM messages r
                           WHERE r.thread_id = m.message_id AND r.created_at >= {before})",
        channel = p(1),
        before = p(2)
    )
}

/// Up to `p(3)` threads of channel `p(1)` older than `p(2)`, oldest first:
/// their parents' ids.
pub fn archivable_threads_sql(p: fn(usize) -> String) -> String {
    format!(
        "{} ORDER BY m.created_at, m.message_id LIMIT {}",
        aged_threads("m.message_id", p),
        p(3)
    )
}

/// How many threads of channel `p(1)` are older than `p(2)`, and how many
/// messages they hold.
pub fn count_archivable_sql(p: fn(usize) -> String) -> String {
    aged_threads("count(*), COALESCE(sum(m.reply_count + 1), 0)", p)
}

/// Which of [`archive_threads_sql`]'s statements takes the time (`p(n + 1)`).
pub const ARCHIVE_STATEMENT_WITH_TIME: usize = 1;

/// The statements that archive the threads whose parents are `p(1)`…`p(n)`
/// (`p(n + 1)`: now, in [`ARCHIVE_STATEMENT_WITH_TIME`] alone), in order,
/// in one transaction: copy the messages, queue them for the search index
/// to forget, remove what hangs on them, remove them. The last one's row
/// count is the number of messages moved.
pub fn archive_threads_sql(n: usize, p: fn(usize) -> String) -> Vec<String> {
    let ids: Vec<String> = (1..=n).map(p).collect();
    let ids = ids.join(", ");
    let moved = format!("message_id IN ({ids}) OR thread_id IN ({ids})");
    let moved_ids = format!("SELECT message_id FROM messages WHERE {moved}");
    let mut statements = vec![
        format!(
            "INSERT INTO messages_archive ({MOVED}) SELECT {MOVED} FROM messages WHERE {moved}"
        ),
        format!(
            "INSERT INTO search_outbox (kind, entity_id, created_at)
             SELECT 'message', message_id, {now} FROM messages WHERE {moved}",
            now = p(n + 1)
        ),
    ];
    for table in [
        "message_mentions",
        "message_reactions",
        "message_client_ids",
    ] {
        statements.push(format!(
            "DELETE FROM {table} WHERE message_id IN ({moved_ids})"
        ));
    }
    statements.push(format!("DELETE FROM messages WHERE {moved}"));
    statements
}

/// A page of a channel's archive, newest first: `p(1)` the channel, `p(2)`
/// the limit, and with `after_cursor` the page continues before the message
/// of time `p(3)` and id `p(4)`.
pub fn archived_messages_sql(after_cursor: bool, p: fn(usize) -> String) -> String {
    let before = match after_cursor {
        true => format!("AND (created_at, message_id) < ({}, {})", p(3), p(4)),
        false => String::new(),
    };
    format!(
        "SELECT * FROM messages_archive WHERE channel_id = {} {before}
         ORDER BY created_at DESC, message_id DESC LIMIT {}",
        p(1),
        p(2)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_channel_policy_overrides_the_workspace() {
        let workspace = json!({"retention_days": 365});
        assert_eq!(retention_days(&workspace, None), Some(365));
        assert_eq!(retention_days(&json!({}), None), None);
        assert_eq!(
            retention_days(&workspace, Some(&json!({"retention_days": 30}))),
            Some(30)
        );
        assert_eq!(
            retention_days(&workspace, Some(&json!({"keep_forever": true}))),
            None
        );
        assert_eq!(retention_days(&workspace, Some(&json!({}))), Some(365));
        assert!(legal_hold(&json!({"legal_hold": true})));
        assert!(!legal_hold(&json!({"legal_hold": "yes"})));
    }

    #[test]
    fn archiving_names_every_id_in_each_statement() {
        let statements = archive_threads_sql(2, |n| format!("${n}"));
        assert_eq!(statements.len(), 6);
        assert!(statements[0].contains("message_id IN ($1, $2) OR thread_id IN ($1, $2)"));
        assert!(statements[1].contains("'message', message_id, $3"));
        assert!(statements[5].starts_with("DELETE FROM messages WHERE"));
    }
}
