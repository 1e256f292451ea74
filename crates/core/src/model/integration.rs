use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::{ChannelId, IntegrationId, UserId, WorkspaceId};

/// An installed integration (the `integrations` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Integration {
    pub id: IntegrationId,
    pub workspace_id: WorkspaceId,
    pub app_name: String,
    pub app_id: String,
    pub integration_type: String,
    pub config: Value,
    pub credentials: Option<Value>,
    pub scopes: Vec<String>,
    pub channel_id: Option<ChannelId>,
    pub status: String,
    pub last_error: Option<String>,
    pub installed_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What is needed to install an integration.
#[derive(Clone, Debug)]
pub struct NewIntegration {
    pub id: IntegrationId,
    pub workspace_id: WorkspaceId,
    pub app_name: String,
    pub app_id: String,
    pub integration_type: String,
    pub config: Value,
    pub credentials: Option<Value>,
    pub scopes: Vec<String>,
    pub channel_id: Option<ChannelId>,
    pub installed_by: UserId,
    pub created_at: DateTime<Utc>,
}
