//! Reading domain types from database rows. Each storage adapter implements
//! [`Columns`] for its row type (the primitive accessors); the mapping from
//! columns to domain types is written once, here, for every backend.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

use crate::model::*;
use crate::{Error, Result};

/// Typed access to the named columns of one row.
pub trait Columns {
    fn opt_text(&self, col: &str) -> Result<Option<String>>;
    fn opt_int(&self, col: &str) -> Result<Option<i64>>;
    fn flag(&self, col: &str) -> Result<bool>;
    fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>>;
    fn opt_ts(&self, col: &str) -> Result<Option<DateTime<Utc>>>;
    fn opt_json(&self, col: &str) -> Result<Option<Value>>;
    /// A list of strings (a JSON array, or a PostgreSQL text array).
    fn string_list(&self, col: &str) -> Result<Vec<String>>;
    /// Whether the row has a column of that name.
    fn has(&self, col: &str) -> bool;

    fn text(&self, col: &str) -> Result<String> {
        self.opt_text(col)?.ok_or_else(|| null_in(col))
    }
    fn int(&self, col: &str) -> Result<i64> {
        self.opt_int(col)?.ok_or_else(|| null_in(col))
    }
    fn small(&self, col: &str) -> Result<i32> {
        i32::try_from(self.int(col)?).map_err(Error::internal)
    }
    fn id<T: From<Uuid>>(&self, col: &str) -> Result<T> {
        self.opt_id(col)?.ok_or_else(|| null_in(col))
    }
    fn opt_id<T: From<Uuid>>(&self, col: &str) -> Result<Option<T>> {
        Ok(self.opt_uuid(col)?.map(T::from))
    }
    fn ts(&self, col: &str) -> Result<DateTime<Utc>> {
        self.opt_ts(col)?.ok_or_else(|| null_in(col))
    }
    fn json(&self, col: &str) -> Result<Value> {
        self.opt_json(col)?.ok_or_else(|| null_in(col))
    }
    fn typed_json<T: DeserializeOwned>(&self, col: &str) -> Result<T> {
        serde_json::from_value(self.json(col)?)
            .map_err(|e| Error::Internal(format!("bad JSON in column {col}: {e}")))
    }
    fn parsed<T: FromStr<Err = Error>>(&self, col: &str) -> Result<T> {
        self.text(col)?.parse()
    }
}

fn null_in(col: &str) -> Error {
    Error::Internal(format!("unexpected NULL in column {col}"))
}

/// A domain type that can be read from a row of its table.
pub trait FromColumns: Sized {
    fn from_columns(row: &impl Columns) -> Result<Self>;
}

/// Another record's columns in a joined row, each named with `prefix`
/// (`w_name` for the workspace's `name`).
struct Prefixed<'a, C> {
    row: &'a C,
    prefix: &'static str,
}

impl<C: Columns> Prefixed<'_, C> {
    fn name(&self, col: &str) -> String {
        format!("{}{col}", self.prefix)
    }

    /// Whether the joined record is there: its `key` column is not NULL.
    fn present(&self, key: &str) -> Result<bool> {
        Ok(self.opt_uuid(key)?.is_some())
    }
}

impl<C: Columns> Columns for Prefixed<'_, C> {
    fn opt_text(&self, col: &str) -> Result<Option<String>> {
        self.row.opt_text(&self.name(col))
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>> {
        self.row.opt_int(&self.name(col))
    }
    fn flag(&self, col: &str) -> Result<bool> {
        self.row.flag(&self.name(col))
    }
    fn opt_uuid(&self, col: &str) -> Result<Option<Uuid>> {
        self.row.opt_uuid(&self.name(col))
    }
    fn opt_ts(&self, col: &str) -> Result<Option<DateTime<Utc>>> {
        self.row.opt_ts(&self.name(col))
    }
    fn opt_json(&self, col: &str) -> Result<Option<Value>> {
        self.row.opt_json(&self.name(col))
    }
    fn string_list(&self, col: &str) -> Result<Vec<String>> {
        self.row.string_list(&self.name(col))
    }
    fn has(&self, col: &str) -> bool {
        self.row.has(&self.name(col))
    }
}

