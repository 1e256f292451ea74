//! Workspaces, their members and invitations.

use std::collections::HashMap;

use confab_core::id::*;
use confab_core::model::*;
use confab_core::page::Page;
use confab_core::permissions::{allows, WorkspaceAction};
use confab_core::{time, Error, Result};

use crate::accounts::Caller;
use crate::tokens::{hash_token, looks_like_token, new_token};
use crate::{validate, Services};

/// What is needed to create a workspace.
#[derive(Clone, Debug, Default)]
pub struct NewWorkspaceRequest {
    pub name: String,
    pub domain: Option<String>,
    pub description: Option<String>,
}

/// A workspace just created, with the creator's membership and its general channel.
#[derive(Clone, Debug)]
pub struct CreatedWorkspace {
    pub workspace: Workspace,
    pub member: WorkspaceMember,
    pub general: Channel,
}

/// An invitation just made: its token is shown only now, and whether it
/// was mailed to its address (false for links, and when the mail failed).
pub struct IssuedInvitation {
    pub invitation: Invitation,
    pub token: String,
    pub mailed: bool,
}

/// The longest an invitation may stay valid.
const MAX_INVITATION_DAYS: i64 = 30;

fn forbidden(what: &str) -> Error {
    Error::Forbidden(format!("your role does not allow you to {what}"))
}

impl Services {
    /// Create a workspace owned by the caller, with a `general` channel.
    pub async fn create_workspace(
        &self,
        caller: &Caller,
        request: NewWorkspaceRequest,
    ) -> Result<CreatedWorkspace> {
        let now = time::now();
        let workspace = NewWorkspace {
            id: WorkspaceId::new(),
            name: validate::text("name", &request.name, 1, 200)?,
            domain: request
                .domain
                .as_deref()
                .map(validate::domain)
                .transpose()?,
            description: validate::optional_text(
                "description",
                request.description.as_deref(),
                4000,
            )?,
            created_at: now,
        };
        self.limit_per_hour(caller, "workspace_create", self.policy.workspaces_per_hour)
            .await?;
        let owner = NewWorkspaceMember {
            id: MemberId::new(),
            workspace_id: workspace.id,
            user_id: caller.user.id,
            role: WorkspaceRole::Owner,
            status: MemberStatus::Active,
            invited_by: None,
            invitation_token: None,
            joined_at: now,
        };
        let general = NewChannel {
            id: ChannelId::new(),
            workspace_id: workspace.id,
            name: "general".into(),
            display_name: Some("General".into()),
            description: None,
            channel_type: ChannelType::Public,
            is_general: true,
            topic: None,
            purpose: Some("Announcements and conversation for the whole workspace".into()),
            created_by: caller.user.id,
            created_at: now,
        };
        let (workspace, general) = self
            .stores
            .workspaces
            .create_workspace(&workspace, &owner, &general)
            .await?;
        let member = self.membership(workspace.id, caller).await?;
        Ok(CreatedWorkspace {
            workspace,
            member,
            general,
        })
    }

    async fn membership(&self, workspace: WorkspaceId, caller: &Caller) -> Result<WorkspaceMember> {
        caller.may_act_in(workspace)?;
        self.stores
            .workspaces
            .get_member(workspace, caller.user.id)
            .await?
            .ok_or(Error::NotFound("workspace"))
    }

    /// The workspace and the caller's active membership of it. Anyone else
    /// is told the workspace does not exist. A workspace that requires 2FA
    /// refuses members who have not enrolled.
    pub async fn workspace_for(
        &self,
        caller: &Caller,
        id: WorkspaceId,
    ) -> Result<(Workspace, WorkspaceMember)> {
        let member = self.membership(id, caller).await?;
        if member.status != MemberStatus::Active {
            return Err(Error::NotFound("workspace"));
        }
        let workspace = self
            .stores
            .workspaces
            .get_workspace(id)
            .await?
            .ok_or(Error::NotFound("workspace"))?;
        check_2fa_rule(&workspace, caller)?;
        Ok((workspace, member))
    }

