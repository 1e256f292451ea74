//! `confab backup DIR` and `confab restore DIR`: a verified copy of the
//! database, the stored files and the sealing key, made while the server
//! runs, and put back into an empty installation.
//!
//! A backup is a directory `confab-backup-<UTC time>` holding the database
//! (`database.sqlite.gz`, made by `VACUUM INTO` and gzipped, or
//! `database.pgdump`, `pg_dump`'s custom format), `blobs/<key>` for every
//! stored file, `secret.key` when the key is kept in the data directory, and
//! `manifest.json`: the size and SHA-256 of each of those, the schema
//! version and the rows of every table as of the copy. It is written under
//! a hidden name and renamed when complete, so a backup that is there is
//! whole.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use confab_core::backup::Census;
use confab_core::blobs::BlobStore;
use confab_core::config::Config;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::backends::{self, DatabaseKind};
use crate::progress;

const FORMAT: u32 = 1;
const MANIFEST: &str = "manifest.json";
const NAME_PREFIX: &str = "confab-backup-";
const SQLITE_COPY: &str = "database.sqlite.gz";
const POSTGRES_COPY: &str = "database.pgdump";
const BLOBS_DIR: &str = "blobs";
const SECRET_KEY: &str = "secret.key";

/// What a backup holds, written last.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    confab_version: String,
    created_at: DateTime<Utc>,
    /// `sqlite` or `postgres`.
    database_backend: String,
    database: Census,
    /// Every other file of the backup.
    files: Vec<Entry>,
}

/// One file of a backup, by its path within it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    path: String,
    bytes: u64,
    sha256: String,
}

impl Manifest {
    fn blobs(&self) -> impl Iterator<Item = &Entry> {
        self.files.iter().filter(|e| blob_key(&e.path).is_some())
    }

    fn has(&self, path: &str) -> bool {
        self.files.iter().any(|e| e.path == path)
    }
}

/// The blob key a backup path holds, if it is a blob's.
fn blob_key(path: &str) -> Option<&str> {
    path.strip_prefix(BLOBS_DIR)?.strip_prefix('/')
}

/// Make a backup under `into`; with `keep`, then remove all but the newest
/// `keep` backups there.
pub async fn backup(config: Config, into: PathBuf, keep: Option<usize>) -> anyhow::Result<()> {
    let url = config.database_url();
    let kind = DatabaseKind::of(&url)?;
    std::fs::create_dir_all(&into).with_context(|| format!("cannot create {}", into.display()))?;
    let started = confab_core::time::now();
    let name = format!("{NAME_PREFIX}{}", started.format("%Y%m%dT%H%M%S%3fZ"));
    let partial = into.join(format!(".{name}.partial"));
    create_private_dir(&partial)?;
    let manifest = match write_backup(&config, kind, &url, &partial, started).await {
        Ok(manifest) => manifest,
        Err(err) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(err);
        }
    };
    let done = into.join(&name);
    std::fs::rename(&partial, &done)?;
    sync_dir(&into)?;
    println!(
        "Backed up {} tables ({} rows) and {} stored files into {}.",
        manifest.database.tables.len(),
        manifest.database.rows(),
        manifest.blobs().count(),
        done.display()
    );
    if let Some(keep) = keep {
        for old in rotate(&into, keep)? {
            println!("Removed the older backup {}.", old.display());
        }
    }
    Ok(())
}

async fn write_backup(
    config: &Config,
    kind: DatabaseKind,
    url: &str,
    dir: &Path,
    started: DateTime<Utc>,
) -> anyhow::Result<Manifest> {
    let blobs = backends::open_blobs(config).await?;
    let spinner = progress::step("copying the database");
    let copied = copy_database(kind, url, dir).await;
    spinner.finish_and_clear();
    let (database, entry) = copied?;
    let mut files = vec![entry];
    files.extend(copy_blobs(&*blobs, dir).await?);
    let key = backends::secret_key_path(config);
    if config.secrets.key.is_none() && key.exists() {
        let target = dir.join(SECRET_KEY);
        std::fs::copy(&key, &target).context("cannot copy the secret key")?;
        files.push(describe(dir, SECRET_KEY)?);
    }
    let manifest = Manifest {
        format: FORMAT,
        confab_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: started,
        database_backend: kind.name().to_owned(),
        database,
        files,
    };
    let mut out = File::create(dir.join(MANIFEST))?;
    serde_json::to_writer_pretty(&mut out, &manifest)?;
    out.write_all(b"\n")?;
    out.sync_all()?;
    Ok(manifest)
}