/// The columns of the tables read by the joins below.
const SESSION_COLUMNS: &[&str] = &[
    "session_id",
    "user_id",
    "workspace_id",
    "device_type",
    "ip_address",
    "user_agent",
    "permissions",
    "created_at",
    "last_activity_at",
    "expires_at",
    "revoked_at",
];
const USER_COLUMNS: &[&str] = &[
    "user_id",
    "email",
    "username",
    "display_name",
    "avatar_url",
    "timezone",
    "status",
    "title",
    "phone",
    "bio",
    "pronouns",
    "notification_settings",
    "theme_preferences",
    "language",
    "password_hash",
    "mfa_enabled",
    "mfa_secret",
    "created_at",
    "updated_at",
    "last_login_at",
    "email_verified_at",
    "is_bot",
];
const CHANNEL_COLUMNS: &[&str] = &[
    "channel_id",
    "workspace_id",
    "name",
    "display_name",
    "description",
    "channel_type",
    "is_archived",
    "is_general",
    "topic",
    "purpose",
    "retention_policy",
    "allow_threads",
    "allow_file_upload",
    "allow_external_sharing",
    "created_by",
    "created_at",
    "updated_at",
    "archived_at",
];
const WORKSPACE_COLUMNS: &[&str] = &[
    "workspace_id",
    "name",
    "domain",
    "description",
    "avatar_url",
    "settings",
    "plan_type",
    "max_members",
    "billing_email",
    "subscription_status",
    "sso_enabled",
    "sso_config",
    "require_2fa",
    "created_at",
    "updated_at",
];
const WORKSPACE_MEMBER_COLUMNS: &[&str] = &[
    "member_id",
    "workspace_id",
    "user_id",
    "role",
    "title",
    "department",
    "status",
    "invited_by",
    "invitation_token",
    "permissions",
    "last_seen_at",
    "timezone",
    "joined_at",
    "updated_at",
];
const CHANNEL_MEMBER_COLUMNS: &[&str] = &[
    "membership_id",
    "channel_id",
    "user_id",
    "role",
    "notification_level",
    "joined_at",
    "left_at",
    "invited_by",
    "is_active",
    "last_read_message_id",
    "last_read_at",
];

/// The query behind [`crate::ports::ChannelStore::channel_context`], the
/// same for every database but its placeholders (`channel`, `user`).
pub fn channel_context_sql(channel: &str, user: &str) -> String {
    format!(
        "SELECT {}, {}, {}, {}
         FROM channels c
         JOIN workspaces w ON w.workspace_id = c.workspace_id
         LEFT JOIN workspace_members wm ON wm.workspace_id = c.workspace_id AND wm.user_id = {user}
         LEFT JOIN channel_members cm ON cm.channel_id = c.channel_id AND cm.user_id = {user}
         WHERE c.channel_id = {channel}",
        select("c", CHANNEL_COLUMNS),
        select("w", WORKSPACE_COLUMNS),
        select("wm", WORKSPACE_MEMBER_COLUMNS),
        select("cm", CHANNEL_MEMBER_COLUMNS),
    )
}

/// The query behind [`crate::ports::AuthStore::get_session_with_user`], the
/// same for every database but its placeholder (`session`).
pub fn session_with_user_sql(session: &str) -> String {
    format!(
        "SELECT {}, {} FROM sessions s JOIN users u ON u.user_id = s.user_id
         WHERE s.session_id = {session}",
        select("s", SESSION_COLUMNS),
        select("u", USER_COLUMNS),
    )
}

/// The statement behind [`crate::ports::AuthStore::take_attempt`], the same
/// for every database but its placeholders: subject, now, window start, max
/// attempts, lock until (`p(1)` … `p(5)`).
pub fn take_attempt_sql(p: fn(usize) -> String) -> String {
    let (subject, now, window_start, max, lock_until) = (p(1), p(2), p(3), p(4), p(5));
    let fresh = format!(
        "auth_failures.window_started_at < {window_start} OR auth_failures.locked_until IS NOT NULL"
    );
    let count = format!("CASE WHEN {fresh} THEN 1 ELSE auth_failures.failures + 1 END");
    format!(
        "INSERT INTO auth_failures (subject, failures, window_started_at, locked_until)
         VALUES ({subject}, 1, {now}, CASE WHEN 1 >= {max} THEN {lock_until} END)
         ON CONFLICT (subject) DO UPDATE SET
           failures = {count},
           window_started_at = CASE WHEN {fresh} THEN excluded.window_started_at
                                    ELSE auth_failures.window_started_at END,
           locked_until = CASE WHEN {count} >= {max} THEN {lock_until} END
         WHERE auth_failures.locked_until IS NULL OR auth_failures.locked_until <= {now}
         RETURNING failures, window_started_at, locked_until"
    )
}

/// The statements that use a single-use token kept in `table`, the same
/// for every database but their placeholders: take the token (`p(1)`: its
/// hash; answers its user and expiry, and removes it even when expired),
/// forget the user's other tokens of the table (`p(1)`: the user), and
/// `change` the user (`SET` clauses; `p(1)`: the user, `p(2)`: now, `p(3)`
/// on: the change's own values), answering the user.
fn single_use_token_sql(table: &str, change: &str, p: fn(usize) -> String) -> [String; 3] {
    [
        format!(
            "DELETE FROM {table} WHERE token_hash = {} RETURNING user_id, expires_at",
            p(1)
        ),
        format!("DELETE FROM {table} WHERE user_id = {}", p(1)),
        format!(
            "UPDATE users SET {change}, updated_at = {now} WHERE user_id = {user} RETURNING *",
            now = p(2),
            user = p(1)
        ),
    ]
}

/// The statements of [`crate::ports::UserStore::use_email_verification`]
/// (see [`single_use_token_sql`]): the address is marked verified.
pub fn email_verification_sql(p: fn(usize) -> String) -> [String; 3] {
    let change = format!("email_verified_at = COALESCE(email_verified_at, {})", p(2));
    single_use_token_sql("email_verifications", &change, p)
}