    /// The workspaces the caller is an active member of.
    pub async fn my_workspaces(
        &self,
        caller: &Caller,
    ) -> Result<Vec<(Workspace, WorkspaceMember)>> {
        Ok(self
            .stores
            .workspaces
            .list_workspaces_for_user(caller.user.id)
            .await?
            .into_iter()
            .filter(|(_, m)| m.status == MemberStatus::Active)
            .collect())
    }

    /// Change workspace fields, each checked against the caller's role; the
    /// updated workspace and the caller's membership.
    pub async fn update_workspace(
        &self,
        caller: &Caller,
        id: WorkspaceId,
        update: WorkspaceUpdate,
    ) -> Result<(Workspace, WorkspaceMember)> {
        let (before, me) = self.workspace_for(caller, id).await?;
        let touches_settings = update.name.is_some()
            || update.domain.is_some()
            || update.description.is_some()
            || update.avatar_url.is_some()
            || update.settings.is_some();
        let touches_billing = update.plan_type.is_some()
            || update.max_members.is_some()
            || update.billing_email.is_some()
            || update.subscription_status.is_some()
            || update.sso_enabled.is_some()
            || update.sso_config.is_some()
            || update.require_2fa.is_some();
        if touches_settings && !allows(me.role, WorkspaceAction::UpdateSettings) {
            return Err(forbidden("change workspace settings"));
        }
        if touches_billing && !allows(me.role, WorkspaceAction::UpdateBillingAndSecurity) {
            return Err(forbidden("change billing, limits or security settings"));
        }
        let checked = WorkspaceUpdate {
            name: update
                .name
                .as_deref()
                .map(|v| validate::text("name", v, 1, 200))
                .transpose()?,
            domain: validate::clearable(update.domain, validate::domain)?,
            description: validate::clearable(update.description, |v| {
                validate::text("description", v, 1, 4000)
            })?,
            avatar_url: validate::clearable(update.avatar_url, |v| validate::url("avatar_url", v))?,
            settings: update.settings.as_ref().map(checked_settings).transpose()?,
            plan_type: update
                .plan_type
                .as_deref()
                .map(|v| validate::text("plan_type", v, 1, 50))
                .transpose()?,
            max_members: update
                .max_members
                .map(|n| {
                    if (1..=1_000_000).contains(&n) {
                        Ok(n)
                    } else {
                        Err(Error::invalid(
                            "max_members",
                            "must be between 1 and 1000000",
                        ))
                    }
                })
                .transpose()?,
            billing_email: validate::clearable(update.billing_email, validate::email)?,
            subscription_status: update
                .subscription_status
                .as_deref()
                .map(|v| validate::text("subscription_status", v, 1, 50))
                .transpose()?,
            sso_enabled: update.sso_enabled,
            sso_config: match update.sso_config {
                Some(Some(v)) => Some(Some(validate::json_object("sso_config", &v)?)),
                other => other,
            },
            require_2fa: update.require_2fa,
        };
        if checked.require_2fa == Some(true) && !caller.user.mfa_enabled {
            return Err(Error::invalid(
                "require_2fa",
                "enroll in two-factor authentication yourself before requiring it",
            ));
        }
        let updated = self
            .stores
            .workspaces
            .update_workspace(id, &checked)
            .await?;
        if updated.require_2fa != before.require_2fa {
            self.after_2fa_rule_changed(id).await;
        }
        Ok((updated, me))
    }

