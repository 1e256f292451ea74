//! Files: uploads streamed to blob storage under keys the server makes,
//! hashed and sniffed on the way, de-duplicated per workspace; downloads
//! that check access every time; listings that show only what the caller
//! may see; and the removal of bytes no file uses any more.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use confab_core::blobs::{BlobStore, BlobWriter, ByteStream};
use confab_core::filenames::{display_name, recorded_original};
use confab_core::id::{hex, ChannelId, FileId, UserId, WorkspaceId};
use confab_core::model::*;
use confab_core::sniff::{matches_type, sniff, SNIFF_BYTES};
use confab_core::{time, Error, Result};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::{chrono_duration, Caller, Services};

/// Most files one message carries.
pub const MAX_FILES_PER_MESSAGE: usize = 10;
/// Largest page of a file listing.
pub const MAX_FILE_PAGE: u32 = 200;
/// Blobs removed per pass of the cleanup job.
const CLEANUP_BATCH: u32 = 100;
/// How often counted downloads are written.
pub const DOWNLOAD_FLUSH_INTERVAL: Duration = Duration::from_secs(10);
/// How often bytes due for removal are looked for.
pub const BLOB_CLEANUP_INTERVAL: Duration = Duration::from_secs(60);

/// What the server allows of uploads.
#[derive(Clone, Debug)]
pub struct FilePolicy {
    /// The largest file one upload may carry, in bytes.
    pub max_upload_bytes: u64,
    /// Bytes of live files one person may keep per workspace (0: no quota).
    pub user_quota_bytes: u64,
    /// Sniffed types that may be uploaded (empty: all not denied).
    pub allowed_types: Vec<String>,
    /// Sniffed types refused even when allowed.
    pub denied_types: Vec<String>,
    /// How long an upload may take before its bytes are swept.
    pub upload_ttl: Duration,
}

impl Default for FilePolicy {
    fn default() -> Self {
        Self {
            max_upload_bytes: 1 << 30,
            user_quota_bytes: 10 << 30,
            allowed_types: Vec::new(),
            denied_types: Vec::new(),
            upload_ttl: Duration::from_secs(86_400),
        }
    }
}

impl FilePolicy {
    fn allows(&self, mime: &str) -> bool {
        let allowed = self.allowed_types.is_empty()
            || self.allowed_types.iter().any(|p| matches_type(mime, p));
        allowed && !self.denied_types.iter().any(|p| matches_type(mime, p))
    }
}

/// The bytes of an upload, as the request delivers them.
pub type UploadBody<'a> =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Bytes>> + Send + 'a>>;

/// Downloads counted since the last flush: how many, and the latest time.
type DownloadCounts = Mutex<HashMap<FileId, (i32, DateTime<Utc>)>>;

/// Blob storage and the rules for it, when the server has them.
#[derive(Clone)]
pub(crate) struct FilesPart {
    blobs: Arc<dyn BlobStore>,
    policy: FilePolicy,
    downloads: Arc<DownloadCounts>,
}

impl FilesPart {
    pub(crate) fn new(blobs: Arc<dyn BlobStore>, policy: FilePolicy) -> Self {
        Self {
            blobs,
            policy,
            downloads: Arc::default(),
        }
    }
}

/// An upload as the client describes it; only the bytes are trusted.
#[derive(Clone, Debug, Default)]
pub struct Upload {
    /// The client's file name (made safe before it is shown).
    pub filename: String,
    /// The type the client claims (recorded, not trusted).
    pub claimed_type: Option<String>,
    /// The size the client announced, when it did: refused at once when
    /// over a limit.
    pub declared_size: Option<u64>,
}

/// Which files to list.
#[derive(Clone, Debug, Default)]
pub struct FileQuery {
    pub channel: Option<ChannelId>,
    pub uploader: Option<UserId>,
    pub before: Option<(DateTime<Utc>, FileId)>,
    pub limit: u32,
}

/// A page of files, newest first.
#[derive(Clone, Debug)]
pub struct FilePage {
    pub files: Vec<File>,
    /// The last file's position when there may be more.
    pub next: Option<(DateTime<Utc>, FileId)>,
}

