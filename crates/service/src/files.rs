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
use confab_core::blobs::{BlobStore, BlobWriter, ByteStream, BytesOf};
use confab_core::filenames::{display_name, recorded_original};
use confab_core::id::{hex, ChannelId, FileId, UserId, WorkspaceId};
use confab_core::media::{FileInspector, ScanVerdict, VirusScanner};
use confab_core::model::*;
use confab_core::sniff::{matches_type, sniff, SNIFF_BYTES};
use confab_core::{time, Error, Result};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::realtime::file_for_event;
use crate::{chrono_duration, Caller, Services};
use confab_core::realtime::Event;

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
/// The bounds of the thumbnails made of each image (longer side, pixels).
pub const THUMBNAIL_SIZES: [u32; 2] = [64, 360];
/// Images larger than this are not decoded for thumbnails.
pub const MAX_PREVIEW_BYTES: u64 = 64 << 20;
/// Bytes of a text file read for search, and characters kept of them.
const MAX_TEXT_BYTES: u64 = 1 << 20;
const MAX_TEXT_CHARS: usize = 100_000;
/// Files whose text needs them whole (PDFs) are read for it up to this size.
const MAX_WHOLE_TEXT_BYTES: u64 = 32 << 20;
/// Files processed at once on one node.
pub const PROCESSING_PARALLELISM: usize = 2;
/// A file in processing longer than this is taken over by another worker.
const PROCESSING_LEASE: Duration = Duration::from_secs(600);
/// How long the processing worker sleeps when there is nothing to do and
/// no upload wakes it.
const PROCESSING_IDLE: Duration = Duration::from_secs(5);

/// The blob key of a file's thumbnail of `size`.
pub fn thumbnail_key(file: FileId, size: u32) -> String {
    format!("thumbs/{file}/{size}")
}

fn thumbnail_keys(file: FileId) -> Vec<String> {
    THUMBNAIL_SIZES
        .iter()
        .map(|size| thumbnail_key(file, *size))
        .collect()
}

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
    /// Bytes unread this long move to infrequent access (`None`: never).
    pub infrequent_after: Option<Duration>,
    /// Bytes unread this long move to the archive (`None`: never).
    pub archive_after: Option<Duration>,
}

