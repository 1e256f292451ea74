//! Builders for test data.

use confab_core::id::*;
use confab_core::model::*;
use confab_core::ports::Stores;
use confab_core::time;

/// Wait, if need be, until the current one-minute rate-limit window has at
/// least `needed` left, so that a burst meant to reach a per-minute limit is
/// counted in one window rather than split across two.
pub async fn within_one_minute_window(needed: std::time::Duration) {
    within_window(std::time::Duration::from_secs(60), needed).await;
}

/// Wait, if need be, until the current rate-limit window of length `window`
/// has at least `needed` left.
pub async fn within_window(window: std::time::Duration, needed: std::time::Duration) {
    let (_, left) = confab_core::ports::fixed_window(window, time::now());
    if left < needed {
        tokio::time::sleep(left + std::time::Duration::from_millis(50)).await;
    }
}

/// A new user whose names derive from `name`.
pub fn new_user(name: &str) -> NewUser {
    NewUser {
        id: UserId::new(),
        email: format!("{name}@example.test"),
        username: name.to_owned(),
        display_name: format!("{name} display"),
        password_hash: None,
        created_at: time::now(),
    }
}

/// A new public channel in `workspace`, created by `creator`.
pub fn new_channel(workspace: WorkspaceId, name: &str, creator: UserId) -> NewChannel {
    NewChannel {
        id: ChannelId::new(),
        workspace_id: workspace,
        name: name.to_owned(),
        display_name: None,
        description: None,
        channel_type: ChannelType::Public,
        is_general: false,
        topic: None,
        purpose: None,
        created_by: creator,
        created_at: time::now(),
    }
}

/// A membership of `user` in `channel`.
pub fn new_channel_member(channel: ChannelId, user: UserId) -> NewChannelMember {
    NewChannelMember {
        id: MembershipId::new(),
        channel_id: channel,
        user_id: user,
        role: ChannelRole::Member,
        invited_by: None,
        joined_at: time::now(),
    }
}

/// A membership of `user` in `workspace`.
pub fn new_member(workspace: WorkspaceId, user: UserId, role: WorkspaceRole) -> NewWorkspaceMember {
    NewWorkspaceMember {
        id: MemberId::new(),
        workspace_id: workspace,
        user_id: user,
        role,
        status: MemberStatus::Active,
        invited_by: None,
        invitation_token: None,
        joined_at: time::now(),
    }
}

/// A plain text message.
pub fn text(channel: &Channel, user: UserId, content: &str) -> NewMessage {
    NewMessage {
        id: MessageId::new(),
        workspace_id: channel.workspace_id,
        channel_id: channel.id,
        user_id: user,
        content: content.to_owned(),
        message_type: MessageType::Text,
        formatted_content: None,
        thread_id: None,
        broadcast: false,
        client_msg_id: None,
        mentions: Vec::new(),
    }
}

/// A user who owns a workspace with its general channel.
pub struct World {
    pub stores: Stores,
    pub owner: User,
    pub workspace: Workspace,
    pub general: Channel,
}

/// Create an owner, a workspace and its general channel.
pub async fn world(stores: Stores) -> World {
    let owner = stores.users.create_user(&new_user("owner")).await.unwrap();
    let (workspace, general) = create_workspace(&stores, &owner, "Acme").await;
    World {
        stores,
        owner,
        workspace,
        general,
    }
}

/// Create a workspace owned by `owner`.
pub async fn create_workspace(stores: &Stores, owner: &User, name: &str) -> (Workspace, Channel) {
    let workspace = NewWorkspace {
        id: WorkspaceId::new(),
        name: name.to_owned(),
        domain: None,
        description: None,
        created_at: time::now(),
    };
    let mut general = new_channel(workspace.id, "general", owner.id);
    general.is_general = true;
    let member = new_member(workspace.id, owner.id, WorkspaceRole::Owner);
    stores
        .workspaces
        .create_workspace(&workspace, &member, &general)
        .await
        .unwrap()
}

impl World {
    /// Another user, member of the workspace with `role`.
    pub async fn member(&self, name: &str, role: WorkspaceRole) -> User {
        let user = self
            .stores
            .users
            .create_user(&new_user(name))
            .await
            .unwrap();
        self.stores
            .workspaces
            .add_member(&new_member(self.workspace.id, user.id, role))
            .await
            .unwrap();
        user
    }

    /// A new public channel `name` with the owner in it.
    pub async fn channel(&self, name: &str) -> Channel {
        let channel = new_channel(self.workspace.id, name, self.owner.id);
        self.stores
            .channels
            .create_channel(&channel, &[new_channel_member(channel.id, self.owner.id)])
            .await
            .unwrap()
    }

    /// Post a text message to the general channel as the owner.
    pub async fn post(&self, content: &str) -> Message {
        self.post_in(&self.general, content).await
    }

    /// Post a text message to `channel` as the owner.
    pub async fn post_in(&self, channel: &Channel, content: &str) -> Message {
        self.stores
            .messages
            .insert_message(&text(channel, self.owner.id, content))
            .await
            .unwrap()
            .message
    }

    /// Post a reply to `parent` as the owner.
    pub async fn reply(&self, parent: &Message, content: &str) -> Message {
        let mut reply = text(&self.general, self.owner.id, content);
        reply.thread_id = Some(parent.id);
        self.stores
            .messages
            .insert_message(&reply)
            .await
            .unwrap()
            .message
    }
}
