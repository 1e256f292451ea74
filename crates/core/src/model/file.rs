use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::{FileId, MessageId, UserId, WorkspaceId};

/// A stored file (the `files` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct File {
    pub id: FileId,
    pub workspace_id: WorkspaceId,
    pub uploader_id: UserId,
    pub filename: String,
    pub original_filename: String,
    pub file_size: i64,
    pub mime_type: String,
    pub file_hash: Option<String>,
    pub storage_provider: String,
    pub storage_bucket: String,
    pub storage_key: String,
    pub storage_region: Option<String>,
    /// Storage tier: `STANDARD`, `STANDARD_IA` or `GLACIER`.
    pub storage_class: String,
    pub processing_status: String,
    pub thumbnails: Option<Value>,
    pub extracted_text: Option<String>,
    pub is_public: bool,
    pub share_token: Option<String>,
    pub download_count: i32,
    pub virus_scan_status: String,
    pub virus_scan_result: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_accessed_at: Option<DateTime<Utc>>,
}

/// What is needed to record a file whose bytes are already stored.
#[derive(Clone, Debug)]
pub struct NewFile {
    pub id: FileId,
    pub workspace_id: WorkspaceId,
    pub uploader_id: UserId,
    pub filename: String,
    pub original_filename: String,
    pub file_size: i64,
    pub mime_type: String,
    pub file_hash: Option<String>,
    pub storage_provider: String,
    pub storage_bucket: String,
    pub storage_key: String,
    pub storage_region: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The outcome of processing a file (thumbnails, text extraction, scanning).
#[derive(Clone, Debug, Default)]
pub struct FileProcessingUpdate {
    pub processing_status: Option<String>,
    pub thumbnails: Option<Value>,
    pub extracted_text: Option<String>,
    pub virus_scan_status: Option<String>,
    pub virus_scan_result: Option<Value>,
}

/// A file attached to a message (the `message_files` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageFile {
    pub message_id: MessageId,
    pub file_id: FileId,
    pub file_comment: Option<String>,
    pub attached_at: DateTime<Utc>,
}
