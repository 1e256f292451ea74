//! Channels: public and private channels, direct and group messages, and
//! who may see and change them.

use confab_core::id::*;
use confab_core::model::*;
use confab_core::page::Page;
use confab_core::realtime::{Event, Topic};
use confab_core::{time, Error, Result};
use sha2::{Digest, Sha256};

use crate::accounts::Caller;
use crate::workspaces::check_2fa_rule;
use crate::{validate, Services};

/// Most people in one group conversation.
pub const MAX_GROUP_MEMBERS: usize = 9;

/// What is needed to create a channel.
#[derive(Clone, Debug, Default)]
pub struct NewChannelRequest {
    pub name: String,
    pub private: bool,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub topic: Option<String>,
    pub purpose: Option<String>,
}

/// A channel as the caller may see it, with the caller's membership if any.
#[derive(Clone, Debug)]
pub struct ChannelAccess {
    pub channel: Channel,
    pub workspace_member: WorkspaceMember,
    pub membership: Option<ChannelMember>,
}

impl ChannelAccess {
    fn is_member(&self) -> bool {
        self.membership.as_ref().is_some_and(|m| m.is_active)
    }

    /// Channel admins and workspace owners and admins manage a channel.
    pub(crate) fn can_manage(&self) -> bool {
        matches!(
            self.workspace_member.role,
            WorkspaceRole::Owner | WorkspaceRole::Admin
        ) || self
            .membership
            .as_ref()
            .is_some_and(|m| m.is_active && m.role == ChannelRole::Admin)
    }

    fn is_conversation(&self) -> bool {
        matches!(
            self.channel.channel_type,
            ChannelType::Direct | ChannelType::Group
        )
    }

    fn refuse_if_archived(&self) -> Result<()> {
        if self.channel.is_archived {
            return Err(Error::conflict("channel", "the channel is archived"));
        }
        Ok(())
    }
}

/// The stored name of the direct conversation among `users`: the same set
/// always gives the same name, and no user-made name can equal it.
pub(crate) fn conversation_name(users: &[UserId]) -> String {
    let mut ids: Vec<String> = users.iter().map(ToString::to_string).collect();
    ids.sort();
    ids.dedup();
    let digest = Sha256::digest(ids.join(",").as_bytes());
    format!("dm:{}", hex(&digest[..20]))
}

/// Where someone else has read up to is theirs alone.
pub(crate) fn hide_read_position(member: &mut ChannelMember, caller: &Caller) {
    if member.user_id != caller.user.id {
        member.last_read_message_id = None;
        member.last_read_at = None;
    }
}

fn forbidden(what: &str) -> Error {
    Error::Forbidden(format!("you may not {what} in this channel"))
}

impl Services {
    /// The channel if the caller may see it: an active member of its
    /// workspace who is in the channel, or, for a public channel, any
    /// non-guest member. Everyone else is told it does not exist.
    pub async fn channel_access(&self, caller: &Caller, id: ChannelId) -> Result<ChannelAccess> {
        // One read for the channel, its workspace and both memberships.
        let context = self
            .stores
            .channels
            .channel_context(id, caller.user.id)
            .await?
            .ok_or(Error::NotFound("channel"))?;
        let workspace_member = context
            .workspace_member
            .filter(|m| m.status == MemberStatus::Active)
            .ok_or(Error::NotFound("channel"))?;
        caller
            .may_act_in(context.workspace.id)
            .map_err(|_| Error::NotFound("channel"))?;
        check_2fa_rule(&context.workspace, caller)?;
        let access = ChannelAccess {
            channel: context.channel,
            workspace_member,
            membership: context.channel_member,
        };
        let public_to_me = access.channel.channel_type == ChannelType::Public
            && access.workspace_member.role != WorkspaceRole::Guest;
        if access.is_member() || public_to_me {
            Ok(access)
        } else {
            Err(Error::NotFound("channel"))
        }
    }

    /// Create a public or private channel; the creator joins as its admin.
    pub async fn create_channel(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        request: NewChannelRequest,
    ) -> Result<Channel> {
        let (_, me) = self.workspace_for(caller, workspace).await?;
        if me.role == WorkspaceRole::Guest {
            return Err(Error::Forbidden("guests cannot create channels".into()));
        }
        let now = time::now();
        let channel = NewChannel {
            id: ChannelId::new(),
            workspace_id: workspace,
            name: validate::channel_name(&request.name)?,
            display_name: validate::optional_text(
                "display_name",
                request.display_name.as_deref(),
                200,
            )?,
            description: validate::optional_text(
                "description",
                request.description.as_deref(),
                4000,
            )?,
            channel_type: if request.private {
                ChannelType::Private
            } else {
                ChannelType::Public
            },
            is_general: false,
            topic: validate::optional_text("topic", request.topic.as_deref(), 500)?,
            purpose: validate::optional_text("purpose", request.purpose.as_deref(), 4000)?,
            created_by: caller.user.id,
            created_at: now,
        };
        self.limit_per_hour(caller, "channel_create", self.policy.channels_per_hour)
            .await?;
        let creator = NewChannelMember {
            id: MembershipId::new(),
            channel_id: channel.id,
            user_id: caller.user.id,
            role: ChannelRole::Admin,
            invited_by: None,
            joined_at: now,
        };
        let created = self
            .stores
            .channels
            .create_channel(&channel, &[creator])
            .await?;
        self.after_channel_created(&created, &[caller.user.id])
            .await;
        Ok(created)
    }

