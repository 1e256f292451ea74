use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::id::{InvitationId, UserId, WorkspaceId};
use crate::model::{NewWorkspaceMember, WorkspaceRole};

/// A login session. Its id is the SHA-256 (hex) of the bearer token, so the
/// database never holds a usable token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub user_id: UserId,
    /// The workspace the session last worked in, if any.
    pub workspace_id: Option<WorkspaceId>,
    pub device_type: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub permissions: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    /// Whether the session may still be used at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// Where a login comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    pub device_type: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// A password step that passed and now waits for a TOTP code. Its id is the
/// SHA-256 (hex) of the challenge token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoginChallenge {
    pub id: String,
    pub user_id: UserId,
    pub client: ClientInfo,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Failed attempts counted against one subject (e.g. `mfa:{user}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureCount {
    pub failures: i32,
    pub window_started_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

/// Most invitations of a workspace that can still be accepted at once.
pub const MAX_PENDING_INVITATIONS: i64 = 1_000;

/// Refuse a new invitation when `pending` ones are waiting already.
pub fn check_invitation_room(pending: i64) -> crate::Result<()> {
    if pending >= MAX_PENDING_INVITATIONS {
        return Err(crate::Error::conflict(
            "invitation",
            format!(
                "a workspace has at most {MAX_PENDING_INVITATIONS} pending invitations; revoke some first"
            ),
        ));
    }
    Ok(())
}

/// The rules of one [`take_attempt`](crate::ports::AuthStore::take_attempt).
#[derive(Clone, Copy, Debug)]
pub struct AttemptRules {
    pub now: DateTime<Utc>,
    /// Counts from windows that started before this restart at one.
    pub window_start: DateTime<Utc>,
    /// Attempts allowed in a window; the last of them locks the subject.
    pub max_attempts: i32,
    pub lock_until: DateTime<Utc>,
}

/// An invitation to join a workspace: for one e-mail address, or an open link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: InvitationId,
    pub workspace_id: WorkspaceId,
    /// SHA-256 (hex) of the invitation token.
    pub token_hash: String,
    /// The only address that may accept, for an e-mail invitation.
    pub email: Option<String>,
    pub role: WorkspaceRole,
    /// `None` for a link that may be used until it expires.
    pub max_uses: Option<i32>,
    pub use_count: i32,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
}

impl Invitation {
    /// Whether the invitation can still be accepted at `now`.
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none()
            && self.expires_at > now
            && self.max_uses.is_none_or(|max| self.use_count < max)
    }

    /// The membership this invitation grants to `member`'s user at `at`:
    /// the workspace and role are the invitation's, whatever was asked.
    /// Conflict on `invitation` if it can no longer be used.
    pub fn admit(
        &self,
        member: &NewWorkspaceMember,
        at: DateTime<Utc>,
    ) -> crate::Result<NewWorkspaceMember> {
        if !self.is_usable(at) {
            return Err(crate::Error::conflict(
                "invitation",
                "this invitation is revoked, expired or used up",
            ));
        }
        Ok(NewWorkspaceMember {
            workspace_id: self.workspace_id,
            role: self.role,
            invited_by: Some(self.created_by),
            invitation_token: Some(self.id.to_string()),
            ..member.clone()
        })
    }
}