    /// One member of a workspace with their account, by user id or by
    /// address; anyone else is not found.
    pub async fn find_member(
        &self,
        caller: &Caller,
        id: WorkspaceId,
        user: Option<UserId>,
        email: Option<&str>,
    ) -> Result<(WorkspaceMember, User)> {
        let (_, me) = self.workspace_for(caller, id).await?;
        if !allows(me.role, WorkspaceAction::ListMembers) {
            return Err(forbidden("list the members of this workspace"));
        }
        let account = match (user, email) {
            (Some(user), _) => self.stores.users.get_user(user).await?,
            (None, Some(email)) => self.stores.users.find_user_by_email(email).await?,
            (None, None) => None,
        }
        .ok_or(Error::NotFound("user"))?;
        let member = self
            .stores
            .workspaces
            .get_member(id, account.id)
            .await?
            .filter(|m| m.status != MemberStatus::Invited)
            .ok_or(Error::NotFound("user"))?;
        Ok((member, account))
    }

    /// Members of a workspace, by member id, with optional filters, each
    /// with their account (for the names a client shows).
    pub async fn list_members(
        &self,
        caller: &Caller,
        id: WorkspaceId,
        filter: MemberFilter,
        after: Option<MemberId>,
        limit: u32,
    ) -> Result<Page<(WorkspaceMember, User), MemberId>> {
        let (_, me) = self.workspace_for(caller, id).await?;
        if !allows(me.role, WorkspaceAction::ListMembers) {
            return Err(forbidden("list the members of this workspace"));
        }
        let page = self
            .stores
            .workspaces
            .list_members(id, &filter, after, limit)
            .await?;
        self.with_users(page, |m| m.user_id).await
    }