/// The statements of [`crate::ports::UserStore::use_password_reset`] (see
/// [`single_use_token_sql`]): the password hash becomes `p(3)`.
pub fn password_reset_sql(p: fn(usize) -> String) -> [String; 3] {
    single_use_token_sql("password_resets", &format!("password_hash = {}", p(3)), p)
}

/// The tables whose rows lapse at `expires_at`, purged by
/// [`crate::ports::AuthStore::purge_expired`].
pub const EXPIRING_TABLES: [&str; 4] = [
    "sessions",
    "login_challenges",
    "email_verifications",
    "password_resets",
];

/// Keep a single-use token: its hash, user, creation and expiry
/// (`p(1)`…`p(4)`).
pub fn insert_single_use_token_sql(table: &str, p: fn(usize) -> String) -> String {
    format!(
        "INSERT INTO {table} (token_hash, user_id, created_at, expires_at) VALUES ({}, {}, {}, {})",
        p(1),
        p(2),
        p(3),
        p(4)
    )
}

/// Insert a workspace member, or bring back one who left; no row when the
/// user is already a member (active, invited or deactivated). Placeholders:
/// member id, workspace, user, role, status, invited by, invitation token,
/// joined at (`p(1)` … `p(8)`).
pub fn insert_member_sql(p: fn(usize) -> String) -> String {
    let v: Vec<String> = (1..=8).map(p).collect();
    format!(
        "INSERT INTO workspace_members
           (member_id, workspace_id, user_id, role, status, invited_by, invitation_token, joined_at, updated_at)
         VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})
         ON CONFLICT (workspace_id, user_id) DO UPDATE SET
           role = excluded.role, status = excluded.status, invited_by = excluded.invited_by,
           invitation_token = excluded.invitation_token, joined_at = excluded.joined_at,
           updated_at = excluded.updated_at
         WHERE workspace_members.status = 'left'
         RETURNING *",
        v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[7]
    )
}

/// What a change of membership must leave true in a workspace, read in the
/// change's transaction (placeholder: the workspace): its active owners,
/// its members that count against `max_members`, and that limit.
pub fn member_rules_sql(workspace: &str) -> String {
    format!(
        "SELECT (SELECT count(*) FROM workspace_members
                  WHERE workspace_id = w.workspace_id AND role = 'owner' AND status = 'active') AS owners,
                (SELECT count(*) FROM workspace_members
                  WHERE workspace_id = w.workspace_id AND status IN ('active', 'invited')) AS taken,
                w.max_members
         FROM workspaces w WHERE w.workspace_id = {workspace}"
    )
}

/// Check a row of [`member_rules_sql`] after a change: a workspace always
/// keeps an active owner, and a member made active again must fit within
/// `max_members`.
pub fn check_member_rules(row: &impl Columns, reactivated: bool) -> Result<()> {
    if row.int("owners")? == 0 {
        return Err(crate::Error::conflict(
            "role",
            "a workspace must keep at least one active owner",
        ));
    }
    if reactivated && row.int("taken")? > row.int("max_members")? {
        return Err(crate::Error::conflict(
            "max_members",
            "the workspace is full",
        ));
    }
    Ok(())
}

/// The answer when [`insert_member_sql`] found the user already a member.
pub fn already_a_member() -> crate::Error {
    crate::Error::conflict("user_id", "already a member of this workspace")
}

/// Insert an invitation. Placeholders: id, workspace, token hash, e-mail,
/// role, max uses, expires at, created by, created at (`p(1)` … `p(9)`).
pub fn insert_invitation_sql(p: fn(usize) -> String) -> String {
    let v: Vec<String> = (1..=9).map(p).collect();
    format!(
        "INSERT INTO invitations
           (invitation_id, workspace_id, token_hash, email, role, max_uses, expires_at,
            created_by, created_at)
         VALUES ({}) RETURNING *",
        v.join(", ")
    )
}

/// The invitations of a workspace that can still be accepted (placeholders:
/// workspace, now), counted against [`MAX_PENDING_INVITATIONS`].
pub fn pending_invitations_sql(workspace: &str, now: &str) -> String {
    format!(
        "SELECT count(*) FROM invitations
         WHERE workspace_id = {workspace} AND revoked_at IS NULL AND expires_at > {now}
           AND (max_uses IS NULL OR use_count < max_uses)"
    )
}

/// Who replied in a thread, by first reply, with the latest reply's stamp
/// in every row, in one read of the thread (placeholders: 1 the parent,
/// 2 its creation time, so that partitions before it are skipped, 3 the
/// limit).
pub fn thread_summary_sql(p: impl Fn(usize) -> String) -> String {
    format!(
        "SELECT user_id, MIN(created_at) AS first_at, MAX(MAX(ts)) OVER () AS latest_ts
         FROM messages WHERE thread_id = {parent} AND created_at >= {from} AND NOT is_deleted
         GROUP BY user_id ORDER BY first_at LIMIT {limit}",
        parent = p(1),
        from = p(2),
        limit = p(3)
    )
}

/// Record one reaction in `message_reactions`, beside the message's JSON
/// (placeholders 1–6: message, user, emoji, workspace, channel, time).
/// Recording it twice keeps the first time.
pub fn reaction_insert_sql(p: impl Fn(usize) -> String) -> String {
    format!(
        "INSERT INTO message_reactions (message_id, user_id, emoji, workspace_id, channel_id, reacted_at)
         VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT DO NOTHING",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6)
    )
}