/// The database copied into `dir`: what it holds, and its entry.
async fn copy_database(
    kind: DatabaseKind,
    url: &str,
    dir: &Path,
) -> anyhow::Result<(Census, Entry)> {
    match kind {
        DatabaseKind::Sqlite => {
            let raw = dir.join("database.sqlite");
            let census = kind.snapshot(url, &raw).await?;
            let packed = dir.join(SQLITE_COPY);
            tokio::task::spawn_blocking(move || gzip(&raw, &packed)).await??;
            Ok((census, describe(dir, SQLITE_COPY)?))
        }
        DatabaseKind::Postgres => {
            let census = kind.snapshot(url, &dir.join(POSTGRES_COPY)).await?;
            Ok((census, describe(dir, POSTGRES_COPY)?))
        }
    }
}

/// Compress `raw` into `packed`, removing `raw`.
fn gzip(raw: &Path, packed: &Path) -> anyhow::Result<()> {
    let mut input = BufReader::new(File::open(raw)?);
    let output = BufWriter::new(File::create(packed)?);
    let mut encoder = flate2::write::GzEncoder::new(output, flate2::Compression::new(3));
    std::io::copy(&mut input, &mut encoder)?;
    let file = encoder.finish()?.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    std::fs::remove_file(raw)?;
    Ok(())
}

/// Every stored file copied under `dir/blobs`. A file removed while the
/// backup runs is left out (its removal was due anyway).
async fn copy_blobs(blobs: &dyn BlobStore, dir: &Path) -> anyhow::Result<Vec<Entry>> {
    let keys = blobs.list("").await?;
    let bar = progress::items(keys.len() as u64, "stored files");
    let mut entries = Vec::with_capacity(keys.len());
    for key in keys {
        let path = format!("{BLOBS_DIR}/{key}");
        let target = dir.join(safe_relative(&path)?);
        let stream = match blobs.read(&key, None).await {
            Ok(stream) => stream,
            Err(confab_core::Error::NotFound(_)) => continue,
            Err(err) => return Err(err).with_context(|| format!("reading stored file {key}")),
        };
        std::fs::create_dir_all(target.parent().expect("under the backup"))?;
        let (bytes, sha256) = write_stream(stream, &target).await?;
        entries.push(Entry {
            path,
            bytes,
            sha256,
        });
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(entries)
}

async fn write_stream(
    mut stream: confab_core::blobs::ByteStream,
    target: &Path,
) -> anyhow::Result<(u64, String)> {
    let mut out = BufWriter::new(File::create(target)?);
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        hasher.update(&chunk);
        out.write_all(&chunk)?;
        bytes += chunk.len() as u64;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok((bytes, hex(&hasher.finalize())))
}

/// A backup path (`/`-separated, relative, no `..`) as a path.
fn safe_relative(path: &str) -> anyhow::Result<PathBuf> {
    let parts: Vec<&str> = path.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == "..")
    {
        bail!("the backup names an unsafe path {path:?}");
    }
    Ok(parts.iter().collect())
}

/// The entry of the file at `path` within `dir`.
fn describe(dir: &Path, path: &str) -> anyhow::Result<Entry> {
    let (bytes, sha256) = checksum(&dir.join(safe_relative(path)?), None)?;
    Ok(Entry {
        path: path.to_owned(),
        bytes,
        sha256,
    })
}