/// A byte range as a client asks for it (`bytes=a-b`, `bytes=a-`, `bytes=-n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// From `start` to `end` inclusive, or to the end of the file.
    From { start: u64, end: Option<u64> },
    /// The last `n` bytes.
    Last(u64),
}

/// What a download asks for besides the file.
#[derive(Clone, Debug, Default)]
pub struct DownloadRequest {
    pub range: Option<RangeRequest>,
    /// The `If-None-Match` header: entity tags the client holds.
    pub if_none_match: Option<String>,
}

/// The answer to a download.
pub enum Download {
    /// The client's copy is current.
    NotModified(File),
    /// The range cannot be served from a file this size.
    RangeNotSatisfiable(File),
    /// Bytes: the whole file, or `range` of it.
    Content {
        file: File,
        range: Option<Range<u64>>,
        body: ByteStream,
    },
}

/// The entity tag of a file's bytes.
pub fn entity_tag(file: &File) -> String {
    format!("\"{}\"", file.file_hash.as_deref().unwrap_or("none"))
}

/// Whether an `If-None-Match` value names `tag` (or is `*`).
fn matches_tag(header: &str, tag: &str) -> bool {
    header
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == tag)
}

fn resolve_range(request: RangeRequest, size: u64) -> Option<Range<u64>> {
    match request {
        RangeRequest::From { start, end } if start < size => {
            let end = end.map_or(size, |e| e.saturating_add(1).min(size));
            (start < end).then_some(start..end)
        }
        RangeRequest::Last(n) if n > 0 && size > 0 => Some(size.saturating_sub(n)..size),
        _ => None,
    }
}

/// An upload being written: aborted unless finished, also when the request
/// goes away mid-stream.
struct PendingBlob {
    writer: Option<Box<dyn BlobWriter>>,
    key: String,
    services: Services,
}

impl PendingBlob {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        match self.writer.as_mut() {
            Some(writer) => writer.write(chunk).await,
            None => Err(Error::internal("write after the upload ended")),
        }
    }

    async fn finish(mut self) -> Result<()> {
        match self.writer.take() {
            Some(writer) => writer.finish().await,
            None => Err(Error::internal("upload finished twice")),
        }
    }

    async fn abort(mut self) {
        if let Some(writer) = self.writer.take() {
            self.services.discard_upload(writer, self.key.clone()).await;
        }
    }
}

impl Drop for PendingBlob {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            let services = self.services.clone();
            let key = std::mem::take(&mut self.key);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move { services.discard_upload(writer, key).await });
            }
        }
    }
}

impl Services {
    /// These services, keeping file bytes in `blobs` under `policy`.
    pub fn with_files(mut self, blobs: Arc<dyn BlobStore>, policy: FilePolicy) -> Self {
        self.files = Some(FilesPart::new(blobs, policy));
        self
    }

    fn files_part(&self) -> Result<&FilesPart> {
        self.files
            .as_ref()
            .ok_or_else(|| Error::Unavailable("this server keeps no files".into()))
    }

    async fn discard_upload(&self, writer: Box<dyn BlobWriter>, key: String) {
        if let Err(e) = writer.abort().await {
            tracing::warn!(error = %e, "an aborted upload left bytes for the cleanup job");
            return;
        }
        if let Err(e) = self.stores.files.finish_blob_cleanup(&key).await {
            tracing::warn!(error = %e, "an aborted upload stays queued for cleanup");
        }
    }

