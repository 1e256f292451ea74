//! The one place that names concrete backends: it turns configuration into
//! ports.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use confab_core::backup::Census;
use confab_core::config::Config;
use confab_core::ports::{Realtime, Stores};
use confab_realtime::{MemoryBus, MemoryState, RedisBus, RedisOptions, RedisState};
use confab_service::SecretKey;
use confab_store_postgres::{PostgresOptions, PostgresStore};
use confab_store_sqlite::{SqliteOptions, SqliteStore};

/// Refuse configuration that names a backend this build does not provide,
/// or backends that cannot work together.
pub fn check_supported(config: &Config) -> anyhow::Result<()> {
    match config.search.backend.as_str() {
        "tantivy" => {}
        "postgres" => {
            if !is_postgres(&config.database_url()) {
                bail!(
                    "search.backend = \"postgres\" needs database.url to be a PostgreSQL database"
                );
            }
            if config.search.url.is_some() {
                bail!("search.url is not used by search.backend = \"postgres\" (it searches database.url); remove it");
            }
        }
        "elasticsearch" => {
            if config.search.url.is_none() {
                bail!("search.backend = \"elasticsearch\" needs search.url");
            }
            let prefix = &config.search.index_prefix;
            let lowercase = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
            let starts_well = prefix.starts_with(|c: char| c.is_ascii_alphanumeric());
            if !starts_well || !prefix.chars().all(lowercase) {
                bail!("search.index_prefix must be lowercase letters, digits and _, starting with a letter or digit");
            }
            if config.search.shards == 0 || config.search.shared_indexes == 0 {
                bail!("search.shards and search.shared_indexes must be at least 1");
            }
            if !is_time_value(&config.search.refresh_interval) {
                bail!("search.refresh_interval must be a duration such as 1s, 500ms or 1m (or -1: never)");
            }
        }
        other => bail!(
            "search.backend must be \"tantivy\", \"postgres\" or \"elasticsearch\", not {other:?}"
        ),
    }
    match config.files.backend.as_str() {
        "local" => {}
        "s3" if config.files.bucket.as_deref().is_none_or(str::is_empty) => {
            bail!("files.backend = \"s3\" needs files.bucket")
        }
        "s3" => {}
        other => bail!("files.backend must be \"local\" or \"s3\", not {other:?}"),
    }
    retention_time(config)?;
    if config.files.max_upload_bytes == 0 {
        bail!("files.max_upload_bytes must be at least 1");
    }
    Ok(())
}

/// When the daily retention run starts (`retention.run_at`, UTC).
pub fn retention_time(config: &Config) -> anyhow::Result<chrono::NaiveTime> {
    chrono::NaiveTime::parse_from_str(&config.retention.run_at, "%H:%M")
        .map_err(|_| anyhow::anyhow!("retention.run_at must be a time of day such as 02:00 (UTC)"))
}

/// Whether `text` is a duration as Elasticsearch reads one (`5s`, `500ms`,
/// `1m`; `-1` turns refreshing off).
fn is_time_value(text: &str) -> bool {
    let units = ["ms", "s", "m", "h", "d"];
    let number = units.iter().find_map(|unit| text.strip_suffix(unit));
    text == "-1" || number.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The search engine of `search.backend`: Tantivy under the data directory,
/// PostgreSQL full-text search in the database, or an Elasticsearch cluster
/// (which must answer at start); and the embedded index itself when it is
/// the one (a rebuild can replace its indexes while the server runs).
pub async fn open_search(
    config: &Config,
    stores: &Stores,
) -> anyhow::Result<(
    Arc<dyn confab_core::ports::SearchIndex>,
    Option<Arc<confab_search::TantivyIndex>>,
)> {
    Ok(match config.search.backend.as_str() {
        "postgres" => (Arc::new(open_postgres_search(config).await?), None),
        "elasticsearch" => (Arc::new(open_elasticsearch(config, stores).await?), None),
        _ => {
            let embedded = Arc::new(
                confab_search::TantivyIndex::open(&search_dir(config))
                    .map_err(anyhow::Error::msg)?,
            );
            (embedded.clone(), Some(embedded))
        }
    })
}

/// PostgreSQL full-text search over `database.url`, with a pool of its own
/// (a quarter of the database's connections, at least two).
pub async fn open_postgres_search(
    config: &Config,
) -> anyhow::Result<confab_search::PostgresSearch> {
    let connections = (config.database.max_connections / 4).max(2);
    let timeout = Duration::from_secs(config.database.connect_timeout_secs.max(1));
    Ok(
        confab_search::PostgresSearch::connect(&config.database_url(), connections, timeout)
            .await?,
    )
}

/// The Elasticsearch cluster at `search.url`, laid out as configured.
pub async fn open_elasticsearch(
    config: &Config,
    stores: &Stores,
) -> anyhow::Result<confab_search::ElasticsearchIndex> {
    let search = &config.search;
    let options = confab_search::ElasticsearchOptions {
        url: search.url.clone().unwrap_or_default(),
        prefix: search.index_prefix.clone(),
        shards: search.shards,
        replicas: search.replicas,
        refresh_interval: search.refresh_interval.clone(),
        shared_indexes: search.shared_indexes,
        dedicated_members: search.dedicated_members,
        monthly: search.monthly_indexes,
        timeout: Duration::from_secs(30),
    };
    let workspaces = stores.workspaces.clone();
    Ok(confab_search::ElasticsearchIndex::connect(options, workspaces).await?)
}

/// Where the embedded indexes live (`messages/`, `files/`).
pub fn search_dir(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("search")
}

/// Create the data directory if needed and make sure it is writable.
pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let probe = dir.join(".confab-write-test");
    std::fs::write(&probe, b"ok")
        .with_context(|| format!("data directory {} is not writable", dir.display()))?;
    std::fs::remove_file(&probe).ok();
    Ok(())
}