/// Size and SHA-256 of a file, advancing `bar` by its bytes.
fn checksum(path: &Path, bar: Option<&indicatif::ProgressBar>) -> anyhow::Result<(u64, String)> {
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        bytes += read as u64;
        if let Some(bar) = bar {
            bar.inc(read as u64);
        }
    }
    Ok((bytes, hex(&hasher.finalize())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn create_private_dir(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

fn sync_dir(path: &Path) -> anyhow::Result<()> {
    File::open(path)?.sync_all()?;
    Ok(())
}

/// Remove all but the newest `keep` complete backups in `dir`; those removed.
fn rotate(dir: &Path, keep: usize) -> anyhow::Result<Vec<PathBuf>> {
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            let named = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(NAME_PREFIX));
            named && path.join(MANIFEST).is_file()
        })
        .collect();
    // The names hold the time of each backup, so they sort by age.
    backups.sort();
    let surplus = backups.len().saturating_sub(keep);
    let old: Vec<PathBuf> = backups.drain(..surplus).collect();
    for path in &old {
        std::fs::remove_dir_all(path)
            .with_context(|| format!("cannot remove {}", path.display()))?;
    }
    Ok(old)
}

/// Restore the backup in `from` into the configured database, file store
/// and data directory, which must be empty unless `force`.
pub async fn restore(config: Config, from: PathBuf, force: bool) -> anyhow::Result<()> {
    let manifest = read_manifest(&from)?;
    let url = config.database_url();
    let kind = DatabaseKind::of(&url)?;
    check_compatible(&manifest, kind)?;
    verify(&from, &manifest)?;
    backends::prepare_data_dir(&config.data_dir)?;
    let blobs = backends::open_blobs(&config).await?;
    if !force {
        refuse_if_in_use(&config, kind, &url, &*blobs).await?;
    }
    let spinner = progress::step("restoring the database");
    let restored = restore_database(kind, &url, &from, force).await;
    spinner.finish_and_clear();
    restored?;
    restore_blobs(&*blobs, &from, &manifest).await?;
    if manifest.has(SECRET_KEY) {
        restore_secret_key(&config, &from)?;
    }
    let found = kind.census(&url).await?;
    let differences = manifest.database.differences(&found);
    if !differences.is_empty() {
        bail!(
            "the restored database does not match the backup: {}",
            differences.join("; ")
        );
    }
    println!(
        "Restored {} tables ({} rows) and {} stored files from {}; every count matches the backup.",
        found.tables.len(),
        found.rows(),
        manifest.blobs().count(),
        from.display()
    );
    if config.search.backend != "postgres" {
        println!("Rebuild the search index with `confab reindex` before starting the server.");
    }
    Ok(())
}

fn read_manifest(from: &Path) -> anyhow::Result<Manifest> {
    let path = from.join(MANIFEST);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{} is not a Confab backup (no readable {MANIFEST})",
            from.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("{} is damaged", path.display()))
}

fn check_compatible(manifest: &Manifest, kind: DatabaseKind) -> anyhow::Result<()> {
    if manifest.format != FORMAT {
        bail!(
            "this backup has format {}; this Confab reads format {FORMAT}",
            manifest.format
        );
    }
    if manifest.database_backend != kind.name() {
        bail!(
            "this backup is of a {} database, and database.url names a {} one",
            manifest.database_backend,
            kind.name()
        );
    }
    let known = kind.latest_schema_version();
    if manifest.database.schema_version > known {
        bail!(
            "this backup was made by a newer Confab ({}, schema {}); this one knows schema {known}",
            manifest.confab_version,
            manifest.database.schema_version
        );
    }
    Ok(())
}

/// Check the size and SHA-256 of every file before anything is changed.
fn verify(from: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let total = manifest.files.iter().map(|e| e.bytes).sum();
    let bar = progress::bytes(total, "checked");
    for entry in &manifest.files {
        let path = from.join(safe_relative(&entry.path)?);
        let (bytes, sha256) = checksum(&path, Some(&bar))?;
        if bytes != entry.bytes || sha256 != entry.sha256 {
            bail!(
                "{} does not match the manifest (damaged or changed): nothing was restored",
                path.display()
            );
        }
    }
    bar.finish_and_clear();
    Ok(())
}