    /// Store an uploaded file: streamed to blob storage while hashed,
    /// counted against the limits and sniffed, then recorded. Nothing is
    /// left behind when the upload fails, is refused or is cut off.
    pub async fn upload_file(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        upload: Upload,
        mut body: UploadBody<'_>,
    ) -> Result<File> {
        let part = self.files_part()?;
        let (ws, _) = self.workspace_for(caller, workspace).await?;
        let limit = ws
            .max_file_size()
            .map_or(part.policy.max_upload_bytes, |m| {
                m.min(part.policy.max_upload_bytes)
            });
        let too_large = || Error::TooLarge {
            what: "file".into(),
            limit,
        };
        if upload.declared_size.is_some_and(|size| size > limit) {
            return Err(too_large());
        }
        let quota = (part.policy.user_quota_bytes > 0).then_some(part.policy.user_quota_bytes);
        if let (Some(quota), Some(size)) = (quota, upload.declared_size) {
            let used = self
                .stores
                .files
                .used_bytes(workspace, caller.user.id)
                .await?;
            if used as u64 + size > quota {
                return Err(Error::TooLarge {
                    what: "quota".into(),
                    limit: quota,
                });
            }
        }
        let filename = display_name(&upload.filename);
        let claimed = upload
            .claimed_type
            .map(|t| t.chars().filter(|c| !c.is_control()).take(200).collect());
        let id = FileId::new();
        let key = format!("{workspace}/{id}");
        let expires = time::now() + chrono_duration(part.policy.upload_ttl);
        self.stores.files.begin_upload(&key, expires).await?;
        let writer = match part.blobs.create(&key).await {
            Ok(writer) => writer,
            Err(e) => {
                let _ = self.stores.files.finish_blob_cleanup(&key).await;
                return Err(e);
            }
        };
        let mut pending = PendingBlob {
            writer: Some(writer),
            key: key.clone(),
            services: self.clone(),
        };
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let mut head: Vec<u8> = Vec::with_capacity(SNIFF_BYTES);
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    pending.abort().await;
                    return Err(e);
                }
            };
            size += chunk.len() as u64;
            if size > limit {
                pending.abort().await;
                return Err(too_large());
            }
            hasher.update(&chunk);
            let room = SNIFF_BYTES - head.len();
            head.extend_from_slice(&chunk[..room.min(chunk.len())]);
            pending.write(chunk).await?;
        }
        if size == 0 {
            pending.abort().await;
            return Err(Error::invalid("file", "is empty"));
        }
        let mime = sniff(&head, &filename);
        if !part.policy.allows(&mime) {
            pending.abort().await;
            return Err(Error::invalid(
                "file",
                format!("files of type {mime} are not allowed here"),
            ));
        }
        pending.finish().await?;
        let location = part.blobs.location();
        let new = NewFile {
            id,
            workspace_id: workspace,
            uploader_id: caller.user.id,
            filename,
            original_filename: recorded_original(&upload.filename),
            file_size: size as i64,
            mime_type: mime,
            claimed_mime_type: claimed,
            file_hash: hex(&hasher.finalize()),
            storage_provider: location.provider,
            storage_bucket: location.bucket,
            storage_key: key.clone(),
            storage_region: location.region,
            expires_at: None,
            created_at: time::now(),
            quota_bytes: quota.map(|q| q as i64),
        };
        let recorded = self.stores.files.create_file(&new).await;
        if !matches!(&recorded, Ok(file) if file.storage_key == key) {
            // A copy already held these bytes, or nothing was recorded:
            // the upload goes now (or, failing that, with the cleanup job).
            self.remove_blob(&key).await;
        }
        recorded
    }

    /// Remove the bytes under `key` and forget it; failures are left to
    /// the cleanup job, which finds the key again.
    async fn remove_blob(&self, key: &str) {
        let Ok(part) = self.files_part() else { return };
        let removed = match part.blobs.delete(key).await {
            Ok(()) => self.stores.files.finish_blob_cleanup(key).await,
            Err(e) => Err(e),
        };
        if let Err(e) = removed {
            tracing::warn!(error = %e, "bytes left for the cleanup job");
        }
    }

    /// Remove the bytes that are due: released by their last file, or
    /// uploads never completed. Returns how many keys were removed.
    pub async fn clean_up_blobs(&self) -> Result<usize> {
        let part = self.files_part()?;
        let mut removed = 0;
        loop {
            let due = self
                .stores
                .files
                .due_blob_cleanups(time::now(), CLEANUP_BATCH)
                .await?;
            for key in &due {
                part.blobs.delete(key).await?;
                self.stores.files.finish_blob_cleanup(key).await?;
            }
            removed += due.len();
            if due.len() < CLEANUP_BATCH as usize {
                return Ok(removed);
            }
        }
    }

    /// The file jobs until `stop`: counted downloads written every
    /// [`DOWNLOAD_FLUSH_INTERVAL`], due bytes removed every
    /// [`BLOB_CLEANUP_INTERVAL`] (and at the start, which finds the work a
    /// crash left), and downloads written once more at the end.
    pub async fn run_file_upkeep(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        if self.files.is_none() {
            return;
        }
        let mut flushes = tokio::time::interval(DOWNLOAD_FLUSH_INTERVAL);
        let mut cleanups = tokio::time::interval(BLOB_CLEANUP_INTERVAL);
        loop {
            tokio::select! {
                _ = flushes.tick() => {
                    if let Err(e) = self.flush_downloads().await {
                        tracing::warn!(error = %e, "writing download counts failed; retrying");
                    }
                }
                _ = cleanups.tick() => match self.clean_up_blobs().await {
                    Ok(0) => {}
                    Ok(removed) => tracing::info!(removed, "removed unused file bytes"),
                    Err(e) => tracing::warn!(error = %e, "removing unused file bytes failed; retrying"),
                },
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        break;
                    }
                }
            }
        }
        if let Err(e) = self.flush_downloads().await {
            tracing::warn!(error = %e, "download counts since the last write are lost");
        }
    }

    /// A file the caller may read: they uploaded it, or can read a channel
    /// it is shared in. Anyone else is told it does not exist.
    pub async fn readable_file(&self, caller: &Caller, id: FileId) -> Result<File> {
        let not_found = || Error::NotFound("file");
        let file = self
            .stores
            .files
            .get_file(id)
            .await?
            .filter(|f| f.deleted_at.is_none())
            .ok_or_else(not_found)?;
        self.workspace_for(caller, file.workspace_id)
            .await
            .map_err(|_| not_found())?;
        if file.uploader_id == caller.user.id {
            return Ok(file);
        }
        for channel in self.stores.files.file_channels(id).await? {
            if self.channel_access(caller, channel).await.is_ok() {
                return Ok(file);
            }
        }
        Err(not_found())
    }

    /// A file's bytes, if the caller may read it, honouring a range and
    /// the client's cached copy. Downloads are counted in memory and
    /// written by [`Services::flush_downloads`].
    pub async fn download_file(
        &self,
        caller: &Caller,
        id: FileId,
        request: DownloadRequest,
    ) -> Result<Download> {
        let part = self.files_part()?;
        let file = self.readable_file(caller, id).await?;
        if let Some(held) = &request.if_none_match {
            if matches_tag(held, &entity_tag(&file)) {
                return Ok(Download::NotModified(file));
            }
        }
        let size = file.file_size as u64;
        let range = match request.range {
            None => None,
            Some(wanted) => match resolve_range(wanted, size) {
                Some(range) if range == (0..size) => None,
                Some(range) => Some(range),
                None => return Ok(Download::RangeNotSatisfiable(file)),
            },
        };
        let body = part.blobs.read(&file.storage_key, range.clone()).await?;
        // A download is counted once, by the request that starts at its first byte.
        if range.as_ref().is_none_or(|r| r.start == 0) {
            let mut counts = part.downloads.lock().expect("download counts");
            let entry = counts.entry(file.id).or_insert((0, time::now()));
            entry.0 += 1;
            entry.1 = time::now();
        }
        Ok(Download::Content { file, range, body })
    }

    /// Write the downloads counted since the last flush.
    pub async fn flush_downloads(&self) -> Result<()> {
        let Ok(part) = self.files_part() else {
            return Ok(());
        };
        let taken: Vec<FileDownloads> = {
            let mut counts = part.downloads.lock().expect("download counts");
            counts
                .drain()
                .map(|(file_id, (count, last_accessed_at))| FileDownloads {
                    file_id,
                    count,
                    last_accessed_at,
                })
                .collect()
        };
        if taken.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.stores.files.record_downloads(&taken).await {
            // Put them back for the next flush.
            let mut counts = part.downloads.lock().expect("download counts");
            for d in taken {
                let entry = counts.entry(d.file_id).or_insert((0, d.last_accessed_at));
                entry.0 += d.count;
                entry.1 = entry.1.max(d.last_accessed_at);
            }
            return Err(e);
        }
        Ok(())
    }

    /// Delete a file: its uploader or a workspace admin may. The bytes go
    /// with the last file that uses them.
    pub async fn delete_file(&self, caller: &Caller, id: FileId) -> Result<()> {
        let file = self.readable_file(caller, id).await?;
        let (_, me) = self.workspace_for(caller, file.workspace_id).await?;
        let admin = matches!(me.role, WorkspaceRole::Owner | WorkspaceRole::Admin);
        if file.uploader_id != caller.user.id && !admin {
            return Err(Error::Forbidden(
                "only its uploader or an admin may delete a file".into(),
            ));
        }
        self.stores.files.delete_file(id, time::now()).await?;
        Ok(())
    }

    /// Files of a workspace the caller may see, newest first, narrowed to a
    /// channel (which the caller must be able to read) or an uploader.
    pub async fn list_files(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        query: FileQuery,
    ) -> Result<FilePage> {
        let (_, me) = self.workspace_for(caller, workspace).await?;
        if let Some(channel) = query.channel {
            let access = self.channel_access(caller, channel).await?;
            if access.channel.workspace_id != workspace {
                return Err(Error::NotFound("channel"));
            }
        }
        let readable = self.readable_channels(caller, workspace, me.role).await?;
        let limit = query.limit.clamp(1, MAX_FILE_PAGE);
        let files = self
            .stores
            .files
            .list_files(&FileFilter {
                workspace_id: workspace,
                viewer: caller.user.id,
                readable: readable.into_keys().collect(),
                channel: query.channel,
                uploader: query.uploader,
                before: query.before,
                limit,
            })
            .await?;
        let next = (files.len() == limit as usize)
            .then(|| files.last().map(|f| (f.created_at, f.id)))
            .flatten();
        Ok(FilePage { files, next })
    }

    /// The files a message will carry: each one readable by the caller and
    /// from the channel's workspace.
    pub(crate) async fn files_to_share(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        ids: &[FileId],
    ) -> Result<Vec<File>> {
        if ids.len() > MAX_FILES_PER_MESSAGE {
            return Err(Error::TooLarge {
                what: "file_ids".into(),
                limit: MAX_FILES_PER_MESSAGE as u64,
            });
        }
        let mut files = Vec::with_capacity(ids.len());
        for id in ids {
            let file = self.readable_file(caller, *id).await?;
            if file.workspace_id != workspace {
                return Err(Error::NotFound("file"));
            }
            if !files.iter().any(|f: &File| f.id == file.id) {
                files.push(file);
            }
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_against_the_size() {
        let from = |start, end| RangeRequest::From { start, end };
        assert_eq!(resolve_range(from(0, Some(9)), 100), Some(0..10));
        assert_eq!(resolve_range(from(90, None), 100), Some(90..100));
        assert_eq!(resolve_range(from(90, Some(500)), 100), Some(90..100));
        assert_eq!(resolve_range(RangeRequest::Last(10), 100), Some(90..100));
        assert_eq!(resolve_range(RangeRequest::Last(500), 100), Some(0..100));
        assert_eq!(resolve_range(from(100, None), 100), None);
        assert_eq!(resolve_range(from(5, Some(4)), 100), None);
        assert_eq!(resolve_range(RangeRequest::Last(0), 100), None);
    }

    #[test]
    fn entity_tags_match_lists_and_weak_forms() {
        assert!(matches_tag("\"a\", \"b\"", "\"b\""));
        assert!(matches_tag("W/\"b\"", "\"b\""));
        assert!(matches_tag("*", "\"b\""));
        assert!(!matches_tag("\"c\"", "\"b\""));
    }

    #[test]
    fn type_policy_denies_over_allows() {
        let policy = FilePolicy {
            allowed_types: vec!["image/*".into(), "text/plain".into()],
            denied_types: vec!["image/gif".into()],
            ..FilePolicy::default()
        };
        assert!(policy.allows("image/png"));
        assert!(policy.allows("text/plain"));
        assert!(!policy.allows("image/gif"));
        assert!(!policy.allows("application/pdf"));
        assert!(FilePolicy::default().allows("application/x-msdownload"));
    }
}
