-- Confab schema on PostgreSQL: every table, column, default, unique constraint
-- and index of the design, with these deliberate changes:
--   * columns with a default that the application relies on are NOT NULL;
--   * messages carry workspace_id (denormalised from the channel), pinned_by
--     and pinned_at, and are range-partitioned by month on created_at, so
--     their primary key is (message_id, created_at) and thread_id is checked
--     by the application instead of a foreign key;
--   * client_msg_id uniqueness per (channel, user) lives in message_client_ids,
--     written in the same transaction as the message;
--   * messages_archive has the shape of messages;
--   * files are hash-partitioned 16 ways and carry storage_class and
--     last_accessed_at for tiering;
--   * channel_members carry a durable read marker;
--   * email, username and domain are also unique case-insensitively.

CREATE TABLE users (
    user_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email VARCHAR(255) UNIQUE NOT NULL,
    username VARCHAR(100) UNIQUE NOT NULL,
    display_name VARCHAR(200) NOT NULL,
    avatar_url TEXT,
    timezone VARCHAR(50) NOT NULL DEFAULT 'UTC',
    status VARCHAR(20) NOT NULL DEFAULT 'active',
    title VARCHAR(200),
    phone VARCHAR(50),
    bio TEXT,
    pronouns VARCHAR(50),
    notification_settings JSONB NOT NULL DEFAULT '{}',
    theme_preferences JSONB NOT NULL DEFAULT '{}',
    language VARCHAR(10) NOT NULL DEFAULT 'en',
    password_hash VARCHAR(255),
    mfa_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    mfa_secret VARCHAR(255),
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    last_login_at TIMESTAMP WITH TIME ZONE
);
CREATE INDEX idx_users_email ON users (email);
CREATE INDEX idx_users_username ON users (username);
CREATE INDEX idx_users_status ON users (status);
CREATE INDEX idx_users_created_at ON users (created_at);
CREATE UNIQUE INDEX users_email_ci_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_ci_key ON users (lower(username));

