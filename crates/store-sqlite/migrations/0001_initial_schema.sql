-- Confab schema on SQLite: the same tables, columns, defaults, unique
-- constraints and B-tree indexes as on PostgreSQL (see that migration's notes).
-- Differences forced by SQLite: ids are hyphenated UUID text, timestamps are
-- RFC 3339 UTC text with microseconds (fixed width, so text order is time
-- order), JSON is checked text, booleans are 0/1, scopes is a JSON array.
-- There is no partitioning and no full-text GIN index: the embedded shape
-- searches with Tantivy.

CREATE TABLE users (
    user_id TEXT PRIMARY KEY,
    email TEXT UNIQUE NOT NULL,
    username TEXT UNIQUE NOT NULL,
    display_name TEXT NOT NULL,
    avatar_url TEXT,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    status TEXT NOT NULL DEFAULT 'active',
    title TEXT,
    phone TEXT,
    bio TEXT,
    pronouns TEXT,
    notification_settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(notification_settings)),
    theme_preferences TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(theme_preferences)),
    language TEXT NOT NULL DEFAULT 'en',
    password_hash TEXT,
    mfa_enabled INTEGER NOT NULL DEFAULT 0 CHECK (mfa_enabled IN (0, 1)),
    mfa_secret TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    last_login_at TEXT
) STRICT;
CREATE INDEX idx_users_email ON users (email);
CREATE INDEX idx_users_username ON users (username);
CREATE INDEX idx_users_status ON users (status);
CREATE INDEX idx_users_created_at ON users (created_at);
CREATE UNIQUE INDEX users_email_ci_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_ci_key ON users (lower(username));

CREATE TABLE workspaces (
    workspace_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    domain TEXT UNIQUE,
    description TEXT,
    avatar_url TEXT,
    settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    plan_type TEXT NOT NULL DEFAULT 'free',
    max_members INTEGER NOT NULL DEFAULT 10000,
    billing_email TEXT,
    subscription_status TEXT NOT NULL DEFAULT 'active',
    sso_enabled INTEGER NOT NULL DEFAULT 0 CHECK (sso_enabled IN (0, 1)),
    sso_config TEXT CHECK (sso_config IS NULL OR json_valid(sso_config)),
    require_2fa INTEGER NOT NULL DEFAULT 0 CHECK (require_2fa IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
) STRICT;
CREATE INDEX idx_workspaces_domain ON workspaces (domain);
CREATE INDEX idx_workspaces_created_at ON workspaces (created_at);
CREATE UNIQUE INDEX workspaces_domain_ci_key ON workspaces (lower(domain));

CREATE TABLE workspace_members (
    member_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    user_id TEXT NOT NULL REFERENCES users (user_id),
    role TEXT NOT NULL DEFAULT 'member',
    title TEXT,
    department TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    invited_by TEXT REFERENCES users (user_id),
    invitation_token TEXT,
    permissions TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(permissions)),
    last_seen_at TEXT,
    timezone TEXT,
    joined_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    UNIQUE (workspace_id, user_id)
) STRICT;
CREATE INDEX idx_workspace_members_workspace ON workspace_members (workspace_id);
CREATE INDEX idx_workspace_members_user ON workspace_members (user_id);
CREATE INDEX idx_workspace_members_role ON workspace_members (role);
CREATE INDEX idx_workspace_members_status ON workspace_members (status);
CREATE INDEX idx_active_workspace_members ON workspace_members (workspace_id, user_id)
    WHERE status = 'active';

CREATE TABLE channels (
    channel_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    name TEXT NOT NULL,
    display_name TEXT,
    description TEXT,
    channel_type TEXT NOT NULL DEFAULT 'public',
    is_archived INTEGER NOT NULL DEFAULT 0 CHECK (is_archived IN (0, 1)),
    is_general INTEGER NOT NULL DEFAULT 0 CHECK (is_general IN (0, 1)),
    topic TEXT,
    purpose TEXT,
    retention_policy TEXT CHECK (retention_policy IS NULL OR json_valid(retention_policy)),
    allow_threads INTEGER NOT NULL DEFAULT 1 CHECK (allow_threads IN (0, 1)),
    allow_file_upload INTEGER NOT NULL DEFAULT 1 CHECK (allow_file_upload IN (0, 1)),
    allow_external_sharing INTEGER NOT NULL DEFAULT 0 CHECK (allow_external_sharing IN (0, 1)),
    created_by TEXT NOT NULL REFERENCES users (user_id),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    archived_at TEXT,
    UNIQUE (workspace_id, name)
) STRICT;
CREATE INDEX idx_channels_workspace ON channels (workspace_id);
CREATE INDEX idx_channels_type ON channels (channel_type);
CREATE INDEX idx_channels_archived ON channels (is_archived);
CREATE INDEX idx_channels_created_at ON channels (created_at);

CREATE TABLE channel_members (
    membership_id TEXT PRIMARY KEY,
    channel_id TEXT NOT NULL REFERENCES channels (channel_id),
    user_id TEXT NOT NULL REFERENCES users (user_id),
    role TEXT NOT NULL DEFAULT 'member',
    notification_level TEXT NOT NULL DEFAULT 'all',
    joined_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    left_at TEXT,
    invited_by TEXT REFERENCES users (user_id),
    is_active INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    last_read_message_id TEXT,
    last_read_at TEXT,
    UNIQUE (channel_id, user_id)
) STRICT;
CREATE INDEX idx_channel_members_channel ON channel_members (channel_id);
CREATE INDEX idx_channel_members_user ON channel_members (user_id);
CREATE INDEX idx_channel_members_active ON channel_members (is_active);