/// Forget one reaction (placeholders 1–3: message, user, emoji).
pub fn reaction_delete_sql(p: impl Fn(usize) -> String) -> String {
    format!(
        "DELETE FROM message_reactions WHERE message_id = {} AND user_id = {} AND emoji = {}",
        p(1),
        p(2),
        p(3)
    )
}

/// The messages a person reacted to in a workspace, in the channels a
/// viewer is an active member of, by their latest reaction, newest first
/// (placeholders: 1 the person, 2 the workspace, 3 the viewer; with
/// `after_cursor`, 4 and 5 the last time and message of the page before and
/// 6 the limit, else 4 the limit).
pub fn reacted_by_sql(after_cursor: bool, p: impl Fn(usize) -> String) -> String {
    let (having, limit) = match after_cursor {
        true => (
            format!(
                "HAVING (MAX(r.reacted_at), r.message_id) < ({}, {})",
                p(4),
                p(5)
            ),
            p(6),
        ),
        false => (String::new(), p(4)),
    };
    format!(
        "SELECT r.message_id, MAX(r.reacted_at) AS reacted_at FROM message_reactions r
         WHERE r.user_id = {user} AND r.workspace_id = {workspace}
           AND r.channel_id IN (SELECT cm.channel_id FROM channel_members cm
                                WHERE cm.user_id = {viewer} AND cm.is_active)
         GROUP BY r.message_id {having}
         ORDER BY reacted_at DESC, r.message_id DESC LIMIT {limit}",
        user = p(1),
        workspace = p(2),
        viewer = p(3),
    )
}

/// The pinned, undeleted messages of a channel (placeholder: the channel),
/// counted in a pin's transaction against [`MAX_PINS_PER_CHANNEL`].
pub fn pinned_count_sql(channel: &str) -> String {
    format!(
        "SELECT count(*) FROM messages WHERE channel_id = {channel} AND is_pinned AND NOT is_deleted"
    )
}

/// The ids of a workspace's active members matching a person search:
/// `$pattern_start` (`text%`) against the start of the display name or of
/// one of its words, of the username and (when `by_email`) of the address;
/// `$pattern_inside` (`%text%`) within the title or department. Patterns
/// escape `%`, `_` and `\` with `\`. `p(n)` writes the n-th placeholder
/// (1: workspace, 2: start pattern, 3: word-start pattern, 4: inside
/// pattern, 5: limit).
pub fn member_search_sql(by_email: bool, p: impl Fn(usize) -> String) -> String {
    let email = if by_email {
        format!(" OR lower(u.email) LIKE {} ESCAPE '\\'", p(2))
    } else {
        String::new()
    };
    format!(
        "SELECT m.user_id FROM workspace_members m JOIN users u ON u.user_id = m.user_id
         WHERE m.workspace_id = {ws} AND m.status = 'active' AND u.status = 'active'
           AND (lower(u.display_name) LIKE {start} ESCAPE '\\'
                OR lower(u.display_name) LIKE {word} ESCAPE '\\'
                OR lower(u.username) LIKE {start} ESCAPE '\\'
                OR lower(coalesce(m.title, u.title, '')) LIKE {inside} ESCAPE '\\'
                OR lower(coalesce(m.department, '')) LIKE {inside} ESCAPE '\\'{email})
         ORDER BY lower(u.display_name), u.username LIMIT {limit}",
        ws = p(1),
        start = p(2),
        word = p(3),
        inside = p(4),
        limit = p(5),
    )
}

/// The start, word-start and inside patterns of [`member_search_sql`]
/// (placeholders 2, 3 and 4) for `text`.
pub fn member_search_patterns(text: &str) -> [String; 3] {
    let text = like_escaped(text);
    [
        format!("{text}%"),
        format!("% {text}%"),
        format!("%{text}%"),
    ]
}

/// `text` lowercased with the `LIKE` wildcards escaped.
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `alias.column AS alias_column` for each column: a select list whose
/// names [`Prefixed`] reads back.
fn select(alias: &str, columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| format!("{alias}.{c} AS {alias}_{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromColumns for (Session, User) {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        let session = Session::from_columns(&Prefixed { row, prefix: "s_" })?;
        let user = User::from_columns(&Prefixed { row, prefix: "u_" })?;
        Ok((session, user))
    }
}

impl FromColumns for ChannelContext {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        let part = |prefix| Prefixed { row, prefix };
        let (workspace_member, channel_member) = (part("wm_"), part("cm_"));
        Ok(ChannelContext {
            channel: Channel::from_columns(&part("c_"))?,
            workspace: Workspace::from_columns(&part("w_"))?,
            workspace_member: if workspace_member.present("member_id")? {
                Some(WorkspaceMember::from_columns(&workspace_member)?)
            } else {
                None
            },
            channel_member: if channel_member.present("membership_id")? {
                Some(ChannelMember::from_columns(&channel_member)?)
            } else {
                None
            },
        })
    }
}