CREATE TABLE workspaces (
    workspace_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(200) NOT NULL,
    domain VARCHAR(100) UNIQUE,
    description TEXT,
    avatar_url TEXT,
    settings JSONB NOT NULL DEFAULT '{}',
    plan_type VARCHAR(50) NOT NULL DEFAULT 'free',
    max_members INTEGER NOT NULL DEFAULT 10000,
    billing_email VARCHAR(255),
    subscription_status VARCHAR(50) NOT NULL DEFAULT 'active',
    sso_enabled BOOLEAN NOT NULL DEFAULT FALSE,
    sso_config JSONB,
    require_2fa BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_workspaces_domain ON workspaces (domain);
CREATE INDEX idx_workspaces_created_at ON workspaces (created_at);
CREATE UNIQUE INDEX workspaces_domain_ci_key ON workspaces (lower(domain));

CREATE TABLE workspace_members (
    member_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id UUID NOT NULL REFERENCES workspaces (workspace_id),
    user_id UUID NOT NULL REFERENCES users (user_id),
    role VARCHAR(50) NOT NULL DEFAULT 'member',
    title VARCHAR(200),
    department VARCHAR(100),
    status VARCHAR(20) NOT NULL DEFAULT 'active',
    invited_by UUID REFERENCES users (user_id),
    invitation_token VARCHAR(255),
    permissions JSONB NOT NULL DEFAULT '{}',
    last_seen_at TIMESTAMP WITH TIME ZONE,
    timezone VARCHAR(50),
    joined_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    UNIQUE (workspace_id, user_id)
);
CREATE INDEX idx_workspace_members_workspace ON workspace_members (workspace_id);
CREATE INDEX idx_workspace_members_user ON workspace_members (user_id);
CREATE INDEX idx_workspace_members_role ON workspace_members (role);
CREATE INDEX idx_workspace_members_status ON workspace_members (status);
CREATE INDEX idx_active_workspace_members ON workspace_members (workspace_id, user_id)
    WHERE status = 'active';

CREATE TABLE channels (
    channel_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id UUID NOT NULL REFERENCES workspaces (workspace_id),
    name VARCHAR(100) NOT NULL,
    display_name VARCHAR(200),
    description TEXT,
    channel_type VARCHAR(20) NOT NULL DEFAULT 'public',
    is_archived BOOLEAN NOT NULL DEFAULT FALSE,
    is_general BOOLEAN NOT NULL DEFAULT FALSE,
    topic VARCHAR(500),
    purpose TEXT,
    retention_policy JSONB,
    allow_threads BOOLEAN NOT NULL DEFAULT TRUE,
    allow_file_upload BOOLEAN NOT NULL DEFAULT TRUE,
    allow_external_sharing BOOLEAN NOT NULL DEFAULT FALSE,
    created_by UUID NOT NULL REFERENCES users (user_id),
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    archived_at TIMESTAMP WITH TIME ZONE,
    UNIQUE (workspace_id, name)
);
CREATE INDEX idx_channels_workspace ON channels (workspace_id);
CREATE INDEX idx_channels_type ON channels (channel_type);
CREATE INDEX idx_channels_archived ON channels (is_archived);
CREATE INDEX idx_channels_created_at ON channels (created_at);

CREATE TABLE channel_members (
    membership_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    channel_id UUID NOT NULL REFERENCES channels (channel_id),
    user_id UUID NOT NULL REFERENCES users (user_id),
    role VARCHAR(20) NOT NULL DEFAULT 'member',
    notification_level VARCHAR(20) NOT NULL DEFAULT 'all',
    joined_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    left_at TIMESTAMP WITH TIME ZONE,
    invited_by UUID REFERENCES users (user_id),
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    last_read_message_id UUID,
    last_read_at TIMESTAMP WITH TIME ZONE,
    UNIQUE (channel_id, user_id)
);
CREATE INDEX idx_channel_members_channel ON channel_members (channel_id);
CREATE INDEX idx_channel_members_user ON channel_members (user_id);
CREATE INDEX idx_channel_members_active ON channel_members (is_active);

CREATE TABLE messages (
    message_id UUID NOT NULL DEFAULT gen_random_uuid(),
    workspace_id UUID NOT NULL REFERENCES workspaces (workspace_id),
    channel_id UUID NOT NULL REFERENCES channels (channel_id),
    user_id UUID NOT NULL REFERENCES users (user_id),
    content TEXT NOT NULL,
    message_type VARCHAR(20) NOT NULL DEFAULT 'text',
    formatted_content JSONB,
    thread_id UUID,
    reply_count INTEGER NOT NULL DEFAULT 0,
    is_pinned BOOLEAN NOT NULL DEFAULT FALSE,
    pinned_by UUID,
    pinned_at TIMESTAMP WITH TIME ZONE,
    is_deleted BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at TIMESTAMP WITH TIME ZONE,
    reactions JSONB NOT NULL DEFAULT '{}',
    edited_at TIMESTAMP WITH TIME ZONE,
    edit_history JSONB NOT NULL DEFAULT '[]',
    client_msg_id VARCHAR(100),
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    PRIMARY KEY (message_id, created_at)
) PARTITION BY RANGE (created_at);
-- Safety net: a message dated in a month without a partition lands here and
-- is moved to its month's partition by the next maintenance run.
CREATE TABLE messages_default PARTITION OF messages DEFAULT;

-- The key columns after created_at make keyset pages index-only ordered.
CREATE INDEX idx_messages_channel_created ON messages (channel_id, created_at DESC, message_id DESC);
CREATE INDEX idx_messages_user ON messages (user_id);
CREATE INDEX idx_messages_thread ON messages (thread_id, created_at, message_id);
CREATE INDEX idx_messages_deleted ON messages (is_deleted);
CREATE INDEX idx_messages_client_msg ON messages (client_msg_id);
CREATE INDEX idx_messages_content_gin ON messages USING gin (to_tsvector('english', content));
CREATE INDEX idx_messages_channel_thread_created
    ON messages (channel_id, thread_id, created_at DESC, message_id DESC);
CREATE INDEX idx_messages_user_workspace_created ON messages (user_id, workspace_id, created_at DESC);
CREATE INDEX idx_messages_search_vector ON messages USING gin (to_tsvector('english', content));
CREATE INDEX idx_messages_pinned ON messages (channel_id, pinned_at DESC) WHERE is_pinned;

CREATE TABLE message_client_ids (
    channel_id UUID NOT NULL,
    user_id UUID NOT NULL,
    client_msg_id VARCHAR(100) NOT NULL,
    message_id UUID NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (channel_id, user_id, client_msg_id)
);

CREATE TABLE messages_archive (
    message_id UUID NOT NULL,
    workspace_id UUID NOT NULL,
    channel_id UUID NOT NULL,
    user_id UUID NOT NULL,
    content TEXT NOT NULL,
    message_type VARCHAR(20) NOT NULL DEFAULT 'text',
    formatted_content JSONB,
    thread_id UUID,
    reply_count INTEGER NOT NULL DEFAULT 0,
    is_pinned BOOLEAN NOT NULL DEFAULT FALSE,
    pinned_by UUID,
    pinned_at TIMESTAMP WITH TIME ZONE,
    is_deleted BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at TIMESTAMP WITH TIME ZONE,
    reactions JSONB NOT NULL DEFAULT '{}',
    edited_at TIMESTAMP WITH TIME ZONE,
    edit_history JSONB NOT NULL DEFAULT '[]',
    client_msg_id VARCHAR(100),
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (message_id, created_at)
) PARTITION BY RANGE (created_at);
CREATE TABLE messages_archive_default PARTITION OF messages_archive DEFAULT;
CREATE INDEX idx_messages_archive_channel_created
    ON messages_archive (channel_id, created_at DESC, message_id DESC);
CREATE INDEX idx_messages_archive_workspace_created ON messages_archive (workspace_id, created_at);

CREATE TABLE files (
    file_id UUID NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY,
    workspace_id UUID NOT NULL REFERENCES workspaces (workspace_id),
    uploader_id UUID NOT NULL REFERENCES users (user_id),
    filename VARCHAR(500) NOT NULL,
    original_filename VARCHAR(500) NOT NULL,
    file_size BIGINT NOT NULL,
    mime_type VARCHAR(200) NOT NULL,
    file_hash VARCHAR(64),
    storage_provider VARCHAR(50) NOT NULL,
    storage_bucket VARCHAR(200) NOT NULL,
    storage_key VARCHAR(1000) NOT NULL,
    storage_region VARCHAR(50),
    storage_class VARCHAR(20) NOT NULL DEFAULT 'STANDARD',
    processing_status VARCHAR(20) NOT NULL DEFAULT 'pending',
    thumbnails JSONB,
    extracted_text TEXT,
    is_public BOOLEAN NOT NULL DEFAULT FALSE,
    share_token VARCHAR(100),
    download_count INTEGER NOT NULL DEFAULT 0,
    virus_scan_status VARCHAR(20) NOT NULL DEFAULT 'pending',
    virus_scan_result JSONB,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMP WITH TIME ZONE,
    last_accessed_at TIMESTAMP WITH TIME ZONE
) PARTITION BY HASH (file_id);
DO $$
BEGIN
    FOR shard IN 0..15 LOOP
        EXECUTE format(
            'CREATE TABLE files_shard_%s PARTITION OF files FOR VALUES WITH (MODULUS 16, REMAINDER %s)',
            shard, shard);
    END LOOP;
END $$;
CREATE INDEX idx_files_workspace ON files (workspace_id);
CREATE INDEX idx_files_uploader ON files (uploader_id);
CREATE INDEX idx_files_hash ON files (file_hash);
CREATE INDEX idx_files_created_at ON files (created_at);
CREATE INDEX idx_files_expires_at ON files (expires_at);
CREATE INDEX idx_files_search_gin ON files
    USING gin (to_tsvector('english', filename || ' ' || COALESCE(extracted_text, '')));
CREATE INDEX idx_files_share_token ON files (share_token) WHERE share_token IS NOT NULL;
CREATE INDEX idx_files_last_accessed ON files (storage_class, last_accessed_at);

CREATE TABLE message_files (
    message_id UUID NOT NULL,
    file_id UUID NOT NULL REFERENCES files (file_id),
    file_comment TEXT,
    attached_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    PRIMARY KEY (message_id, file_id)
);
CREATE INDEX idx_message_files_message ON message_files (message_id);
CREATE INDEX idx_message_files_file ON message_files (file_id);

CREATE TABLE integrations (
    integration_id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id UUID NOT NULL REFERENCES workspaces (workspace_id),
    app_name VARCHAR(200) NOT NULL,
    app_id VARCHAR(200) NOT NULL,
    integration_type VARCHAR(50) NOT NULL,
    config JSONB NOT NULL,
    credentials JSONB,
    scopes TEXT[] NOT NULL DEFAULT '{}',
    channel_id UUID REFERENCES channels (channel_id),
    status VARCHAR(20) NOT NULL DEFAULT 'active',
    last_error TEXT,
    installed_by UUID NOT NULL REFERENCES users (user_id),
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    last_used_at TIMESTAMP WITH TIME ZONE
);
CREATE INDEX idx_integrations_workspace ON integrations (workspace_id);
CREATE INDEX idx_integrations_app ON integrations (app_name);
CREATE INDEX idx_integrations_status ON integrations (status);
CREATE INDEX idx_integrations_channel ON integrations (channel_id);