/// The key sealing secrets at rest: `secrets.key`, or the one kept in the
/// data directory (made at the first start, readable by its owner alone).
pub fn secret_key(config: &Config) -> anyhow::Result<SecretKey> {
    if let Some(text) = &config.secrets.key {
        return SecretKey::from_base64(text).map_err(|e| anyhow::anyhow!("secrets.key {e}"));
    }
    let path = secret_key_path(config);
    let key = match std::fs::read_to_string(&path) {
        Ok(text) => SecretKey::from_base64(&text)
            .map_err(|e| anyhow::anyhow!("the key in {} {e}", path.display()))?,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = SecretKey::generate();
            write_private(&path, &key.to_base64())
                .with_context(|| format!("cannot write {}", path.display()))?;
            key
        }
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read {}", path.display()));
        }
    };
    if config.database_url().starts_with("postgres") {
        tracing::warn!(
            file = %path.display(),
            "secrets.key is not set: this node seals with a key of its own; nodes sharing the database must share secrets.key"
        );
    }
    Ok(key)
}

/// Where the key made at the first start is kept.
pub fn secret_key_path(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("secret.key")
}

/// Create `path` with `contents`, readable and writable by the owner only.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// The event bus and ephemeral state: Redis when `redis.url` is set (it must
/// answer at start; later outages only degrade real time), in process
/// otherwise.
pub async fn open_realtime(config: &Config) -> anyhow::Result<Realtime> {
    let local = Arc::new(MemoryState::new());
    let Some(url) = &config.redis.url else {
        return Ok(Realtime {
            bus: Arc::new(MemoryBus::new()),
            state: local.clone(),
            fallback_limiter: local,
        });
    };
    let mut options = RedisOptions::new(url);
    options.prefix = config.redis.key_prefix.clone();
    let state = RedisState::connect(&options)
        .await
        .context("cannot reach redis.url")?;
    let bus = RedisBus::connect(&options)
        .await
        .context("cannot subscribe to the event bus at redis.url")?;
    Ok(Realtime {
        bus: Arc::new(bus),
        state: Arc::new(state),
        fallback_limiter: local,
    })
}

/// The configured way out for mail: an SMTP relay, or the outbox directory.
pub fn open_mailer(config: &Config) -> anyhow::Result<Arc<dyn confab_core::ports::Mailer>> {
    let from = confab_mail::sender(&config.mail.from)?;
    Ok(match &config.mail.smtp_url {
        Some(url) => Arc::new(confab_mail::SmtpMailer::new(
            url,
            from,
            Duration::from_secs(10),
        )?),
        None => Arc::new(confab_mail::DirectoryMailer::new(
            config.data_dir.join("outbox"),
            from,
        )?),
    })
}

/// The stores and services a command (not `serve`) works with: the
/// configured database and real-time backends, and `server.public_url` for
/// the links it prints. Close the stores when done.
pub async fn command_services(
    config: &Config,
) -> anyhow::Result<(Stores, confab_service::Services)> {
    let stores = open_stores(config).await?;
    let realtime = open_realtime(config).await?;
    let policy = confab_service::Policy {
        public_url: config.server.public_url.clone(),
        ..confab_service::Policy::default()
    };
    let services = confab_service::Services::new(stores.clone(), realtime, policy);
    Ok((stores, services))
}

/// Open (and migrate) the configured database.
pub async fn open_stores(config: &Config) -> anyhow::Result<Stores> {
    check_supported(config)?;
    prepare_data_dir(&config.data_dir)?;
    let url = config.database_url();
    let timeout = Duration::from_secs(config.database.connect_timeout_secs.max(1));
    if url.starts_with("sqlite:") {
        let mut options = SqliteOptions::new(url);
        options.readers = config.database.max_connections;
        options.timeout = timeout;
        let store = SqliteStore::open(&options).await?;
        Ok(Stores::new(Arc::new(store)))
    } else if is_postgres(&url) {
        let mut options = PostgresOptions::new(url);
        options.max_connections = config.database.max_connections;
        options.timeout = timeout;
        options.statement_timeout = Duration::from_secs(config.database.statement_timeout_secs);
        options.lock_timeout = Duration::from_secs(config.database.lock_timeout_secs);
        let store = PostgresStore::open(&options).await?;
        Ok(Stores::new(Arc::new(store)))
    } else {
        bail!("database.url must start with sqlite:// or postgres://")
    }
}

