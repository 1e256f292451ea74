//! The blob port over `object_store`: one implementation serves the local
//! directory and S3, so both behave alike by construction.

use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::{Arc, Once};

use async_trait::async_trait;
use bytes::Bytes;
use confab_core::blobs::{BlobLocation, BlobStore, BlobWriter, ByteStream};
use confab_core::config::FilesConfig;
use confab_core::{Error, Result};
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, WriteMultipart};

/// The directory under `data_dir` that holds a local store's blobs.
pub const LOCAL_DIR: &str = "files";

/// S3 takes parts of at least 5 MiB (all but the last).
const PART_BYTES: usize = 5 << 20;
/// Parts in flight per upload: with the part being filled, the memory one
/// upload holds is at most three parts.
const PARTS_IN_FLIGHT: usize = 2;

/// A blob store over any `object_store` backend.
#[derive(Clone, Debug)]
pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
    location: BlobLocation,
    /// Put before every key (`confab/`), so one bucket can serve several uses.
    prefix: String,
    /// The directory of a local store.
    root: Option<std::path::PathBuf>,
}

/// The blob store `config` names: the local directory under `data_dir`,
/// or an S3 bucket.
pub fn open_blob_store(config: &FilesConfig, data_dir: &FsPath) -> Result<ObjectBlobs> {
    match config.backend.as_str() {
        "local" => ObjectBlobs::local(&data_dir.join(LOCAL_DIR)),
        "s3" => ObjectBlobs::s3(config),
        other => Err(Error::invalid(
            "files.backend",
            format!("{other:?} is not a files backend; use \"local\" or \"s3\""),
        )),
    }
}

impl ObjectBlobs {
    /// Blobs as files under `dir` (created if missing), each written to a
    /// staging file, flushed to disk and renamed into place when finished.
    pub fn local(dir: &FsPath) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .map_err(blob_err)?
            .with_fsync(true)
            .with_automatic_cleanup(true);
        Ok(Self {
            store: Arc::new(store),
            location: BlobLocation {
                provider: "local".into(),
                // The directory's name: its whole path may pass the
                // 200 characters `storage_bucket` holds.
                bucket: dir
                    .file_name()
                    .map_or_else(|| LOCAL_DIR.into(), |n| n.to_string_lossy().into_owned()),
                region: None,
            },
            prefix: String::new(),
            root: Some(dir.to_path_buf()),
        })
    }

    /// Blobs in an S3 bucket (Amazon S3 or any S3-compatible server).
    pub fn s3(config: &FilesConfig) -> Result<Self> {
        install_tls_provider();
        let bucket = config
            .bucket
            .clone()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| {
                Error::invalid("files.bucket", "is required with files.backend = \"s3\"")
            })?;
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&bucket)
            .with_region(&config.region)
            .with_virtual_hosted_style_request(!config.path_style);
        if let Some(url) = &config.url {
            builder = builder
                .with_endpoint(url)
                .with_allow_http(url.starts_with("http://"));
        }
        if let Some(key) = &config.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder
            .build()
            .map_err(|e| Error::invalid("files", e.to_string()))?;
        Ok(Self {
            store: Arc::new(store),
            location: BlobLocation {
                provider: "s3".into(),
                bucket,
                region: Some(config.region.clone()),
            },
            prefix: config.prefix.trim_matches('/').to_owned(),
            root: None,
        })
    }

    fn path(&self, key: &str) -> Result<Path> {
        let full = if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}/{key}", self.prefix)
        };
        Path::parse(&full).map_err(|e| Error::internal(format!("bad blob key {key:?}: {e}")))
    }

    fn key_of(&self, path: &Path) -> String {
        let full = path.as_ref();
        match self.prefix.is_empty() {
            true => full.to_owned(),
            false => full
                .strip_prefix(&self.prefix)
                .map(|k| k.trim_start_matches('/'))
                .unwrap_or(full)
                .to_owned(),
        }
    }
}

/// The TLS stack of the S3 client signs with `ring`; rustls needs it named
/// once per process.
fn install_tls_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only when another provider was installed first, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Remove the staging files (`{name}#{n}`) an upload cut short by a crash
/// left beside where its blob would have gone.
fn remove_staging_files(path: &FsPath) -> Result<()> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok(());
    };
    let staged = format!("{}#", name.to_string_lossy());
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Error::Unavailable(format!(
                "reading {}: {e}",
                dir.display()
            )))
        }
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&staged) {
            std::fs::remove_file(entry.path())
                .map_err(|e| Error::Unavailable(format!("removing a staging file: {e}")))?;
        }
    }
    Ok(())
}

fn blob_err(err: object_store::Error) -> Error {
    match err {
        object_store::Error::NotFound { .. } => Error::NotFound("blob"),
        other => Error::Unavailable(format!("blob storage: {other}")),
    }
}

struct ObjectWriter {
    upload: WriteMultipart,
}

#[async_trait]
impl BlobWriter for ObjectWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.upload
            .wait_for_capacity(PARTS_IN_FLIGHT)
            .await
            .map_err(blob_err)?;
        self.upload.put(chunk);
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<()> {
        self.upload.finish().await.map(|_| ()).map_err(blob_err)
    }

    async fn abort(self: Box<Self>) -> Result<()> {
        self.upload.abort().await.map_err(blob_err)
    }
}

#[async_trait]
impl BlobStore for ObjectBlobs {
    fn location(&self) -> BlobLocation {
        self.location.clone()
    }

    async fn create(&self, key: &str) -> Result<Box<dyn BlobWriter>> {
        let upload = self
            .store
            .put_multipart(&self.path(key)?)
            .await
            .map_err(blob_err)?;
        Ok(Box::new(ObjectWriter {
            upload: WriteMultipart::new_with_chunk_size(upload, PART_BYTES),
        }))
    }

    async fn read(&self, key: &str, range: Option<Range<u64>>) -> Result<ByteStream> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let got = self
            .store
            .get_opts(&self.path(key)?, options)
            .await
            .map_err(blob_err)?;
        Ok(got.into_stream().map_err(blob_err).boxed())
    }

    async fn size(&self, key: &str) -> Result<Option<u64>> {
        match self.store.head(&self.path(key)?).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(other) => Err(blob_err(other)),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        match self.store.delete(&self.path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(other) => return Err(blob_err(other)),
        }
        if let Some(root) = &self.root {
            remove_staging_files(&root.join(key))?;
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let under = self.path(prefix.trim_end_matches('/'))?;
        let under = (!under.as_ref().is_empty()).then_some(under);
        let mut keys: Vec<String> = self
            .store
            .list(under.as_ref())
            .map_ok(|meta| self.key_of(&meta.location))
            .try_collect()
            .await
            .map_err(blob_err)?;
        keys.sort();
        Ok(keys)
    }
}