CREATE TABLE messages (
    message_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    channel_id TEXT NOT NULL REFERENCES channels (channel_id),
    user_id TEXT NOT NULL REFERENCES users (user_id),
    content TEXT NOT NULL,
    message_type TEXT NOT NULL DEFAULT 'text',
    formatted_content TEXT CHECK (formatted_content IS NULL OR json_valid(formatted_content)),
    thread_id TEXT,
    reply_count INTEGER NOT NULL DEFAULT 0,
    is_pinned INTEGER NOT NULL DEFAULT 0 CHECK (is_pinned IN (0, 1)),
    pinned_by TEXT,
    pinned_at TEXT,
    is_deleted INTEGER NOT NULL DEFAULT 0 CHECK (is_deleted IN (0, 1)),
    deleted_at TEXT,
    reactions TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(reactions)),
    edited_at TEXT,
    edit_history TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(edit_history)),
    client_msg_id TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
) STRICT;
CREATE INDEX idx_messages_channel_created ON messages (channel_id, created_at DESC, message_id DESC);
CREATE INDEX idx_messages_user ON messages (user_id);
CREATE INDEX idx_messages_thread ON messages (thread_id, created_at, message_id);
CREATE INDEX idx_messages_deleted ON messages (is_deleted);
CREATE INDEX idx_messages_client_msg ON messages (client_msg_id);
CREATE INDEX idx_messages_channel_thread_created
    ON messages (channel_id, thread_id, created_at DESC, message_id DESC);
CREATE INDEX idx_messages_user_workspace_created ON messages (user_id, workspace_id, created_at DESC);
CREATE INDEX idx_messages_pinned ON messages (channel_id, pinned_at DESC) WHERE is_pinned;

CREATE TABLE message_client_ids (
    channel_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    client_msg_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (channel_id, user_id, client_msg_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE messages_archive (
    message_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    content TEXT NOT NULL,
    message_type TEXT NOT NULL DEFAULT 'text',
    formatted_content TEXT,
    thread_id TEXT,
    reply_count INTEGER NOT NULL DEFAULT 0,
    is_pinned INTEGER NOT NULL DEFAULT 0,
    pinned_by TEXT,
    pinned_at TEXT,
    is_deleted INTEGER NOT NULL DEFAULT 0,
    deleted_at TEXT,
    reactions TEXT NOT NULL DEFAULT '{}',
    edited_at TEXT,
    edit_history TEXT NOT NULL DEFAULT '[]',
    client_msg_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;
CREATE INDEX idx_messages_archive_channel_created
    ON messages_archive (channel_id, created_at DESC, message_id DESC);
CREATE INDEX idx_messages_archive_workspace_created ON messages_archive (workspace_id, created_at);

CREATE TABLE files (
    file_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    uploader_id TEXT NOT NULL REFERENCES users (user_id),
    filename TEXT NOT NULL,
    original_filename TEXT NOT NULL,
    file_size INTEGER NOT NULL,
    mime_type TEXT NOT NULL,
    file_hash TEXT,
    storage_provider TEXT NOT NULL,
    storage_bucket TEXT NOT NULL,
    storage_key TEXT NOT NULL,
    storage_region TEXT,
    storage_class TEXT NOT NULL DEFAULT 'STANDARD',
    processing_status TEXT NOT NULL DEFAULT 'pending',
    thumbnails TEXT CHECK (thumbnails IS NULL OR json_valid(thumbnails)),
    extracted_text TEXT,
    is_public INTEGER NOT NULL DEFAULT 0 CHECK (is_public IN (0, 1)),
    share_token TEXT,
    download_count INTEGER NOT NULL DEFAULT 0,
    virus_scan_status TEXT NOT NULL DEFAULT 'pending',
    virus_scan_result TEXT CHECK (virus_scan_result IS NULL OR json_valid(virus_scan_result)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    expires_at TEXT,
    last_accessed_at TEXT
) STRICT;
CREATE INDEX idx_files_workspace ON files (workspace_id);
CREATE INDEX idx_files_uploader ON files (uploader_id);
CREATE INDEX idx_files_hash ON files (file_hash);
CREATE INDEX idx_files_created_at ON files (created_at);
CREATE INDEX idx_files_expires_at ON files (expires_at);
CREATE INDEX idx_files_share_token ON files (share_token) WHERE share_token IS NOT NULL;
CREATE INDEX idx_files_last_accessed ON files (storage_class, last_accessed_at);

CREATE TABLE message_files (
    message_id TEXT NOT NULL,
    file_id TEXT NOT NULL REFERENCES files (file_id),
    file_comment TEXT,
    attached_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    PRIMARY KEY (message_id, file_id)
) STRICT;
CREATE INDEX idx_message_files_message ON message_files (message_id);
CREATE INDEX idx_message_files_file ON message_files (file_id);

CREATE TABLE integrations (
    integration_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (workspace_id),
    app_name TEXT NOT NULL,
    app_id TEXT NOT NULL,
    integration_type TEXT NOT NULL,
    config TEXT NOT NULL CHECK (json_valid(config)),
    credentials TEXT CHECK (credentials IS NULL OR json_valid(credentials)),
    scopes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(scopes)),
    channel_id TEXT REFERENCES channels (channel_id),
    status TEXT NOT NULL DEFAULT 'active',
    last_error TEXT,
    installed_by TEXT NOT NULL REFERENCES users (user_id),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    last_used_at TEXT
) STRICT;
CREATE INDEX idx_integrations_workspace ON integrations (workspace_id);
CREATE INDEX idx_integrations_app ON integrations (app_name);
CREATE INDEX idx_integrations_status ON integrations (status);
CREATE INDEX idx_integrations_channel ON integrations (channel_id);