impl FromColumns for User {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(User {
            id: row.id("user_id")?,
            email: row.text("email")?,
            username: row.text("username")?,
            display_name: row.text("display_name")?,
            avatar_url: row.opt_text("avatar_url")?,
            timezone: row.text("timezone")?,
            status: row.parsed("status")?,
            title: row.opt_text("title")?,
            phone: row.opt_text("phone")?,
            bio: row.opt_text("bio")?,
            pronouns: row.opt_text("pronouns")?,
            notification_settings: row.json("notification_settings")?,
            theme_preferences: row.json("theme_preferences")?,
            language: row.text("language")?,
            password_hash: row.opt_text("password_hash")?,
            mfa_enabled: row.flag("mfa_enabled")?,
            mfa_secret: row.opt_text("mfa_secret")?,
            created_at: row.ts("created_at")?,
            updated_at: row.ts("updated_at")?,
            last_login_at: row.opt_ts("last_login_at")?,
            email_verified_at: row.opt_ts("email_verified_at")?,
            is_bot: row.flag("is_bot")?,
        })
    }
}

impl FromColumns for Workspace {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(Workspace {
            id: row.id("workspace_id")?,
            name: row.text("name")?,
            domain: row.opt_text("domain")?,
            description: row.opt_text("description")?,
            avatar_url: row.opt_text("avatar_url")?,
            settings: row.json("settings")?,
            plan_type: row.text("plan_type")?,
            max_members: row.small("max_members")?,
            billing_email: row.opt_text("billing_email")?,
            subscription_status: row.text("subscription_status")?,
            sso_enabled: row.flag("sso_enabled")?,
            sso_config: row.opt_json("sso_config")?,
            require_2fa: row.flag("require_2fa")?,
            created_at: row.ts("created_at")?,
            updated_at: row.ts("updated_at")?,
        })
    }
}

impl FromColumns for WorkspaceMember {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(WorkspaceMember {
            id: row.id("member_id")?,
            workspace_id: row.id("workspace_id")?,
            user_id: row.id("user_id")?,
            role: row.parsed("role")?,
            title: row.opt_text("title")?,
            department: row.opt_text("department")?,
            status: row.parsed("status")?,
            invited_by: row.opt_id("invited_by")?,
            invitation_token: row.opt_text("invitation_token")?,
            permissions: row.json("permissions")?,
            last_seen_at: row.opt_ts("last_seen_at")?,
            timezone: row.opt_text("timezone")?,
            joined_at: row.ts("joined_at")?,
            updated_at: row.ts("updated_at")?,
        })
    }
}

impl FromColumns for Channel {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(Channel {
            id: row.id("channel_id")?,
            workspace_id: row.id("workspace_id")?,
            name: row.text("name")?,
            display_name: row.opt_text("display_name")?,
            description: row.opt_text("description")?,
            channel_type: row.parsed("channel_type")?,
            is_archived: row.flag("is_archived")?,
            is_general: row.flag("is_general")?,
            topic: row.opt_text("topic")?,
            purpose: row.opt_text("purpose")?,
            retention_policy: row.opt_json("retention_policy")?,
            allow_threads: row.flag("allow_threads")?,
            allow_file_upload: row.flag("allow_file_upload")?,
            allow_external_sharing: row.flag("allow_external_sharing")?,
            created_by: row.id("created_by")?,
            created_at: row.ts("created_at")?,
            updated_at: row.ts("updated_at")?,
            archived_at: row.opt_ts("archived_at")?,
        })
    }
}

impl FromColumns for ChannelMember {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(ChannelMember {
            id: row.id("membership_id")?,
            channel_id: row.id("channel_id")?,
            user_id: row.id("user_id")?,
            role: row.parsed("role")?,
            notification_level: row.parsed("notification_level")?,
            joined_at: row.ts("joined_at")?,
            left_at: row.opt_ts("left_at")?,
            invited_by: row.opt_id("invited_by")?,
            is_active: row.flag("is_active")?,
            last_read_message_id: row.opt_id("last_read_message_id")?,
            last_read_at: row.opt_ts("last_read_at")?,
        })
    }
}

/// Every column of `messages` but the edit history, whose length is read
/// as `edit_count` instead: what every read of messages but the history's
/// own takes. `prefix` is a table alias with its dot (or nothing);
/// `json_length` the dialect's function for the length of a JSON array.
pub fn message_columns(prefix: &str, json_length: &str) -> String {
    const COLUMNS: [&str; 21] = [
        "message_id",
        "workspace_id",
        "channel_id",
        "user_id",
        "content",
        "message_type",
        "formatted_content",
        "thread_id",
        "broadcast",
        "reply_count",
        "is_pinned",
        "pinned_by",
        "pinned_at",
        "is_deleted",
        "deleted_at",
        "reactions",
        "edited_at",
        "client_msg_id",
        "created_at",
        "updated_at",
        "ts",
    ];
    let mut list: Vec<String> = COLUMNS.iter().map(|c| format!("{prefix}{c}")).collect();
    list.push(format!("{json_length}({prefix}edit_history) AS edit_count"));
    list.join(", ")
}