    /// Each item of `page` with the account of its user (read in one
    /// The accounts of `ids` that exist, by id.
    pub(crate) async fn users_by_id(&self, ids: &[UserId]) -> Result<HashMap<UserId, User>> {
        Ok(self
            .stores
            .users
            .get_users(ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect())
    }

    /// query); items whose account is gone are left out.
    pub(crate) async fn with_users<T, K>(
        &self,
        page: Page<T, K>,
        user_of: impl Fn(&T) -> UserId,
    ) -> Result<Page<(T, User), K>> {
        let ids: Vec<UserId> = page.items.iter().map(&user_of).collect();
        let mut users = self.users_by_id(&ids).await?;
        let items = page
            .items
            .into_iter()
            .filter_map(|item| users.remove(&user_of(&item)).map(|u| (item, u)))
            .collect();
        Ok(Page {
            items,
            next: page.next,
        })
    }

    /// Invite someone: for one e-mail address (single use) or as an open
    /// link (`max_uses` or unlimited). Returns the invitation and its token,
    /// which is shown only now.
    pub async fn invite(
        &self,
        caller: &Caller,
        id: WorkspaceId,
        email: Option<&str>,
        role: WorkspaceRole,
        max_uses: Option<i32>,
        expires_in_days: Option<i64>,
    ) -> Result<IssuedInvitation> {
        let (workspace, me) = self.workspace_for(caller, id).await?;
        if !allows(me.role, WorkspaceAction::Invite { role }) {
            return Err(forbidden(&format!("invite people as {role}")));
        }
        let email = email.map(validate::email).transpose()?;
        let max_uses = match (&email, max_uses) {
            (Some(_), _) => Some(1),
            (None, Some(n)) if !(1..=10_000).contains(&n) => {
                return Err(Error::invalid("max_uses", "must be between 1 and 10000"))
            }
            (None, n) => n,
        };
        let days = expires_in_days.unwrap_or(7);
        if !(1..=MAX_INVITATION_DAYS).contains(&days) {
            return Err(Error::invalid(
                "expires_in_days",
                format!("must be between 1 and {MAX_INVITATION_DAYS}"),
            ));
        }
        let (token, token_hash) = new_token();
        let now = time::now();
        let invitation = Invitation {
            id: InvitationId::new(),
            workspace_id: id,
            token_hash,
            email,
            role,
            max_uses,
            use_count: 0,
            expires_at: now + chrono::Duration::days(days),
            revoked_at: None,
            created_by: caller.user.id,
            created_at: now,
        };
        let created = self
            .stores
            .workspaces
            .create_invitation(&invitation)
            .await?;
        let mailed = match &created.email {
            Some(to) => {
                let sent = self
                    .send_invitation(&caller.user, &workspace.name, to, &token, days)
                    .await;
                if let Err(err) = &sent {
                    // The invitation stands: the inviter is told and can
                    // share its link by hand.
                    tracing::warn!(error = %err, "an invitation mail was not sent");
                }
                sent.is_ok()
            }
            None => false,
        };
        Ok(IssuedInvitation {
            invitation: created,
            token,
            mailed,
        })
    }

    /// The invitations of a workspace.
    pub async fn invitations(
        &self,
        caller: &Caller,
        id: WorkspaceId,
        before: Option<InvitationId>,
        limit: u32,
    ) -> Result<Page<Invitation, InvitationId>> {
        let (_, me) = self.workspace_for(caller, id).await?;
        if !allows(me.role, WorkspaceAction::ManageInvitations) {
            return Err(forbidden("manage invitations"));
        }
        self.stores
            .workspaces
            .list_invitations(id, before, limit)
            .await
    }

    /// Revoke an invitation.
    pub async fn revoke_invitation(
        &self,
        caller: &Caller,
        id: WorkspaceId,
        invitation: InvitationId,
    ) -> Result<Invitation> {
        let (_, me) = self.workspace_for(caller, id).await?;
        if !allows(me.role, WorkspaceAction::ManageInvitations) {
            return Err(forbidden("manage invitations"));
        }
        self.stores
            .workspaces
            .revoke_invitation(id, invitation, time::now())
            .await
    }

    /// Join a workspace with an invitation token.
    pub async fn accept_invitation(
        &self,
        caller: &Caller,
        token: &str,
    ) -> Result<(Workspace, WorkspaceMember)> {
        if !looks_like_token(token) {
            return Err(Error::NotFound("invitation"));
        }
        let token_hash = hash_token(token);
        let invitation = self
            .stores
            .workspaces
            .get_invitation_by_token(&token_hash)
            .await?
            .ok_or(Error::NotFound("invitation"))?;
        if let Some(email) = &invitation.email {
            if !email.eq_ignore_ascii_case(&caller.user.email) {
                return Err(Error::NotFound("invitation"));
            }
            if caller.user.email_verified_at.is_none() {
                return Err(Error::Forbidden(
                    "confirm your e-mail address (see the mail we sent) to accept an \
                     invitation made for it"
                        .into(),
                ));
            }
        }
        let now = time::now();
        let member = NewWorkspaceMember {
            id: MemberId::new(),
            workspace_id: invitation.workspace_id,
            user_id: caller.user.id,
            role: invitation.role,
            status: MemberStatus::Active,
            invited_by: Some(invitation.created_by),
            invitation_token: None,
            joined_at: now,
        };
        let (_, member) = self
            .stores
            .workspaces
            .accept_invitation(&token_hash, &member, now)
            .await?;
        self.after_access_changed(member.workspace_id, caller.user.id)
            .await;
        let workspace = self
            .stores
            .workspaces
            .get_workspace(member.workspace_id)
            .await?
            .ok_or(Error::NotFound("workspace"))?;
        Ok((workspace, member))
    }

    /// A member of the workspace as seen by the caller, or NotFound.
    async fn target_member(&self, id: WorkspaceId, user: UserId) -> Result<WorkspaceMember> {
        self.stores
            .workspaces
            .get_member(id, user)
            .await?
            .ok_or(Error::NotFound("member"))
    }

    /// Change a member's role or per-member fields.
    pub async fn update_member(
        &self,
        caller: &Caller,
        id: WorkspaceId,
        user: UserId,
        update: MemberUpdate,
    ) -> Result<WorkspaceMember> {
        let (_, me) = self.workspace_for(caller, id).await?;
        let target = self.target_member(id, user).await?;
        if let Some(role) = update.role.filter(|r| *r != target.role) {
            if !allows(
                me.role,
                WorkspaceAction::ChangeRole {
                    from: target.role,
                    to: role,
                },
            ) {
                return Err(forbidden("make this change of role"));
            }
        }
        let edits_fields = update.title.is_some()
            || update.department.is_some()
            || update.timezone.is_some()
            || update.permissions.is_some();
        let is_self = user == caller.user.id;
        if edits_fields
            && !is_self
            && !allows(
                me.role,
                WorkspaceAction::EditMember {
                    target: target.role,
                },
            )
        {
            return Err(forbidden("edit this member"));
        }
        if update.permissions.is_some()
            && !allows(
                me.role,
                WorkspaceAction::EditMember {
                    target: target.role,
                },
            )
        {
            return Err(forbidden("change member permissions"));
        }
        if update.status.is_some() || update.last_seen_at.is_some() {
            return Err(Error::invalid("status", "use deactivate or reactivate"));
        }
        let checked = MemberUpdate {
            role: update.role,
            status: None,
            title: validate::clearable(update.title, |v| validate::text("title", v, 1, 200))?,
            department: validate::clearable(update.department, |v| {
                validate::text("department", v, 1, 100)
            })?,
            timezone: validate::clearable(update.timezone, |v| {
                validate::text("timezone", v, 1, 50)
            })?,
            permissions: update
                .permissions
                .as_ref()
                .map(|v| validate::json_object("permissions", v))
                .transpose()?,
            last_seen_at: None,
        };
        let updated = self
            .stores
            .workspaces
            .update_member(id, user, &checked)
            .await?;
        if updated.role != target.role {
            self.after_access_changed(id, user).await;
        }
        Ok(updated)
    }

    /// Deactivate (`active` false) or reactivate a member. A deactivated
    /// member's sessions stay, but every workspace call answers "not found".
    pub async fn set_member_active(
        &self,
        caller: &Caller,
        id: WorkspaceId,
        user: UserId,
        active: bool,
    ) -> Result<WorkspaceMember> {
        let (_, me) = self.workspace_for(caller, id).await?;
        let target = self.target_member(id, user).await?;
        if !allows(
            me.role,
            WorkspaceAction::SetMemberActive {
                target: target.role,
            },
        ) {
            return Err(forbidden("deactivate or reactivate this member"));
        }
        // The store refuses a change that would leave no active owner.
        let status = if active {
            MemberStatus::Active
        } else {
            MemberStatus::Deactivated
        };
        let updated = self
            .stores
            .workspaces
            .update_member(
                id,
                user,
                &MemberUpdate {
                    status: Some(status),
                    ..Default::default()
                },
            )
            .await?;
        self.after_access_changed(id, user).await;
        Ok(updated)
    }

    /// Leave a workspace; the last owner cannot.
    pub async fn leave_workspace(&self, caller: &Caller, id: WorkspaceId) -> Result<()> {
        self.workspace_for(caller, id).await?;
        self.stores
            .workspaces
            .update_member(
                id,
                caller.user.id,
                &MemberUpdate {
                    status: Some(MemberStatus::Left),
                    ..Default::default()
                },
            )
            .await?;
        self.after_access_changed(id, caller.user.id).await;
        Ok(())
    }
}

/// Workspace settings: a JSON object whose retention keys, if present, are
/// well formed (see [`validate::retention_keys`]).
fn checked_settings(value: &serde_json::Value) -> Result<serde_json::Value> {
    let value = validate::json_object("settings", value)?;
    validate::retention_keys("settings", &value)?;
    Ok(value)
}

/// A workspace that requires 2FA refuses callers who have not enrolled.
pub(crate) fn check_2fa_rule(workspace: &Workspace, caller: &Caller) -> Result<()> {
    caller.may_act_in(workspace.id)?;
    // A bot has no second factor to enroll; an admin installed it.
    if workspace.require_2fa && !caller.user.mfa_enabled && !caller.user.is_bot {
        return Err(Error::Forbidden(
            "this workspace requires two-factor authentication: enroll first".into(),
        ));
    }
    Ok(())
}
