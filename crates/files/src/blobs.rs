//! The blob port over `object_store`: one implementation serves the local
//! directory and S3, so both behave alike by construction.

use std::ops::Range;
use std::path::Path as FsPath;
use std::sync::{Arc, Once};

use async_trait::async_trait;
use bytes::Bytes;
use confab_core::blobs::{BlobLocation, BlobStore, BlobWriter, ByteStream};
use confab_core::config::FilesConfig;
use confab_core::model::StorageClass;
use confab_core::{Error, Result};
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, GetOptions, GetRange, GetResult, GetResultPayload, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, WriteMultipart,
};

/// The directory under `data_dir` that holds a local store's blobs.
pub const LOCAL_DIR: &str = "files";

/// S3 takes parts of at least 5 MiB (all but the last).
const PART_BYTES: usize = 5 << 20;
/// Parts in flight per upload: with the part being filled, the memory one
/// upload holds is at most three parts.
const PARTS_IN_FLIGHT: usize = 2;

/// The directories of a local store's lower tiers, inside its own (keys
/// never start with a dot). Mount a slower disk on them to use one.
pub const LOCAL_TIER_DIRS: [(StorageClass, &str); 2] = [
    (StorageClass::InfrequentAccess, ".infrequent"),
    (StorageClass::Archive, ".archive"),
];

/// S3 storage classes read without a restore, which the archive tier may use.
pub const READABLE_ARCHIVE_CLASSES: [&str; 3] = ["GLACIER_IR", "STANDARD_IA", "ONEZONE_IA"];

/// Where the lower storage tiers are.
#[derive(Clone, Debug)]
enum Tiers {
    /// A directory each (see [`LOCAL_TIER_DIRS`]).
    Local(Vec<(StorageClass, Arc<dyn ObjectStore>)>),
    /// The object itself, rewritten with another S3 storage class: the
    /// seed's names, but for the archive's, which is configured.
    S3 { archive: String },
}