/// Which rows of a channel its history shows, in the order `direction`
/// (`DESC` newest first, `ASC` oldest first): the top-level messages and the
/// replies also sent to the channel. Each is read by its own index range scan
/// and the two are merged, so no number of replies slows a page.
///
/// `select` is a query over `messages` aliased by `prefix` (with its dot, or
/// empty) whose WHERE clause holds the placeholder `{shown}`; `limit` is the
/// dialect's parameter for the page size, which may be repeated.
pub fn channel_history_sql(select: &str, prefix: &str, direction: &str, limit: &str) -> String {
    let inner_order = format!("{prefix}created_at {direction}, {prefix}message_id {direction}");
    let part = |shown: &str, alias: &str| {
        format!(
            "SELECT * FROM ({} ORDER BY {inner_order} LIMIT {limit}) AS {alias}",
            select.replace("{shown}", &format!("{prefix}{shown}")),
        )
    };
    format!(
        "{} UNION ALL {} ORDER BY created_at {direction}, message_id {direction} LIMIT {limit}",
        part("thread_id IS NULL", "top_level"),
        part("broadcast", "broadcasts"),
    )
}

impl FromColumns for Replier {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(Replier {
            user_id: row.id("user_id")?,
            latest_ts: row.int("latest_ts")?,
        })
    }
}

impl FromColumns for Reacted {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(Reacted {
            message_id: row.id("message_id")?,
            reacted_at: row.ts("reacted_at")?,
        })
    }
}

impl FromColumns for Message {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        // Reads that leave the history out give its length instead.
        let (history, edit_count): (Vec<EditRecord>, usize) = if row.has("edit_count") {
            let count = usize::try_from(row.int("edit_count")?).map_err(Error::internal)?;
            (Vec::new(), count)
        } else {
            let history: Vec<EditRecord> = row.typed_json("edit_history")?;
            let count = history.len();
            (history, count)
        };
        Ok(Message {
            id: row.id("message_id")?,
            workspace_id: row.id("workspace_id")?,
            channel_id: row.id("channel_id")?,
            user_id: row.id("user_id")?,
            content: row.text("content")?,
            message_type: row.parsed("message_type")?,
            formatted_content: row.opt_json("formatted_content")?,
            thread_id: row.opt_id("thread_id")?,
            broadcast: row.flag("broadcast")?,
            reply_count: row.small("reply_count")?,
            is_pinned: row.flag("is_pinned")?,
            pinned_by: row.opt_id("pinned_by")?,
            pinned_at: row.opt_ts("pinned_at")?,
            is_deleted: row.flag("is_deleted")?,
            deleted_at: row.opt_ts("deleted_at")?,
            reactions: row.typed_json("reactions")?,
            edited_at: row.opt_ts("edited_at")?,
            edit_count,
            edit_history: history,
            client_msg_id: row.opt_text("client_msg_id")?,
            created_at: row.ts("created_at")?,
            updated_at: row.ts("updated_at")?,
            ts: row.int("ts")?,
        })
    }
}

impl FromColumns for File {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(File {
            id: row.id("file_id")?,
            workspace_id: row.id("workspace_id")?,
            uploader_id: row.id("uploader_id")?,
            filename: row.text("filename")?,
            original_filename: row.text("original_filename")?,
            file_size: row.int("file_size")?,
            mime_type: row.text("mime_type")?,
            file_hash: row.opt_text("file_hash")?,
            storage_provider: row.text("storage_provider")?,
            storage_bucket: row.text("storage_bucket")?,
            storage_key: row.text("storage_key")?,
            storage_region: row.opt_text("storage_region")?,
            storage_class: row.text("storage_class")?,
            processing_status: row.text("processing_status")?,
            thumbnails: row.opt_json("thumbnails")?,
            extracted_text: row.opt_text("extracted_text")?,
            is_public: row.flag("is_public")?,
            share_token: row.opt_text("share_token")?,
            download_count: row.small("download_count")?,
            virus_scan_status: row.text("virus_scan_status")?,
            virus_scan_result: row.opt_json("virus_scan_result")?,
            created_at: row.ts("created_at")?,
            updated_at: row.ts("updated_at")?,
            expires_at: row.opt_ts("expires_at")?,
            last_accessed_at: row.opt_ts("last_accessed_at")?,
            deleted_at: row.opt_ts("deleted_at")?,
            claimed_mime_type: row.opt_text("claimed_mime_type")?,
            share_expires_at: row.opt_ts("share_expires_at")?,
        })
    }
}

impl FromColumns for TierCandidate {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(TierCandidate {
            storage_key: row.text("storage_key")?,
            storage_class: row.text("storage_class")?,
            file_size: row.int("file_size")?,
            last_used: row.ts("last_used")?,
        })
    }
}

impl FromColumns for MessageFile {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(MessageFile {
            message_id: row.id("message_id")?,
            channel_id: row.opt_id("channel_id")?,
            file_id: row.id("file_id")?,
            file_comment: row.opt_text("file_comment")?,
            attached_at: row.ts("attached_at")?,
        })
    }
}

