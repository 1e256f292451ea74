use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::text_enum;
use crate::id::{MemberId, UserId, WorkspaceId};

/// Messages older than this many days are archived unless the workspace's
/// `settings.retention_days` says otherwise.
pub const DEFAULT_RETENTION_DAYS: i64 = 365;

/// A workspace (the `workspaces` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub name: String,
    pub domain: Option<String>,
    pub description: Option<String>,
    pub avatar_url: Option<String>,
    pub settings: Value,
    pub plan_type: String,
    pub max_members: i32,
    pub billing_email: Option<String>,
    pub subscription_status: String,
    pub sso_enabled: bool,
    pub sso_config: Option<Value>,
    pub require_2fa: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Workspace {
    /// The largest file the workspace takes, in bytes, from
    /// `settings.max_file_size` (the server's limit applies as well).
    pub fn max_file_size(&self) -> Option<u64> {
        self.settings
            .get("max_file_size")
            .and_then(Value::as_u64)
            .filter(|bytes| *bytes > 0)
    }

    /// Retention in days, from `settings.retention_days`.
    pub fn retention_days(&self) -> i64 {
        self.settings
            .get("retention_days")
            .and_then(Value::as_i64)
            .filter(|days| *days > 0)
            .unwrap_or(DEFAULT_RETENTION_DAYS)
    }
}

/// What is needed to create a workspace.
#[derive(Clone, Debug)]
pub struct NewWorkspace {
    pub id: WorkspaceId,
    pub name: String,
    pub domain: Option<String>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A partial update of a workspace. `None` leaves a field unchanged;
/// `Some(None)` clears an optional field.
#[derive(Clone, Debug, Default)]
pub struct WorkspaceUpdate {
    pub name: Option<String>,
    pub domain: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
    pub settings: Option<Value>,
    pub plan_type: Option<String>,
    pub max_members: Option<i32>,
    pub billing_email: Option<Option<String>>,
    pub subscription_status: Option<String>,
    pub sso_enabled: Option<bool>,
    pub sso_config: Option<Option<Value>>,
    pub require_2fa: Option<bool>,
}

text_enum!(
    /// A member's role in a workspace, most powerful first.
    WorkspaceRole {
        Owner = "owner",
        Admin = "admin",
        Member = "member",
        Guest = "guest",
    }
);

text_enum!(
    /// Whether a workspace membership is in force.
    MemberStatus {
        Active = "active",
        Invited = "invited",
        Deactivated = "deactivated",
        /// Left on their own: an invitation brings them back (a deactivated
        /// member stays out until an admin reactivates them).
        Left = "left",
    }
);

/// One user's membership of one workspace (the `workspace_members` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkspaceMember {
    pub id: MemberId,
    pub workspace_id: WorkspaceId,
    pub user_id: UserId,
    pub role: WorkspaceRole,
    pub title: Option<String>,
    pub department: Option<String>,
    pub status: MemberStatus,
    pub invited_by: Option<UserId>,
    pub invitation_token: Option<String>,
    pub permissions: Value,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub timezone: Option<String>,
    pub joined_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What is needed to add a member.
#[derive(Clone, Debug)]
pub struct NewWorkspaceMember {
    pub id: MemberId,
    pub workspace_id: WorkspaceId,
    pub user_id: UserId,
    pub role: WorkspaceRole,
    pub status: MemberStatus,
    pub invited_by: Option<UserId>,
    pub invitation_token: Option<String>,
    pub joined_at: DateTime<Utc>,
}

/// A partial update of a membership.
#[derive(Clone, Debug, Default)]
pub struct MemberUpdate {
    pub role: Option<WorkspaceRole>,
    pub status: Option<MemberStatus>,
    pub title: Option<Option<String>>,
    pub department: Option<Option<String>>,
    pub timezone: Option<Option<String>>,
    pub permissions: Option<Value>,
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// Filter for listing members.
#[derive(Clone, Debug, Default)]
pub struct MemberFilter {
    pub role: Option<WorkspaceRole>,
    pub status: Option<MemberStatus>,
}

/// Pair each workspace with `user`'s membership of it, keeping the order of
/// `workspaces`; a workspace without a matching membership is left out.
pub fn pair_workspaces(
    workspaces: Vec<Workspace>,
    members: Vec<WorkspaceMember>,
) -> Vec<(Workspace, WorkspaceMember)> {
    let mut by_workspace: std::collections::HashMap<WorkspaceId, WorkspaceMember> =
        members.into_iter().map(|m| (m.workspace_id, m)).collect();
    workspaces
        .into_iter()
        .filter_map(|ws| by_workspace.remove(&ws.id).map(|m| (ws, m)))
        .collect()
}