impl Default for FilePolicy {
    fn default() -> Self {
        Self {
            max_upload_bytes: 1 << 30,
            user_quota_bytes: 10 << 30,
            allowed_types: Vec::new(),
            denied_types: Vec::new(),
            upload_ttl: Duration::from_secs(86_400),
            infrequent_after: Some(Duration::from_secs(90 * 86_400)),
            archive_after: Some(Duration::from_secs(365 * 86_400)),
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

/// Downloads counted since the last flush: how many, and the latest time.
type DownloadCounts = Mutex<HashMap<FileId, (i32, DateTime<Utc>)>>;

/// Blob storage and the rules for it, when the server has them.
#[derive(Clone)]
pub(crate) struct FilesPart {
    blobs: Arc<dyn BlobStore>,
    policy: FilePolicy,
    downloads: Arc<DownloadCounts>,
    inspector: Option<Arc<dyn FileInspector>>,
    scanner: Option<Arc<dyn VirusScanner>>,
    /// Woken by each upload: there is a file to process.
    uploaded: Arc<tokio::sync::Notify>,
}

impl FilesPart {
    pub(crate) fn new(blobs: Arc<dyn BlobStore>, policy: FilePolicy) -> Self {
        Self {
            blobs,
            policy,
            downloads: Arc::default(),
            inspector: None,
            scanner: None,
            uploaded: Arc::default(),
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
    /// Delete the file this long after the upload (at most a year).
    pub expires_in: Option<Duration>,
}

/// Bytes moved (or, in a dry run, that would move) to a lower storage tier.
#[derive(Clone, Debug, PartialEq)]
pub struct TierMove {
    pub storage_key: String,
    /// The tier its files record before the move.
    pub from: String,
    pub to: StorageClass,
    pub bytes: i64,
    /// When a file using the bytes was last read (or uploaded).
    pub last_used: DateTime<Utc>,
}

/// How often the tiering job runs.
pub const TIERING_INTERVAL: Duration = Duration::from_secs(86_400);
/// Candidates read at once by the tiering job.
const TIERING_BATCH: u32 = 100;
/// Most moves a dry run lists per tier.
pub const TIERING_DRY_RUN_LIMIT: u32 = 10_000;

/// The first step of a two-step upload: what will be sent.
#[derive(Clone, Debug)]
pub struct PlannedUpload {
    /// The client's file name (made safe before it is shown).
    pub filename: String,
    /// How many bytes will be sent: exactly this many are accepted.
    pub length: u64,
    /// The type the client claims (recorded, not trusted).
    pub claimed_type: Option<String>,
    /// Delete the file this long after the upload (at most a year).
    pub expires_in: Option<Duration>,
}

/// Where to send the bytes of a planned upload: a sealed token naming the
/// file to be, its uploader and its length, usable until `expires_at`.
#[derive(Clone, Debug)]
pub struct UploadTicket {
    pub token: String,
    pub file_id: FileId,
    pub expires_at: DateTime<Utc>,
}

/// How long the bytes of a planned upload may take to arrive.
pub const UPLOAD_TICKET_LIFETIME: Duration = Duration::from_secs(3600);

/// What an upload token holds (sealed: the client can neither read nor
/// change it).
#[derive(serde::Serialize, serde::Deserialize)]
struct TicketBody {
    kind: String,
    file: FileId,
    workspace: WorkspaceId,
    user: UserId,
    filename: String,
    length: u64,
    claimed_type: Option<String>,
    expires_in_secs: Option<u64>,
    until: DateTime<Utc>,
}

const TICKET_KIND: &str = "upload";
/// The kind of upload tokens that are capabilities (see
/// [`Services::plan_capability_upload`]).
const CAPABILITY_KIND: &str = "upload-url";

/// A planned upload checked by [`Services::check_planned_upload`], ready
/// for its bytes.
pub struct PlannedSend(TicketBody);

/// A public link, as made: its token is shown this once.
#[derive(Clone, Debug)]
pub struct PublicLink {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// How long a public link lasts unless asked otherwise.
pub const DEFAULT_LINK_LIFETIME: Duration = Duration::from_secs(7 * 86_400);
/// The longest a public link, or a file's own expiry, may be set to.
pub const MAX_LIFETIME: Duration = Duration::from_secs(365 * 86_400);

fn check_lifetime(field: &str, lifetime: Duration) -> Result<chrono::Duration> {
    if lifetime.is_zero() || lifetime > MAX_LIFETIME {
        return Err(Error::invalid(
            field,
            format!("must be between 1 and {} seconds", MAX_LIFETIME.as_secs()),
        ));
    }
    Ok(chrono_duration(lifetime))
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

/// Bytes already in memory, as a stream.
fn one_chunk(bytes: Bytes) -> ByteStream {
    Box::pin(futures_util::stream::once(async move { Ok(bytes) }))
}

/// The scanner's verdict on a file's bytes: its status and what to record.
async fn scan(
    scanner: &dyn VirusScanner,
    file: &File,
    body: Result<ByteStream>,
) -> (&'static str, serde_json::Value) {
    let engine = scanner.engine();
    let verdict = match body {
        Ok(body) => scanner.scan(body).await,
        Err(e) => Err(e),
    };
    match verdict {
        Ok(ScanVerdict::Clean) => ("clean", serde_json::json!({ "engine": engine })),
        Ok(ScanVerdict::Infected(found)) => {
            tracing::warn!(file = %file.id, %found, "an infected file was quarantined");
            let result = serde_json::json!({ "engine": engine, "found": found });
            ("infected", result)
        }
        Err(e) => {
            tracing::warn!(file = %file.id, error = %e, "a file could not be scanned");
            let result = serde_json::json!({ "engine": engine, "error": e.to_string() });
            ("failed", result)
        }
    }
}

fn too_large(limit: u64) -> Error {
    Error::TooLarge {
        what: "file".into(),
        limit,
    }
}

/// A file a virus scanner found infected is kept but never served or
/// shared again.
fn refuse_quarantined(file: &File) -> Result<()> {
    if file.virus_scan_status != "infected" {
        return Ok(());
    }
    let found = file
        .virus_scan_result
        .as_ref()
        .and_then(|r| r["found"].as_str())
        .unwrap_or("malware");
    Err(Error::Forbidden(format!(
        "the file is quarantined: the virus scanner found {found} in it"
    )))
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

    /// These services, making thumbnails and reading text with `inspector`
    /// (after [`Services::with_files`]).
    pub fn with_inspector(mut self, inspector: Arc<dyn FileInspector>) -> Self {
        if let Some(part) = self.files.as_mut() {
            part.inspector = Some(inspector);
        }
        self
    }

    /// These services, scanning every upload with `scanner` (after
    /// [`Services::with_files`]); infected files are quarantined.
    pub fn with_scanner(mut self, scanner: Arc<dyn VirusScanner>) -> Self {
        if let Some(part) = self.files.as_mut() {
            part.scanner = Some(scanner);
        }
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
        body: BytesOf<'_>,
    ) -> Result<File> {
        self.receive(caller, workspace, upload, body, None).await
    }

    /// The largest file the caller may upload to `workspace` now: the
    /// smaller of the server's and the workspace's limits; refused at once
    /// when `size` is known and over it or over the caller's quota.
    async fn upload_limit(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        size: Option<u64>,
    ) -> Result<(u64, Option<u64>)> {
        let part = self.files_part()?;
        let (ws, _) = self.workspace_for(caller, workspace).await?;
        let limit = ws
            .max_file_size()
            .map_or(part.policy.max_upload_bytes, |m| {
                m.min(part.policy.max_upload_bytes)
            });
        if size.is_some_and(|size| size > limit) {
            return Err(too_large(limit));
        }
        let quota = (part.policy.user_quota_bytes > 0).then_some(part.policy.user_quota_bytes);
        if let (Some(quota), Some(size)) = (quota, size) {
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
        Ok((limit, quota))
    }

    /// Plan an upload whose bytes come in a request of their own (the
    /// two-step upload): the limits are checked now, and the ticket names
    /// the file to be.
    pub async fn plan_upload(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        plan: PlannedUpload,
    ) -> Result<UploadTicket> {
        self.seal_plan(caller, workspace, plan, TICKET_KIND).await
    }

    /// Plan an upload whose URL takes the bytes with no credentials of its
    /// own (the Web API's files v2): the sealed token is the capability,
    /// acting for the caller who planned it.
    pub async fn plan_capability_upload(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        plan: PlannedUpload,
    ) -> Result<UploadTicket> {
        self.seal_plan(caller, workspace, plan, CAPABILITY_KIND)
            .await
    }

    /// The caller a capability upload token acts for, while they are still
    /// an active member of its workspace.
    pub async fn upload_capability(&self, token: &str) -> Result<Caller> {
        let body: TicketBody = self
            .policy
            .secret_key
            .open_token(token)
            .and_then(|plain| serde_json::from_str(&plain).ok())
            .filter(|b: &TicketBody| b.kind == CAPABILITY_KIND)
            .ok_or(Error::NotFound("upload"))?;
        let user = self
            .stores
            .users
            .get_user(body.user)
            .await?
            .filter(|u| u.status == UserStatus::Active)
            .ok_or(Error::NotFound("upload"))?;
        Ok(crate::integrations::acting_caller(
            user,
            body.workspace,
            "api",
        ))
    }

    async fn seal_plan(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        plan: PlannedUpload,
        kind: &str,
    ) -> Result<UploadTicket> {
        if plan.length == 0 {
            return Err(Error::invalid("length", "must be at least 1 byte"));
        }
        self.upload_limit(caller, workspace, Some(plan.length))
            .await?;
        if let Some(lifetime) = plan.expires_in {
            check_lifetime("expires_in_secs", lifetime)?;
        }
        let until = time::now() + chrono_duration(UPLOAD_TICKET_LIFETIME);
        let body = TicketBody {
            kind: kind.into(),
            file: FileId::new(),
            workspace,
            user: caller.user.id,
            filename: plan.filename,
            length: plan.length,
            claimed_type: plan.claimed_type,
            expires_in_secs: plan.expires_in.map(|d| d.as_secs()),
            until,
        };
        let plain = serde_json::to_string(&body).map_err(Error::internal)?;
        Ok(UploadTicket {
            token: self.policy.secret_key.seal_token(&plain)?,
            file_id: body.file,
            expires_at: until,
        })
    }

    /// What an upload token holds, when it is one of the caller's.
    fn open_ticket(&self, caller: &Caller, token: &str) -> Result<TicketBody> {
        let body: TicketBody = self
            .policy
            .secret_key
            .open_token(token)
            .and_then(|plain| serde_json::from_str(&plain).ok())
            .filter(|b: &TicketBody| {
                [TICKET_KIND, CAPABILITY_KIND].contains(&b.kind.as_str())
                    && b.user == caller.user.id
            })
            .ok_or(Error::NotFound("upload"))?;
        Ok(body)
    }

    /// A planned upload the caller may send now: the token is theirs, not
    /// expired, not used, and `declared_size` (the request's length, when
    /// it says) is the planned one. Checked before a byte is read.
    pub async fn check_planned_upload(
        &self,
        caller: &Caller,
        token: &str,
        declared_size: Option<u64>,
    ) -> Result<PlannedSend> {
        let ticket = self.open_ticket(caller, token)?;
        if ticket.until < time::now() {
            return Err(Error::invalid(
                "upload",
                "this upload URL has expired; ask for another",
            ));
        }
        if declared_size.is_some_and(|size| size != ticket.length) {
            return Err(Error::invalid(
                "body",
                format!("must be the {} bytes announced", ticket.length),
            ));
        }
        if self.stores.files.get_file(ticket.file).await?.is_some() {
            return Err(Error::conflict("upload", "its bytes were already sent"));
        }
        Ok(PlannedSend(ticket))
    }

    /// The bytes of a checked planned upload: exactly the planned length,
    /// once.
    pub async fn send_planned_upload(
        &self,
        caller: &Caller,
        planned: PlannedSend,
        body: BytesOf<'_>,
    ) -> Result<File> {
        let ticket = planned.0;
        let upload = Upload {
            filename: ticket.filename,
            claimed_type: ticket.claimed_type,
            declared_size: Some(ticket.length),
            expires_in: ticket.expires_in_secs.map(Duration::from_secs),
        };
        let planned = Some((ticket.file, ticket.length));
        self.receive(caller, ticket.workspace, upload, body, planned)
            .await
    }

    /// The file a planned upload made, once its bytes arrived (a ticket
    /// keeps naming its file after it expired).
    pub async fn finished_upload(&self, caller: &Caller, token: &str) -> Result<File> {
        let ticket = self.open_ticket(caller, token)?;
        self.stores
            .files
            .get_file(ticket.file)
            .await?
            .filter(|f| f.deleted_at.is_none())
            .ok_or_else(|| Error::conflict("upload", "no bytes were sent to this upload yet"))
    }

    /// Receive a file's bytes; `planned` is the id and exact length of a
    /// planned upload.
    async fn receive(
        &self,
        caller: &Caller,
        workspace: WorkspaceId,
        upload: Upload,
        mut body: BytesOf<'_>,
        planned: Option<(FileId, u64)>,
    ) -> Result<File> {
        let part = self.files_part()?;
        let (limit, quota) = self
            .upload_limit(caller, workspace, upload.declared_size)
            .await?;
        let expires_at = match upload.expires_in {
            Some(lifetime) => Some(time::now() + check_lifetime("expires_in_secs", lifetime)?),
            None => None,
        };
        let filename = display_name(&upload.filename);
        let claimed = upload
            .claimed_type
            .map(|t| t.chars().filter(|c| !c.is_control()).take(200).collect());
        let id = planned.map_or_else(FileId::new, |(id, _)| id);
        let accepted = planned.map_or(limit, |(_, length)| length.min(limit));
        // A planned upload may be sent twice at once: each attempt writes
        // bytes of its own, and the one that loses removes only its own.
        let blob = planned.map_or(id, |_| FileId::new());
        let key = format!("{workspace}/{blob}");
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
            if size > accepted {
                pending.abort().await;
                return Err(match planned {
                    Some((_, length)) if length < limit => Error::invalid(
                        "body",
                        format!("has more than the {length} bytes announced"),
                    ),
                    _ => too_large(limit),
                });
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
        if let Some((_, length)) = planned.filter(|(_, length)| size != *length) {
            pending.abort().await;
            return Err(Error::invalid(
                "body",
                format!("has {size} bytes, not the {length} announced"),
            ));
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
            expires_at,
            created_at: time::now(),
            quota_bytes: quota.map(|q| q as i64),
        };
        let recorded = self.stores.files.create_file(&new).await;
        if !matches!(&recorded, Ok(file) if file.storage_key == key) {
            // A copy already held these bytes, or nothing was recorded:
            // the upload goes now (or, failing that, with the cleanup job).
            self.remove_blob(&key).await;
        }
        if recorded.is_ok() {
            part.uploaded.notify_one();
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

    /// Delete the files whose own expiry passed, then remove the bytes
    /// that are due: released by their last file, or uploads never
    /// completed. Returns how many keys were removed.
    pub async fn clean_up_files(&self) -> Result<usize> {
        let part = self.files_part()?;
        loop {
            let now = time::now();
            let expired = self.stores.files.expired_files(now, CLEANUP_BATCH).await?;
            for id in &expired {
                if let Some(file) = self.stores.files.get_file(*id).await? {
                    self.remove_file(&file, now).await?;
                }
            }
            if expired.len() < CLEANUP_BATCH as usize {
                break;
            }
        }
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

    /// Process files until `stop`: those an upload announces at once, the
    /// rest (left by a crash or another node) as they are found, at most
    /// [`PROCESSING_PARALLELISM`] at a time.
    pub async fn run_file_processing(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let Some(part) = self.files.clone() else {
            return;
        };
        loop {
            let processed = self.process_pending_files().await;
            crate::count_job_run("file_processing", &processed);
            match processed {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "processing files failed; retrying"),
            }
            tokio::select! {
                () = part.uploaded.notified() => {}
                () = tokio::time::sleep(PROCESSING_IDLE) => {}
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() {
                        return;
                    }
                }
            }
        }
    }

    /// Claim a batch of files to process and process them; how many.
    pub async fn process_pending_files(&self) -> Result<usize> {
        let now = time::now();
        let stale = now - chrono_duration(PROCESSING_LEASE);
        let claimed = self
            .stores
            .files
            .claim_files_to_process(now, stale, PROCESSING_PARALLELISM as u32)
            .await?;
        let count = claimed.len();
        let work = claimed.into_iter().map(|file| self.process_file(file));
        for outcome in futures_util::future::join_all(work).await {
            outcome?;
        }
        Ok(count)
    }

    /// Thumbnails for images, text for text files; a file that cannot be
    /// processed is marked `failed` and the others go on.
    async fn process_file(&self, file: File) -> Result<()> {
        let part = self.files_part()?;
        let mut update = FileProcessingUpdate {
            processing_status: Some("done".into()),
            virus_scan_status: Some("skipped".into()),
            ..FileProcessingUpdate::default()
        };
        let inspector = part.inspector.clone();
        // An image to preview is read once, for the scanner and the thumbnails.
        let previewed = inspector
            .as_ref()
            .is_some_and(|i| i.makes_thumbnails(&file.mime_type))
            && file.file_size as u64 <= MAX_PREVIEW_BYTES;
        let image = match previewed {
            true => Some(self.read_bytes(part, &file, None).await.map(Bytes::from)),
            false => None,
        };
        if let Some(scanner) = part.scanner.clone() {
            let body = match &image {
                Some(Ok(bytes)) => Ok(one_chunk(bytes.clone())),
                _ => part.blobs.read(&file.storage_key, None).await,
            };
            let (status, result) = scan(&*scanner, &file, body).await;
            update.virus_scan_status = Some(status.into());
            update.virus_scan_result = Some(result);
        }
        // The bytes of an infected file are not opened again.
        let infected = update.virus_scan_status.as_deref() == Some("infected");
        if let (Some(inspector), false) = (inspector, infected) {
            let learned = match image {
                Some(Ok(bytes)) => self.thumbnails(part, inspector, &file, bytes).await,
                Some(Err(e)) => Err(e),
                None => self.text(part, inspector, &file).await,
            };
            match learned {
                Ok((thumbnails, text)) => {
                    update.thumbnails = thumbnails;
                    update.extracted_text = text;
                }
                Err(e) => {
                    tracing::info!(file = %file.id, error = %e, "file processing failed");
                    update.processing_status = Some("failed".into());
                }
            }
        }
        let processed = self
            .stores
            .files
            .update_file_processing(file.id, &update)
            .await?;
        let processed = file_for_event(&processed);
        self.announce_file(&processed, |_| Event::FileProcessed {
            file: processed.clone(),
        })
        .await;
        Ok(())
    }

    /// Thumbnails of an image's bytes, stored, and their list.
    async fn thumbnails(
        &self,
        part: &FilesPart,
        inspector: Arc<dyn FileInspector>,
        file: &File,
        bytes: Bytes,
    ) -> Result<(Option<serde_json::Value>, Option<String>)> {
        let mime = file.mime_type.clone();
        let thumbnails = tokio::task::spawn_blocking(move || {
            inspector.thumbnails(&mime, &bytes, &THUMBNAIL_SIZES)
        })
        .await
        .map_err(Error::internal)??;
        let mut described = Vec::new();
        for thumb in thumbnails {
            let key = thumbnail_key(file.id, thumb.size);
            let mut writer = part.blobs.create(&key).await?;
            writer.write(Bytes::from(thumb.bytes)).await?;
            writer.finish().await?;
            described.push(StoredThumbnail {
                size: thumb.size,
                width: thumb.width,
                height: thumb.height,
                mime_type: thumb.mime.to_owned(),
            });
        }
        let described = serde_json::to_value(described).map_err(Error::internal)?;
        Ok((Some(described), None))
    }

    /// The text of a file for search, from its first bytes.
    async fn text(
        &self,
        part: &FilesPart,
        inspector: Arc<dyn FileInspector>,
        file: &File,
    ) -> Result<(Option<serde_json::Value>, Option<String>)> {
        // Images too large to preview get neither thumbnails nor text.
        if inspector.makes_thumbnails(&file.mime_type) {
            return Ok((None, None));
        }
        let size = file.file_size as u64;
        let read = match inspector.reads_whole_file(&file.mime_type) {
            true if size > MAX_WHOLE_TEXT_BYTES => return Ok((None, None)),
            true => None,
            false => Some(0..size.min(MAX_TEXT_BYTES)),
        };
        let bytes = self.read_bytes(part, file, read).await?;
        let mime = file.mime_type.clone();
        let text = tokio::task::spawn_blocking(move || {
            inspector.extract_text(&mime, &bytes, MAX_TEXT_CHARS)
        })
        .await
        .map_err(Error::internal)??;
        Ok((None, text))
    }

    async fn read_bytes(
        &self,
        part: &FilesPart,
        file: &File,
        range: Option<Range<u64>>,
    ) -> Result<Vec<u8>> {
        let mut body = part.blobs.read(&file.storage_key, range).await?;
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            bytes.extend_from_slice(&chunk?);
        }
        Ok(bytes)
    }

    /// The bytes of a file's thumbnail of `size`, if the caller may read
    /// the file and it has one.
    pub async fn download_thumbnail(
        &self,
        caller: &Caller,
        id: FileId,
        size: u32,
    ) -> Result<(File, String, ByteStream)> {
        let part = self.files_part()?;
        let file = self.readable_file(caller, id).await?;
        let mime = file
            .thumbnail_list()
            .into_iter()
            .find(|t| t.size == size)
            .map(|t| t.mime_type)
            .ok_or(Error::NotFound("thumbnail"))?;
        let body = part.blobs.read(&thumbnail_key(id, size), None).await?;
        Ok((file, mime, body))
    }

    /// Move bytes unread for long to lower storage tiers (the archive first,
    /// then infrequent access), or with `apply` false only say what would
    /// move. Bytes that cannot be moved are logged and left for the next
    /// run.
    pub async fn tier_files(&self, apply: bool) -> Result<Vec<TierMove>> {
        let part = self.files_part()?;
        let now = time::now();
        let limit = if apply {
            TIERING_BATCH
        } else {
            TIERING_DRY_RUN_LIMIT
        };
        let tiers = [
            (StorageClass::Archive, part.policy.archive_after),
            (StorageClass::InfrequentAccess, part.policy.infrequent_after),
        ];
        let mut seen = std::collections::HashSet::new();
        let mut moves = Vec::new();
        for (class, after) in tiers {
            let Some(after) = after else { continue };
            let before = now - chrono_duration(after);
            loop {
                let batch = self
                    .stores
                    .files
                    .files_to_tier(class, before, limit)
                    .await?;
                let full = batch.len() == limit as usize;
                let mut fresh = 0;
                for candidate in batch {
                    if !seen.insert(candidate.storage_key.clone()) {
                        continue;
                    }
                    fresh += 1;
                    if apply {
                        if let Err(e) = self.move_to_tier(part, &candidate.storage_key, class).await
                        {
                            tracing::warn!(key = %candidate.storage_key, error = %e, "moving bytes to {class} failed; retrying next run");
                            continue;
                        }
                    }
                    moves.push(TierMove {
                        storage_key: candidate.storage_key,
                        from: candidate.storage_class,
                        to: class,
                        bytes: candidate.file_size,
                        last_used: candidate.last_used,
                    });
                }
                if !apply || !full || fresh == 0 {
                    break;
                }
            }
        }
        Ok(moves)
    }

    /// Move the bytes, then record it: a crash between leaves the record
    /// behind, and the next run moves them again (which changes nothing).
    async fn move_to_tier(&self, part: &FilesPart, key: &str, class: StorageClass) -> Result<()> {
        part.blobs.set_class(key, class).await?;
        self.stores.files.set_storage_class(key, class).await
    }

    /// The file jobs until `stop`: counted downloads written every
    /// [`DOWNLOAD_FLUSH_INTERVAL`], due bytes removed every
    /// [`BLOB_CLEANUP_INTERVAL`] (and at the start, which finds the work a
    /// crash left), bytes moved between storage tiers every
    /// [`TIERING_INTERVAL`] (and at the start), and downloads written once
    /// more at the end.
    pub async fn run_file_upkeep(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        if self.files.is_none() {
            return;
        }
        let mut flushes = tokio::time::interval(DOWNLOAD_FLUSH_INTERVAL);
        let mut cleanups = tokio::time::interval(BLOB_CLEANUP_INTERVAL);
        let mut tierings = tokio::time::interval(TIERING_INTERVAL);
        loop {
            tokio::select! {
                _ = tierings.tick() => match counted("file_tiering", self.tier_files(true).await) {
                    Ok(moved) if moved.is_empty() => {}
                    Ok(moved) => tracing::info!(moved = moved.len(), "moved unread file bytes to lower storage tiers"),
                    Err(e) => tracing::warn!(error = %e, "moving file bytes between tiers failed; retrying tomorrow"),
                },
                _ = flushes.tick() => {
                    if let Err(e) = counted("download_counts", self.flush_downloads().await) {
                        tracing::warn!(error = %e, "writing download counts failed; retrying");
                    }
                }
                _ = cleanups.tick() => match counted("file_cleanup", self.clean_up_files().await) {
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
        Ok(self.readable_file_as(caller, id).await?.0)
    }

    /// [`Services::readable_file`], with the caller's role in its workspace.
    async fn readable_file_as(&self, caller: &Caller, id: FileId) -> Result<(File, WorkspaceRole)> {
        let not_found = || Error::NotFound("file");
        let file = self
            .stores
            .files
            .get_file(id)
            .await?
            .filter(|f| f.deleted_at.is_none())
            .ok_or_else(not_found)?;
        let (_, me) = self
            .workspace_for(caller, file.workspace_id)
            .await
            .map_err(|_| not_found())?;
        if file.uploader_id == caller.user.id {
            return Ok((file, me.role));
        }
        for channel in self.stores.files.file_channels(id).await? {
            if self.channel_access(caller, channel).await.is_ok() {
                return Ok((file, me.role));
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
        let file = self.readable_file(caller, id).await?;
        self.serve_file(file, request).await
    }

    /// The bytes behind a public link, to anyone holding it, while the
    /// link lasts and the file lives.
    pub async fn download_public(&self, token: &str, request: DownloadRequest) -> Result<Download> {
        let file = self
            .stores
            .files
            .find_shared_file(&crate::tokens::hash_token(token), time::now())
            .await?
            .ok_or(Error::NotFound("file"))?;
        self.serve_file(file, request).await
    }

    /// Make a public link to a file (replacing any earlier one): its
    /// uploader or a workspace admin may.
    pub async fn create_public_link(
        &self,
        caller: &Caller,
        id: FileId,
        lifetime: Option<Duration>,
    ) -> Result<PublicLink> {
        self.file_to_manage(caller, id).await?;
        let lifetime =
            check_lifetime("expires_in_secs", lifetime.unwrap_or(DEFAULT_LINK_LIFETIME))?;
        let (token, hash) = crate::tokens::new_token();
        let expires_at = time::now() + lifetime;
        if !self
            .stores
            .files
            .set_share_link(id, Some(&hash), Some(expires_at))
            .await?
        {
            return Err(Error::NotFound("file"));
        }
        Ok(PublicLink { token, expires_at })
    }

    /// Take a file's public link away.
    pub async fn revoke_public_link(&self, caller: &Caller, id: FileId) -> Result<()> {
        self.file_to_manage(caller, id).await?;
        self.stores.files.set_share_link(id, None, None).await?;
        Ok(())
    }

    /// A file the caller may read and manage: they uploaded it, or are a
    /// workspace admin.
    async fn file_to_manage(&self, caller: &Caller, id: FileId) -> Result<File> {
        let (file, role) = self.readable_file_as(caller, id).await?;
        let admin = matches!(role, WorkspaceRole::Owner | WorkspaceRole::Admin);
        if file.uploader_id != caller.user.id && !admin {
            return Err(Error::Forbidden(
                "only its uploader or an admin may do this to a file".into(),
            ));
        }
        Ok(file)
    }

    async fn serve_file(&self, file: File, request: DownloadRequest) -> Result<Download> {
        let part = self.files_part()?;
        refuse_quarantined(&file)?;
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
        let file = self.file_to_manage(caller, id).await?;
        self.remove_file(&file, time::now()).await
    }

    /// Delete a file and tell where it was shared; deleting a deleted file
    /// changes nothing and tells nobody.
    async fn remove_file(&self, file: &File, at: DateTime<Utc>) -> Result<()> {
        let deleted = self
            .stores
            .files
            .delete_file(file.id, at, &thumbnail_keys(file.id))
            .await?;
        if deleted {
            let file_id = file.id;
            self.announce_file(file, |channel_id| Event::FileDeleted {
                file_id,
                channel_id,
            })
            .await;
        }
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
            refuse_quarantined(&file)?;
            if !files.iter().any(|f: &File| f.id == file.id) {
                files.push(file);
            }
        }
        Ok(files)
    }
}

/// `outcome`, counted as a run of `job`.
fn counted<T>(job: &'static str, outcome: Result<T>) -> Result<T> {
    crate::count_job_run(job, &outcome);
    outcome
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