async fn refuse_if_in_use(
    config: &Config,
    kind: DatabaseKind,
    url: &str,
    blobs: &dyn BlobStore,
) -> anyhow::Result<()> {
    if kind.holds_data(url).await? {
        bail!("the database already holds data: restore into an empty one, or pass --force to replace it");
    }
    if !blobs.list("").await?.is_empty() {
        bail!("the file store already holds files: restore into an empty one, or pass --force");
    }
    if backends::secret_key_path(config).exists() {
        bail!(
            "{} already exists: restore into an empty data directory, or pass --force",
            backends::secret_key_path(config).display()
        );
    }
    Ok(())
}

async fn restore_database(
    kind: DatabaseKind,
    url: &str,
    from: &Path,
    force: bool,
) -> anyhow::Result<()> {
    let Some(file) = kind.database_file(url)? else {
        return kind.restore(url, &from.join(POSTGRES_COPY), force).await;
    };
    if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    // Unpacked beside the database, so that it moves into place in one rename.
    let mut staged = file.clone().into_os_string();
    staged.push(".restoring");
    let staged = PathBuf::from(staged);
    let packed = from.join(SQLITE_COPY);
    let target = staged.clone();
    tokio::task::spawn_blocking(move || gunzip(&packed, &target)).await??;
    let placed = kind.restore(url, &staged, force).await;
    if placed.is_err() {
        let _ = std::fs::remove_file(&staged);
    }
    placed
}

fn gunzip(packed: &Path, target: &Path) -> anyhow::Result<()> {
    let mut decoder = flate2::read::GzDecoder::new(BufReader::new(File::open(packed)?));
    let mut out = BufWriter::new(File::create(target)?);
    std::io::copy(&mut decoder, &mut out)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

async fn restore_blobs(
    blobs: &dyn BlobStore,
    from: &Path,
    manifest: &Manifest,
) -> anyhow::Result<()> {
    let total = manifest.blobs().map(|e| e.bytes).sum();
    let bar = progress::bytes(total, "of stored files");
    for entry in manifest.blobs() {
        let key = blob_key(&entry.path).expect("a blob entry");
        let mut file = File::open(from.join(safe_relative(&entry.path)?))?;
        let mut writer = blobs.create(key).await?;
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            let read = file.read(&mut buffer)?;
            if read == 0 {
                break;
            }
            writer
                .write(bytes::Bytes::copy_from_slice(&buffer[..read]))
                .await?;
            bar.inc(read as u64);
        }
        writer.finish().await?;
    }
    bar.finish_and_clear();
    Ok(())
}

fn restore_secret_key(config: &Config, from: &Path) -> anyhow::Result<()> {
    let key = std::fs::read_to_string(from.join(SECRET_KEY))?;
    let path = backends::secret_key_path(config);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    backends::write_private(&path, &key).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_backup_are_refused() {
        assert_eq!(
            safe_relative("blobs/ws/ab/cd").unwrap(),
            PathBuf::from("blobs/ws/ab/cd")
        );
        for bad in ["../etc/passwd", "blobs//x", "/abs", "blobs/./x", "blobs/.."] {
            assert!(safe_relative(bad).is_err(), "{bad}");
        }
        assert_eq!(blob_key("blobs/ws/1"), Some("ws/1"));
        assert_eq!(blob_key("blobsy/1"), None);
        assert_eq!(blob_key(SECRET_KEY), None);
    }

    #[test]
    fn rotation_keeps_the_newest_complete_backups() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "confab-backup-20261201T000000000Z",
            "confab-backup-20261202T000000000Z",
            "confab-backup-20261203T000000000Z",
        ];
        for name in names {
            std::fs::create_dir(dir.path().join(name)).unwrap();
            std::fs::write(dir.path().join(name).join(MANIFEST), "{}").unwrap();
        }
        // Neither an unfinished backup nor a stranger's directory is touched.
        std::fs::create_dir(
            dir.path()
                .join(".confab-backup-20261130T000000000Z.partial"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("confab-backup-notes")).unwrap();
        let removed = rotate(dir.path(), 2).unwrap();
        assert_eq!(removed, [dir.path().join(names[0])]);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".confab-backup-20261130T000000000Z.partial",
                "confab-backup-20261202T000000000Z",
                "confab-backup-20261203T000000000Z",
                "confab-backup-notes",
            ]
        );
    }
}