/// A blob store over any `object_store` backend.
#[derive(Clone, Debug)]
pub struct ObjectBlobs {
    store: Arc<dyn ObjectStore>,
    tiers: Tiers,
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
        let store = local_store(dir)?;
        let mut tiers = Vec::new();
        for (class, name) in LOCAL_TIER_DIRS {
            tiers.push((class, local_store(&dir.join(name))?));
        }
        Ok(Self {
            store,
            tiers: Tiers::Local(tiers),
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
        let archive = config.archive_storage_class.trim().to_ascii_uppercase();
        if !READABLE_ARCHIVE_CLASSES.contains(&archive.as_str()) {
            return Err(Error::invalid(
                "files.archive_storage_class",
                format!(
                    "{archive:?} needs a restore before each read, which Confab does not do; \
                     use one of {READABLE_ARCHIVE_CLASSES:?}"
                ),
            ));
        }
        Ok(Self {
            store: Arc::new(store),
            tiers: Tiers::S3 { archive },
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

/// Bytes read from a local file at a time. `object_store` reads 8 KiB per
/// blocking task, which holds a download to about 200 MiB/s.
const LOCAL_READ_BYTES: usize = 256 * 1024;

/// The bytes of a read: a local file in large chunks, anything else as
/// the store streams it.
fn stream_of(got: GetResult) -> ByteStream {
    match got.payload {
        GetResultPayload::File(file, _) => read_file(file, got.range),
        GetResultPayload::Stream(stream) => stream.map_err(blob_err).boxed(),
    }
}

/// `range` of an open file, a chunk per blocking task.
fn read_file(file: std::fs::File, range: Range<u64>) -> ByteStream {
    use std::io::{Read, Seek, SeekFrom};
    let state = (file, range.start, range.end);
    futures_util::stream::try_unfold(state, |(mut file, at, end)| async move {
        if at >= end {
            return Ok(None);
        }
        let read = tokio::task::spawn_blocking(move || {
            let want = (end - at).min(LOCAL_READ_BYTES as u64);
            let mut chunk = Vec::with_capacity(want as usize);
            file.seek(SeekFrom::Start(at))?;
            (&mut file).take(want).read_to_end(&mut chunk)?;
            Ok::<_, std::io::Error>((chunk, file))
        })
        .await
        .map_err(Error::internal)?;
        let (chunk, file) = read.map_err(|e| Error::Unavailable(format!("reading a blob: {e}")))?;
        if chunk.is_empty() {
            return Err(Error::Unavailable("a blob ended before its size".into()));
        }
        let next = at + chunk.len() as u64;
        Ok(Some((Bytes::from(chunk), (file, next, end))))
    })
    .boxed()
}

/// A local directory's store (the directory made if missing): each blob
/// written to a staging file, flushed to disk and renamed into place.
fn local_store(dir: &FsPath) -> Result<Arc<dyn ObjectStore>> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
    let store = LocalFileSystem::new_with_prefix(dir)
        .map_err(blob_err)?
        .with_fsync(true)
        .with_automatic_cleanup(true);
    Ok(Arc::new(store))
}

/// Stream the blob at `path` of `from` into `to` (the same store rewrites
/// it in place), with `attributes`; memory stays bounded.
async fn copy_blob(
    from: &dyn ObjectStore,
    to: &dyn ObjectStore,
    path: &Path,
    attributes: Attributes,
) -> Result<()> {
    let mut bytes = stream_of(from.get(path).await.map_err(blob_err)?);
    let options = PutMultipartOptions {
        attributes,
        ..PutMultipartOptions::default()
    };
    let upload = to
        .put_multipart_opts(path, options)
        .await
        .map_err(blob_err)?;
    let mut writer: Box<dyn BlobWriter> = Box::new(ObjectWriter {
        upload: WriteMultipart::new_with_chunk_size(upload, PART_BYTES),
    });
    while let Some(chunk) = bytes.next().await {
        let written = match chunk {
            Ok(chunk) => writer.write(chunk).await,
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            let _ = writer.abort().await;
            return Err(e);
        }
    }
    writer.finish().await
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
        let path = self.path(key)?;
        for store in self.stores() {
            let options = GetOptions {
                range: range.clone().map(GetRange::Bounded),
                ..GetOptions::default()
            };
            match store.get_opts(&path, options).await {
                Ok(got) => return Ok(stream_of(got)),
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(other) => return Err(blob_err(other)),
            }
        }
        Err(Error::NotFound("blob"))
    }

    async fn size(&self, key: &str) -> Result<Option<u64>> {
        let path = self.path(key)?;
        for store in self.stores() {
            match store.head(&path).await {
                Ok(meta) => return Ok(Some(meta.size)),
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(other) => return Err(blob_err(other)),
            }
        }
        Ok(None)
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        for store in self.stores() {
            match store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(other) => return Err(blob_err(other)),
            }
        }
        if let Some(root) = &self.root {
            remove_staging_files(&root.join(key))?;
            for (_, dir) in LOCAL_TIER_DIRS {
                remove_staging_files(&root.join(dir).join(key))?;
            }
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let under = self.path(prefix.trim_end_matches('/'))?;
        let under = (!under.as_ref().is_empty()).then_some(under);
        let mut keys = Vec::new();
        for store in self.stores() {
            let found: Vec<String> = store
                .list(under.as_ref())
                .map_ok(|meta| self.key_of(&meta.location))
                .try_collect()
                .await
                .map_err(blob_err)?;
            // The standard directory holds the lower tiers' directories.
            keys.extend(found.into_iter().filter(|k| !k.starts_with('.')));
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    async fn set_class(&self, key: &str, class: StorageClass) -> Result<()> {
        let path = self.path(key)?;
        match &self.tiers {
            Tiers::S3 { archive } => {
                let name = match class {
                    StorageClass::Archive => archive.as_str(),
                    other => other.as_str(),
                };
                let mut attributes = Attributes::new();
                attributes.insert(Attribute::StorageClass, name.to_owned().into());
                copy_blob(&*self.store, &*self.store, &path, attributes).await
            }
            Tiers::Local(_) => self.move_locally(&path, class).await,
        }
    }
}

impl ObjectBlobs {
    /// The stores a blob may be in, the standard one first.
    fn stores(&self) -> Vec<&Arc<dyn ObjectStore>> {
        let mut stores = vec![&self.store];
        if let Tiers::Local(tiers) = &self.tiers {
            stores.extend(tiers.iter().map(|(_, store)| store));
        }
        stores
    }

    /// The local store of `class`.
    fn local_tier(&self, class: StorageClass) -> &Arc<dyn ObjectStore> {
        match &self.tiers {
            Tiers::Local(tiers) => tiers
                .iter()
                .find(|(c, _)| *c == class)
                .map_or(&self.store, |(_, store)| store),
            Tiers::S3 { .. } => &self.store,
        }
    }

    /// Copy a blob into the directory of `class`, then remove it from the
    /// others: a crash between leaves two copies of the same bytes, which
    /// the next move (or the deletion) tidies.
    async fn move_locally(&self, path: &Path, class: StorageClass) -> Result<()> {
        let target = self.local_tier(class);
        let present = |store: &Arc<dyn ObjectStore>| {
            let store = store.clone();
            let path = path.clone();
            async move {
                match store.head(&path).await {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::NotFound { .. }) => Ok(false),
                    Err(other) => Err(blob_err(other)),
                }
            }
        };
        if !present(target).await? {
            let mut source = None;
            for store in self.stores() {
                if present(store).await? {
                    source = Some(store);
                    break;
                }
            }
            let source = source.ok_or(Error::NotFound("blob"))?;
            copy_blob(&**source, &**target, path, Attributes::new()).await?;
        }
        for store in self.stores() {
            if !Arc::ptr_eq(store, target) {
                match store.delete(path).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(other) => return Err(blob_err(other)),
                }
            }
        }
        Ok(())
    }
}