/// The blob store of `files.backend`, which must answer at start.
pub async fn open_blobs(config: &Config) -> anyhow::Result<Arc<dyn confab_core::blobs::BlobStore>> {
    let blobs = confab_files::open_blob_store(&config.files, &config.data_dir)
        .map_err(|e| anyhow::anyhow!("files: {e}"))?;
    // A read of a key that is never written proves the store answers.
    confab_core::blobs::BlobStore::size(&blobs, "confab-start-check")
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "files.backend {:?} does not answer: {e}",
                config.files.backend
            )
        })?;
    Ok(Arc::new(blobs))
}

/// The upload rules of `files.*`.
pub fn file_policy(config: &Config) -> confab_service::FilePolicy {
    let files = &config.files;
    confab_service::FilePolicy {
        max_upload_bytes: files.max_upload_bytes,
        user_quota_bytes: files.user_quota_bytes,
        allowed_types: files.allowed_types.clone(),
        denied_types: files.denied_types.clone(),
        upload_ttl: std::time::Duration::from_secs(files.upload_ttl_secs.max(1)),
        infrequent_after: days(files.infrequent_after_days),
        archive_after: days(files.archive_after_days),
    }
}

/// A number of days from configuration; 0 means never.
fn days(days: u32) -> Option<std::time::Duration> {
    (days > 0).then(|| std::time::Duration::from_secs(u64::from(days) * 86_400))
}

/// The virus scanner of `files.clamd_url`, which must answer at start.
pub async fn open_scanner(
    config: &Config,
) -> anyhow::Result<Option<Arc<dyn confab_core::media::VirusScanner>>> {
    let Some(url) = config.files.clamd_url.as_deref() else {
        return Ok(None);
    };
    let clamd = confab_files::Clamd::new(url);
    clamd
        .ping()
        .await
        .map_err(|e| anyhow::anyhow!("files.clamd_url does not answer: {e}"))?;
    Ok(Some(Arc::new(clamd)))
}

/// The database engine `database.url` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseKind {
    pub fn of(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if is_postgres(url) {
            Ok(Self::Postgres)
        } else {
            bail!("database.url must start with sqlite:// or postgres://")
        }
    }

    /// `sqlite` or `postgres`, as the stores name themselves.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }

    /// The latest schema version this build migrates to.
    pub fn latest_schema_version(self) -> i64 {
        match self {
            Self::Sqlite => confab_store_sqlite::backup::latest_schema_version(),
            Self::Postgres => confab_store_postgres::backup::latest_schema_version(),
        }
    }

    /// The latest migration applied to the database, without migrating
    /// it; `None` when it has none.
    pub async fn schema_version(self, url: &str) -> anyhow::Result<Option<i64>> {
        Ok(match self {
            Self::Sqlite => confab_store_sqlite::inspect::schema_version(url).await?,
            Self::Postgres => confab_store_postgres::inspect::schema_version(url).await?,
        })
    }

    /// Copy the database consistently into the new file `dest` (a SQLite
    /// file, or a `pg_dump` archive) while it is in use; what the copy holds.
    pub async fn snapshot(self, url: &str, dest: &Path) -> anyhow::Result<Census> {
        Ok(match self {
            Self::Sqlite => confab_store_sqlite::backup::snapshot(url, dest).await?,
            Self::Postgres => confab_store_postgres::backup::snapshot(url, dest).await?,
        })
    }

    /// The schema version and rows of each table of the database.
    pub async fn census(self, url: &str) -> anyhow::Result<Census> {
        Ok(match self {
            Self::Sqlite => confab_store_sqlite::backup::census(url).await?,
            Self::Postgres => confab_store_postgres::backup::census(url).await?,
        })
    }

    /// Whether the database holds any table.
    pub async fn holds_data(self, url: &str) -> anyhow::Result<bool> {
        Ok(match self {
            Self::Sqlite => confab_store_sqlite::backup::holds_data(url).await?,
            Self::Postgres => confab_store_postgres::backup::holds_data(url).await?,
        })
    }

    /// The database file, for a database that is one.
    pub fn database_file(self, url: &str) -> anyhow::Result<Option<std::path::PathBuf>> {
        Ok(match self {
            Self::Sqlite => Some(confab_store_sqlite::backup::database_path(url)?),
            Self::Postgres => None,
        })
    }

    /// Put a copy made by [`Self::snapshot`] in place of the database
    /// (`clear`: whatever it holds goes).
    pub async fn restore(self, url: &str, copy: &Path, clear: bool) -> anyhow::Result<()> {
        match self {
            Self::Sqlite => confab_store_sqlite::backup::restore(url, copy)?,
            Self::Postgres => confab_store_postgres::backup::restore(url, copy, clear).await?,
        }
        Ok(())
    }
}
