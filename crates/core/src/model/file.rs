use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::id::{ChannelId, FileId, MessageId, UserId, WorkspaceId};
use crate::model::text_enum;

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
    /// Set when the file was deleted; its bytes go once no file uses them.
    pub deleted_at: Option<DateTime<Utc>>,
    /// The type the client said the file had (recorded, never trusted).
    pub claimed_mime_type: Option<String>,
    /// When the public link (`share_token`) stops working.
    pub share_expires_at: Option<DateTime<Utc>>,
}

/// A thumbnail of an image file, as `files.thumbnails` lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredThumbnail {
    /// The bound it was made for: its longer side is at most this.
    pub size: u32,
    pub width: u32,
    pub height: u32,
    pub mime_type: String,
}

impl File {
    /// The thumbnails made of the file (none before processing, or for
    /// files that are not images).
    pub fn thumbnail_list(&self) -> Vec<StoredThumbnail> {
        self.thumbnails
            .clone()
            .and_then(|listed| serde_json::from_value(listed).ok())
            .unwrap_or_default()
    }
}

/// What is needed to record a file whose bytes were uploaded under
/// `storage_key`. When the workspace already holds the same bytes
/// (`file_hash`), the file uses those and the upload is let go.
#[derive(Clone, Debug)]
pub struct NewFile {
    pub id: FileId,
    pub workspace_id: WorkspaceId,
    pub uploader_id: UserId,
    pub filename: String,
    pub original_filename: String,
    pub file_size: i64,
    pub mime_type: String,
    pub claimed_mime_type: Option<String>,
    /// SHA-256 of the bytes, in lowercase hex.
    pub file_hash: String,
    pub storage_provider: String,
    pub storage_bucket: String,
    pub storage_key: String,
    pub storage_region: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Bytes of live files the uploader may hold in the workspace, this
    /// one included; `None` for no quota.
    pub quota_bytes: Option<i64>,
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
    /// The channel of the message: where the file is shared.
    pub channel_id: Option<ChannelId>,
    pub file_id: FileId,
    pub file_comment: Option<String>,
    pub attached_at: DateTime<Utc>,
}

/// Which files a listing shows, newest first. Only files the viewer
/// uploaded or that are shared in `readable` channels are listed.
#[derive(Clone, Debug)]
pub struct FileFilter {
    pub workspace_id: WorkspaceId,
    pub viewer: UserId,
    /// Channels the viewer may read now.
    pub readable: Vec<ChannelId>,
    /// Only files shared in this channel.
    pub channel: Option<ChannelId>,
    /// Only files this person uploaded.
    pub uploader: Option<UserId>,
    /// Keyset: files created before this one (its `created_at` and id).
    pub before: Option<(DateTime<Utc>, FileId)>,
    pub limit: u32,
}

text_enum!(
    /// A storage tier of a file's bytes (`files.storage_class`): bytes
    /// rarely read move down to cheaper tiers, and stay readable there.
    StorageClass {
        Standard = "STANDARD",
        /// Infrequent access, for bytes unread for a while.
        InfrequentAccess = "STANDARD_IA",
        /// The archive, for bytes unread for long.
        Archive = "GLACIER",
    }
);

impl StorageClass {
    /// How far down the tiers this is: 0 for `STANDARD`.
    pub fn rank(self) -> usize {
        Self::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }
}

/// Bytes that may move to a lower storage tier: a live file using them,
/// unread since `last_used` (its last download, or its upload), while no
/// live file using the same bytes was read since.
#[derive(Clone, Debug, PartialEq)]
pub struct TierCandidate {
    pub storage_key: String,
    /// The tier the file records now.
    pub storage_class: String,
    pub file_size: i64,
    pub last_used: DateTime<Utc>,
}

/// Downloads of one file counted since the last flush.
#[derive(Clone, Debug, PartialEq)]
pub struct FileDownloads {
    pub file_id: FileId,
    pub count: i32,
    pub last_accessed_at: DateTime<Utc>,
}