impl FromColumns for Integration {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(Integration {
            id: row.id("integration_id")?,
            workspace_id: row.id("workspace_id")?,
            app_name: row.text("app_name")?,
            app_id: row.text("app_id")?,
            integration_type: row.text("integration_type")?,
            config: row.json("config")?,
            credentials: row.opt_json("credentials")?,
            scopes: row.string_list("scopes")?,
            channel_id: row.opt_id("channel_id")?,
            status: row.text("status")?,
            last_error: row.opt_text("last_error")?,
            installed_by: row.id("installed_by")?,
            created_at: row.ts("created_at")?,
            updated_at: row.ts("updated_at")?,
            last_used_at: row.opt_ts("last_used_at")?,
        })
    }
}

impl FromColumns for ApiToken {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(ApiToken {
            id: row.id("token_id")?,
            token_hash: row.text("token_hash")?,
            kind: row.parsed("kind")?,
            user_id: row.id("user_id")?,
            workspace_id: row.id("workspace_id")?,
            integration_id: row.opt_id("integration_id")?,
            label: row.text("label")?,
            scopes: row.string_list("scopes")?,
            created_at: row.ts("created_at")?,
            last_used_at: row.opt_ts("last_used_at")?,
            revoked_at: row.opt_ts("revoked_at")?,
        })
    }
}

impl FromColumns for (ApiToken, User) {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        let token = ApiToken::from_columns(&Prefixed { row, prefix: "t_" })?;
        let user = User::from_columns(&Prefixed { row, prefix: "u_" })?;
        Ok((token, user))
    }
}

/// A token (by the hash of its text) with the user it acts as, columns
/// prefixed `t_` and `u_`.
pub fn token_with_user_sql(hash: &str) -> String {
    format!(
        "SELECT {}, {} FROM api_tokens t JOIN users u ON u.user_id = t.user_id
         WHERE t.token_hash = {hash}",
        select("t", TOKEN_COLUMNS),
        select("u", USER_COLUMNS),
    )
}

const TOKEN_COLUMNS: &[&str] = &[
    "token_id",
    "token_hash",
    "kind",
    "user_id",
    "workspace_id",
    "integration_id",
    "label",
    "scopes",
    "created_at",
    "last_used_at",
    "revoked_at",
];

impl FromColumns for EventDelivery {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(EventDelivery {
            id: row.id("delivery_id")?,
            integration_id: row.id("integration_id")?,
            event_id: row.text("event_id")?,
            payload: row.json("payload")?,
            status: row.text("status")?,
            attempts: row.small("attempts")?,
            next_attempt_at: row.ts("next_attempt_at")?,
            last_error: row.opt_text("last_error")?,
            created_at: row.ts("created_at")?,
            delivered_at: row.opt_ts("delivered_at")?,
        })
    }
}

impl FromColumns for Session {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(Session {
            id: row.text("session_id")?,
            user_id: row.id("user_id")?,
            workspace_id: row.opt_id("workspace_id")?,
            device_type: row.text("device_type")?,
            ip_address: row.opt_text("ip_address")?,
            user_agent: row.opt_text("user_agent")?,
            permissions: row.typed_json("permissions")?,
            created_at: row.ts("created_at")?,
            last_activity_at: row.ts("last_activity_at")?,
            expires_at: row.ts("expires_at")?,
            revoked_at: row.opt_ts("revoked_at")?,
        })
    }
}

impl FromColumns for LoginChallenge {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(LoginChallenge {
            id: row.text("challenge_id")?,
            user_id: row.id("user_id")?,
            client: ClientInfo {
                device_type: row.text("device_type")?,
                ip_address: row.opt_text("ip_address")?,
                user_agent: row.opt_text("user_agent")?,
            },
            created_at: row.ts("created_at")?,
            expires_at: row.ts("expires_at")?,
        })
    }
}

impl FromColumns for FailureCount {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(FailureCount {
            failures: row.small("failures")?,
            window_started_at: row.ts("window_started_at")?,
            locked_until: row.opt_ts("locked_until")?,
        })
    }
}

impl FromColumns for Invitation {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(Invitation {
            id: row.id("invitation_id")?,
            workspace_id: row.id("workspace_id")?,
            token_hash: row.text("token_hash")?,
            email: row.opt_text("email")?,
            role: row.parsed("role")?,
            max_uses: row
                .opt_int("max_uses")?
                .map(i32::try_from)
                .transpose()
                .map_err(Error::internal)?,
            use_count: row.small("use_count")?,
            expires_at: row.ts("expires_at")?,
            revoked_at: row.opt_ts("revoked_at")?,
            created_by: row.id("created_by")?,
            created_at: row.ts("created_at")?,
        })
    }
}

impl FromColumns for ReadState {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(ReadState {
            channel_id: row.id("channel_id")?,
            last_read_message_id: row.opt_id("last_read_message_id")?,
            unread: row.int("unread")?,
            mentions: row.int("mentions")?,
        })
    }
}

/// Read from a message row joined with its author's
/// `author_display_name` and `author_avatar_url`.
impl FromColumns for Author {
    fn from_columns(row: &impl Columns) -> Result<Self> {
        Ok(Author {
            user_id: row.id("user_id")?,
            display_name: row.text("author_display_name")?,
            avatar_url: row.opt_text("author_avatar_url")?,
        })
    }
}