    /// The direct conversation between the caller and `others` (one other
    /// for a direct message, more for a group), created on first use and
    /// found again afterwards.
    pub async fn open_conversation(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        others: &[UserId],
    ) -> Result<Channel> {
        self.workspace_for(caller, workspace).await?;
        let mut people: Vec<UserId> = others.to_vec();
        people.push(caller.user.id);
        people.sort();
        people.dedup();
        if people.len() > MAX_GROUP_MEMBERS {
            return Err(Error::invalid(
                "users",
                format!("a conversation has at most {MAX_GROUP_MEMBERS} people"),
            ));
        }
        for user in &people {
            let member = self.stores.workspaces.get_member(workspace, *user).await?;
            if !member.is_some_and(|m| m.status == MemberStatus::Active) {
                return Err(Error::NotFound("user"));
            }
        }
        let name = conversation_name(&people);
        if let Some(existing) = self
            .stores
            .channels
            .find_channel_by_name(workspace, &name)
            .await?
        {
            self.rejoin_conversation(caller, &existing, &people).await?;
            return Ok(existing);
        }
        // Finding a conversation again is free; starting new ones is counted.
        self.limit_per_hour(
            caller,
            "conversation_create",
            self.policy.conversations_per_hour,
        )
        .await?;
        let now = time::now();
        let channel = NewChannel {
            id: ChannelId::new(),
            workspace_id: workspace,
            name: name.clone(),
            display_name: None,
            description: None,
            channel_type: if people.len() <= 2 {
                ChannelType::Direct
            } else {
                ChannelType::Group
            },
            is_general: false,
            topic: None,
            purpose: None,
            created_by: caller.user.id,
            created_at: now,
        };
        let members: Vec<NewChannelMember> = people
            .iter()
            .map(|user| NewChannelMember {
                id: MembershipId::new(),
                channel_id: channel.id,
                user_id: *user,
                role: ChannelRole::Member,
                invited_by: Some(caller.user.id),
                joined_at: now,
            })
            .collect();
        match self
            .stores
            .channels
            .create_channel(&channel, &members)
            .await
        {
            Ok(created) => {
                self.after_channel_created(&created, &people).await;
                Ok(created)
            }
            // Someone opened the same conversation at the same moment.
            Err(Error::Conflict { .. }) => self
                .stores
                .channels
                .find_channel_by_name(workspace, &name)
                .await?
                .ok_or(Error::NotFound("channel")),
            Err(err) => Err(err),
        }
    }

    /// Whoever of `people` left the conversation `channel` is back in it:
    /// opening a conversation names everyone who is to be in it.
    async fn rejoin_conversation(
        &self,
        caller: &Caller,
        channel: &Channel,
        people: &[UserId],
    ) -> Result<()> {
        let present = self.channel_member_ids(channel.id).await?;
        for user in people.iter().filter(|u| !present.contains(u)) {
            self.stores
                .channels
                .add_channel_member(&NewChannelMember {
                    id: MembershipId::new(),
                    channel_id: channel.id,
                    user_id: *user,
                    role: ChannelRole::Member,
                    invited_by: Some(caller.user.id),
                    joined_at: time::now(),
                })
                .await?;
            self.after_membership_change(channel, *user, true).await;
        }
        Ok(())
    }

    /// The channels of a workspace the caller is in.
    pub async fn my_channels(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
    ) -> Result<Vec<(Channel, ChannelMember)>> {
        self.workspace_for(caller, workspace).await?;
        self.stores
            .channels
            .list_channels_for_user(workspace, caller.user.id)
            .await
    }

