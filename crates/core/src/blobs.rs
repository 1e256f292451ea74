//! The blob port: where file bytes live (a local directory or S3-compatible
//! object storage). Keys are chosen by the server, never by a client.

use std::ops::Range;
use std::pin::Pin;

use async_trait::async_trait;
use bytes::Bytes;
use futures_core::Stream;

use crate::model::StorageClass;
use crate::Result;

/// Bytes a chunk at a time, borrowing for `'a` (a request body).
pub type BytesOf<'a> = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send + 'a>>;

/// Bytes read from a blob, a chunk at a time.
pub type ByteStream = BytesOf<'static>;

/// Where a blob store keeps its bytes, as recorded on every file row
/// (`storage_provider`, `storage_bucket`, `storage_region`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobLocation {
    /// `local` or `s3`.
    pub provider: String,
    /// The bucket, or the directory of a local store.
    pub bucket: String,
    pub region: Option<String>,
}

/// A blob being written. Nothing is visible under its key until
/// [`BlobWriter::finish`] returns; [`BlobWriter::abort`] leaves nothing behind.
#[async_trait]
pub trait BlobWriter: Send {
    /// Append bytes. Memory stays bounded whatever the blob's size.
    async fn write(&mut self, chunk: Bytes) -> Result<()>;
    /// Make the whole blob visible under its key.
    async fn finish(self: Box<Self>) -> Result<()>;
    /// Discard what was written.
    async fn abort(self: Box<Self>) -> Result<()>;
}

/// Blob storage.
#[async_trait]
pub trait BlobStore: Send + Sync {
    fn location(&self) -> BlobLocation;
    /// Start writing a new blob under `key`.
    async fn create(&self, key: &str) -> Result<Box<dyn BlobWriter>>;
    /// The bytes of `range` (all of them when `None`); `NotFound("blob")`
    /// when the key holds nothing. The range must lie within the blob.
    async fn read(&self, key: &str, range: Option<Range<u64>>) -> Result<ByteStream>;
    /// The blob's size, or `None` when the key holds nothing.
    async fn size(&self, key: &str) -> Result<Option<u64>>;
    /// Remove a blob; removing an absent one succeeds.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Every key under `prefix`, sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Move a blob to the storage tier `class`. It reads as before from
    /// any tier; moving it to the tier it is in changes nothing, and a move
    /// cut short leaves it readable (and is finished by doing it again).
    async fn set_class(&self, key: &str, class: StorageClass) -> Result<()>;
}