/// Statements of the API token store, the same for every database but
/// their placeholders (`p(n)` writes the `n`th).
pub mod token_sql {
    /// Insert a token: id, hash, kind, user, workspace, integration, label,
    /// scopes, created.
    pub fn insert(p: fn(usize) -> String) -> String {
        format!(
            "INSERT INTO api_tokens
               (token_id, token_hash, kind, user_id, workspace_id, integration_id, label, scopes, created_at)
             VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}) RETURNING *",
            p(1), p(2), p(3), p(4), p(5), p(6), p(7), p(8), p(9)
        )
    }

    /// Insert a bot user: id, email, username, display name, created, and
    /// the dialect's `true`.
    pub fn insert_bot_user(p: fn(usize) -> String, yes: &str) -> String {
        format!(
            "INSERT INTO users (user_id, email, username, display_name, is_bot, created_at, updated_at)
             VALUES ({}, {}, {}, {}, {yes}, {}, {}) RETURNING *",
            p(1), p(2), p(3), p(4), p(5), p(5)
        )
    }

    /// A person's own tokens in a workspace (user, workspace), newest first.
    pub fn of_user(p: fn(usize) -> String) -> String {
        format!(
            "SELECT * FROM api_tokens WHERE user_id = {} AND workspace_id = {} AND kind = 'user'
             ORDER BY token_id DESC",
            p(1),
            p(2)
        )
    }

    /// Revoke live tokens (at, token id, integration id).
    pub fn revoke(p: fn(usize) -> String) -> String {
        format!(
            "UPDATE api_tokens SET revoked_at = {}
             WHERE revoked_at IS NULL AND (token_id = {} OR integration_id = {})",
            p(1),
            p(2),
            p(3)
        )
    }

    /// Record a use (at, token id), and of the integration (at, integration id).
    pub fn touch(p: fn(usize) -> String) -> [String; 2] {
        [
            format!(
                "UPDATE api_tokens SET last_used_at = {} WHERE token_id = {}",
                p(1),
                p(2)
            ),
            format!(
                "UPDATE integrations SET last_used_at = {} WHERE integration_id = {}",
                p(1),
                p(2)
            ),
        ]
    }

    /// Insert an integration: id, workspace, app name, app id, type,
    /// config, credentials, scopes, channel, installer, created.
    pub fn insert_integration(p: fn(usize) -> String) -> String {
        format!(
            "INSERT INTO integrations
               (integration_id, workspace_id, app_name, app_id, integration_type, config,
                credentials, scopes, channel_id, installed_by, created_at, updated_at)
             VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}) RETURNING *",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(7),
            p(8),
            p(9),
            p(10),
            p(11),
            p(11)
        )
    }
}

/// Statements of the event delivery queue, the same for every database but
/// their placeholders (`p(n)` writes the `n`th).
pub mod delivery_sql {
    /// Queue one delivery: id, integration, event id, payload, created (also
    /// the first attempt's time).
    pub fn insert(p: fn(usize) -> String) -> String {
        format!(
            "INSERT INTO event_deliveries
               (delivery_id, integration_id, event_id, payload, next_attempt_at, created_at)
             VALUES ({}, {}, {}, {}, {}, {}) ON CONFLICT (event_id) DO NOTHING",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(5)
        )
    }

    /// Claim due deliveries (lease until, now, limit); `lock` is the
    /// dialect's row lock for the inner select (empty on SQLite).
    pub fn claim(p: fn(usize) -> String, lock: &str) -> String {
        format!(
            "UPDATE event_deliveries SET claimed_until = {lease}
             WHERE delivery_id IN (
                 SELECT delivery_id FROM event_deliveries
                 WHERE status = 'pending' AND next_attempt_at <= {now}
                   AND (claimed_until IS NULL OR claimed_until < {now})
                 ORDER BY created_at, delivery_id LIMIT {limit} {lock})
             RETURNING *",
            lease = p(1),
            now = p(2),
            limit = p(3),
        )
    }

    /// Record an attempt: status, attempts, next attempt, last error,
    /// delivered at, id.
    pub fn finish(p: fn(usize) -> String) -> String {
        format!(
            "UPDATE event_deliveries
             SET status = {}, attempts = {}, next_attempt_at = {}, last_error = {},
                 delivered_at = {}, claimed_until = NULL
             WHERE delivery_id = {}",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5),
            p(6)
        )
    }

    /// The latest deliveries of an integration (integration, limit).
    pub fn recent(p: fn(usize) -> String) -> String {
        format!(
            "SELECT * FROM event_deliveries WHERE integration_id = {}
             ORDER BY created_at DESC, delivery_id DESC LIMIT {}",
            p(1),
            p(2)
        )
    }

    /// Replace an integration's configuration, status and last error
    /// (config, status, last error, updated, id).
    pub fn update_integration(p: fn(usize) -> String) -> String {
        format!(
            "UPDATE integrations SET config = {}, status = {}, last_error = {}, updated_at = {}
             WHERE integration_id = {} RETURNING *",
            p(1),
            p(2),
            p(3),
            p(4),
            p(5)
        )
    }
}