    /// Public channels of a workspace, by name; not for guests.
    pub async fn browse_channels(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Channel, String>> {
        let (_, me) = self.workspace_for(caller, workspace).await?;
        if me.role == WorkspaceRole::Guest {
            return Err(Error::Forbidden(
                "guests see only the channels they were added to".into(),
            ));
        }
        self.stores
            .channels
            .list_public_channels(workspace, after, limit)
            .await
    }

    /// Change a channel. Topic and purpose: any member; everything else:
    /// channel admins and workspace admins. Archived channels are read-only.
    pub async fn update_channel(
        &self,
        caller: &Caller,
        id: ChannelId,
        update: ChannelUpdate,
    ) -> Result<Channel> {
        let access = self.channel_access(caller, id).await?;
        access.refuse_if_archived()?;
        let touches_more = update.name.is_some()
            || update.display_name.is_some()
            || update.description.is_some()
            || update.retention_policy.is_some()
            || update.allow_threads.is_some()
            || update.allow_file_upload.is_some()
            || update.allow_external_sharing.is_some();
        if !access.is_member() && !access.can_manage() {
            return Err(forbidden("change settings"));
        }
        if touches_more && !access.can_manage() {
            return Err(forbidden("change settings other than topic and purpose"));
        }
        if access.is_conversation() && (update.name.is_some() || update.retention_policy.is_some())
        {
            return Err(Error::invalid(
                "name",
                "direct conversations cannot be renamed",
            ));
        }
        if access.channel.is_general && update.name.is_some() {
            return Err(Error::invalid(
                "name",
                "the general channel cannot be renamed",
            ));
        }
        let checked = ChannelUpdate {
            name: update
                .name
                .as_deref()
                .map(validate::channel_name)
                .transpose()?,
            display_name: validate::clearable(update.display_name, |v| {
                validate::text("display_name", v, 1, 200)
            })?,
            description: validate::clearable(update.description, |v| {
                validate::text("description", v, 1, 4000)
            })?,
            topic: validate::clearable(update.topic, |v| validate::text("topic", v, 1, 500))?,
            purpose: validate::clearable(update.purpose, |v| {
                validate::text("purpose", v, 1, 4000)
            })?,
            retention_policy: match update.retention_policy {
                Some(Some(v)) => {
                    let policy = validate::json_object("retention_policy", &v)?;
                    validate::retention_keys("retention_policy", &policy)?;
                    Some(Some(policy))
                }
                other => other,
            },
            allow_threads: update.allow_threads,
            allow_file_upload: update.allow_file_upload,
            allow_external_sharing: update.allow_external_sharing,
        };
        let updated = self.stores.channels.update_channel(id, &checked).await?;
        let event = Event::ChannelUpdated {
            channel: updated.clone(),
        };
        self.publish(Topic::Channel(id), updated.updated_at, event)
            .await;
        let before = &access.channel;
        if updated.topic != before.topic {
            let topic = updated.topic.clone().unwrap_or_default();
            self.post_notice(&updated, caller.user.id, ChannelNotice::Topic(topic))
                .await;
        }
        if updated.purpose != before.purpose {
            let purpose = updated.purpose.clone().unwrap_or_default();
            self.post_notice(&updated, caller.user.id, ChannelNotice::Purpose(purpose))
                .await;
        }
        Ok(updated)
    }

    /// Archive or unarchive a channel. Not the general channel, not a
    /// direct conversation.
    pub async fn set_channel_archived(
        &self,
        caller: &Caller,
        id: ChannelId,
        archived: bool,
    ) -> Result<Channel> {
        let access = self.channel_access(caller, id).await?;
        if !access.can_manage() {
            return Err(forbidden("archive or unarchive"));
        }
        if access.channel.is_general {
            return Err(Error::invalid(
                "channel",
                "the general channel cannot be archived",
            ));
        }
        if access.is_conversation() {
            return Err(Error::invalid(
                "channel",
                "direct conversations cannot be archived",
            ));
        }
        let channel = self
            .stores
            .channels
            .set_archived(id, archived, time::now())
            .await?;
        let event = if archived {
            Event::ChannelArchived {
                channel: channel.clone(),
            }
        } else {
            Event::ChannelUnarchived {
                channel: channel.clone(),
            }
        };
        self.publish(Topic::Channel(id), channel.updated_at, event)
            .await;
        Ok(channel)
    }

    /// Join a public channel.
    pub async fn join_channel(&self, caller: &Caller, id: ChannelId) -> Result<ChannelMember> {
        let access = self.channel_access(caller, id).await?;
        access.refuse_if_archived()?;
        // Joining where one already is changes nothing, whatever the kind
        // of channel (others cannot see a private channel at all).
        if let Some(membership) = access.membership.filter(|m| m.is_active) {
            return Ok(membership);
        }
        if access.channel.channel_type != ChannelType::Public {
            return Err(Error::NotFound("channel"));
        }
        let member = self
            .stores
            .channels
            .add_channel_member(&NewChannelMember {
                id: MembershipId::new(),
                channel_id: id,
                user_id: caller.user.id,
                role: ChannelRole::Member,
                invited_by: None,
                joined_at: time::now(),
            })
            .await?;
        self.after_membership_change(&access.channel, caller.user.id, true)
            .await;
        Ok(member)
    }

    /// Leave a channel; not the general channel.
    pub async fn leave_channel(&self, caller: &Caller, id: ChannelId) -> Result<()> {
        let access = self.channel_access(caller, id).await?;
        if access.channel.is_general {
            return Err(Error::invalid(
                "channel",
                "nobody leaves the general channel",
            ));
        }
        if !access.is_member() {
            return Err(Error::conflict("channel", "you are not in this channel"));
        }
        // A direct conversation is the one place two people talk: leaving
        // it would leave the other person alone in a channel nobody can
        // reopen. Group conversations may be left; reopening one re-adds.
        if access.channel.channel_type == ChannelType::Direct {
            return Err(Error::conflict(
                "channel",
                "a direct conversation cannot be left",
            ));
        }
        self.stores
            .channels
            .remove_channel_member(id, caller.user.id, time::now())
            .await?;
        self.after_membership_change(&access.channel, caller.user.id, false)
            .await;
        Ok(())
    }

    /// Add a workspace member to a channel the caller is in.
    pub async fn add_to_channel(
        &self,
        caller: &Caller,
        id: ChannelId,
        user: UserId,
    ) -> Result<ChannelMember> {
        let access = self.channel_access(caller, id).await?;
        access.refuse_if_archived()?;
        if access.is_conversation() {
            return Err(Error::invalid(
                "channel",
                "open a new conversation to add people",
            ));
        }
        if !access.is_member() || access.workspace_member.role == WorkspaceRole::Guest {
            return Err(forbidden("add people"));
        }
        let target = self
            .stores
            .workspaces
            .get_member(access.channel.workspace_id, user)
            .await?
            .filter(|m| m.status == MemberStatus::Active)
            .ok_or(Error::NotFound("user"))?;
        let mut member = self
            .stores
            .channels
            .add_channel_member(&NewChannelMember {
                id: MembershipId::new(),
                channel_id: id,
                user_id: target.user_id,
                role: ChannelRole::Member,
                invited_by: Some(caller.user.id),
                joined_at: time::now(),
            })
            .await?;
        self.after_membership_change(&access.channel, target.user_id, true)
            .await;
        hide_read_position(&mut member, caller);
        Ok(member)
    }

    /// Remove someone from a channel: channel and workspace admins; not
    /// from the general channel or a direct conversation.
    pub async fn remove_from_channel(
        &self,
        caller: &Caller,
        id: ChannelId,
        user: UserId,
    ) -> Result<()> {
        let access = self.channel_access(caller, id).await?;
        if !access.can_manage() {
            return Err(forbidden("remove people"));
        }
        if access.channel.is_general || access.is_conversation() {
            return Err(Error::invalid(
                "channel",
                "people cannot be removed from this channel",
            ));
        }
        if !self
            .stores
            .channels
            .remove_channel_member(id, user, time::now())
            .await?
        {
            return Err(Error::NotFound("member"));
        }
        self.after_membership_change(&access.channel, user, false)
            .await;
        Ok(())
    }

    /// Change a member's channel role (admins) or the caller's own
    /// notification level.
    pub async fn update_channel_member(
        &self,
        caller: &Caller,
        id: ChannelId,
        user: UserId,
        update: ChannelMemberUpdate,
    ) -> Result<ChannelMember> {
        let access = self.channel_access(caller, id).await?;
        if update.role.is_some() && !access.can_manage() {
            return Err(forbidden("change roles"));
        }
        if update.notification_level.is_some() && user != caller.user.id {
            return Err(forbidden("change someone else's notifications"));
        }
        // An archived channel takes no new settings; roles may still change.
        if update.notification_level.is_some() {
            access.refuse_if_archived()?;
        }
        let member = self
            .stores
            .channels
            .get_channel_member(id, user)
            .await?
            .filter(|m| m.is_active)
            .ok_or(Error::NotFound("member"))?;
        let mut updated = self
            .stores
            .channels
            .update_channel_member(id, member.user_id, &update)
            .await?;
        hide_read_position(&mut updated, caller);
        Ok(updated)
    }

    /// Active members of a channel the caller can see.
    pub async fn channel_members(
        &self,
        caller: &Caller,
        id: ChannelId,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Page<(ChannelMember, User), UserId>> {
        self.channel_access(caller, id).await?;
        let mut page = self
            .stores
            .channels
            .list_channel_members(id, after, limit)
            .await?;
        for member in &mut page.items {
            hide_read_position(member, caller);
        }
        self.with_users(page, |m| m.user_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_names_ignore_order_and_repeats() {
        let (a, b, c) = (UserId::new(), UserId::new(), UserId::new());
        assert_eq!(conversation_name(&[a, b]), conversation_name(&[b, a, a]));
        assert_ne!(conversation_name(&[a, b]), conversation_name(&[a, b, c]));
        assert!(validate::channel_name(&conversation_name(&[a])).is_err());
    }
}
