//! Configuration types. Loading (defaults, TOML file, environment) happens in
//! the binary; these types define the names, which are a contract with
//! operators. Unknown keys are rejected so that a typo never goes unnoticed.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The whole configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the embedded database, search index and files live.
    pub data_dir: PathBuf,
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub search: SearchConfig,
    pub files: FilesConfig,
    pub log: LogConfig,
    pub limits: LimitsConfig,
    pub secrets: SecretsConfig,
    pub mail: MailConfig,
    pub integrations: IntegrationsConfig,
    pub metrics: MetricsConfig,
    pub retention: RetentionConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./confab-data"),
            server: ServerConfig::default(),
            database: DatabaseConfig::default(),
            redis: RedisConfig::default(),
            search: SearchConfig::default(),
            files: FilesConfig::default(),
            log: LogConfig::default(),
            limits: LimitsConfig::default(),
            secrets: SecretsConfig::default(),
            mail: MailConfig::default(),
            integrations: IntegrationsConfig::default(),
            metrics: MetricsConfig::default(),
            retention: RetentionConfig::default(),
        }
    }
}

impl Config {
    /// The database URL: the configured one, or a SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("confab.db").display()),
        }
    }
}

/// The HTTP listener.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// The URL users open; defaults to `http://{listen}`.
    pub public_url: Option<String>,
    /// Seconds to wait for open requests and sockets at shutdown.
    pub shutdown_grace_secs: u64,
    /// Reverse proxies (addresses or CIDR blocks) whose `X-Forwarded-For`
    /// and `Forwarded` headers name the client. Empty: the peer address is
    /// the client, and those headers are ignored.
    pub trusted_proxies: Vec<String>,
    /// Seconds a client has to send a request's headers, from the
    /// connection's start or the previous response (so also the longest a
    /// keep-alive connection stays idle).
    pub header_read_timeout_secs: u64,
    /// Seconds a client has to send a request's body.
    pub request_body_timeout_secs: u64,
    /// Connections served at once, WebSockets included; further ones wait.
    pub max_connections: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            shutdown_grace_secs: 10,
            trusted_proxies: Vec::new(),
            header_read_timeout_secs: 30,
            request_body_timeout_secs: 60,
            max_connections: 10_000,
        }
    }
}

/// The primary database.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://...`; unset means a SQLite file in `data_dir`.
    pub url: Option<String>,
    /// Largest connection pool (PostgreSQL), or reader pool (SQLite).
    pub max_connections: u32,
    /// Seconds to wait for the database at start and for a free connection.
    pub connect_timeout_secs: u64,
    /// PostgreSQL: seconds a statement may run (`statement_timeout`).
    pub statement_timeout_secs: u64,
    /// PostgreSQL: seconds a statement may wait for a lock (`lock_timeout`).
    pub lock_timeout_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: None,
            max_connections: 16,
            connect_timeout_secs: 5,
            statement_timeout_secs: 30,
            lock_timeout_secs: 10,
        }
    }
}

/// Redis, for caches and real-time fan-out across nodes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://...`; unset means in-process state (one node).
    pub url: Option<String>,
    /// Prepended to every key and to the pub/sub channel, so that several
    /// deployments can share one Redis. Every node of one deployment must use
    /// the same prefix.
    pub key_prefix: String,
}

/// The search engine.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// `tantivy` (embedded), `postgres` or `elasticsearch`.
    pub backend: String,
    /// Elasticsearch / OpenSearch: `http://host:9200` (a user and password
    /// in the URL are sent as basic authentication).
    pub url: Option<String>,
    /// Elasticsearch: the start of every index and alias name.
    pub index_prefix: String,
    /// Elasticsearch: primary shards of each index.
    pub shards: u32,
    /// Elasticsearch: replicas of each shard.
    pub replicas: u32,
    /// Elasticsearch: how often new documents become searchable (`5s`).
    pub refresh_interval: String,
    /// Elasticsearch: shared indexes workspaces are spread over.
    pub shared_indexes: u32,
    /// Elasticsearch: a workspace with more members has an index of its own.
    pub dedicated_members: u64,
    /// Elasticsearch: one index per month within each placement.
    pub monthly_indexes: bool,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            backend: "tantivy".into(),
            url: None,
            index_prefix: "confab".into(),
            shards: 5,
            replicas: 1,
            refresh_interval: "5s".into(),
            shared_indexes: 10,
            dedicated_members: 10_000,
            monthly_indexes: false,
        }
    }
}

/// Blob storage for file bytes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesConfig {
    /// `local` (the `files` directory under `data_dir`) or `s3`.
    pub backend: String,
    /// The S3 endpoint (`http://127.0.0.1:9000`); unset means Amazon S3.
    pub url: Option<String>,
    /// The S3 bucket (required with `backend = "s3"`).
    pub bucket: Option<String>,
    /// The S3 region.
    pub region: String,
    /// Keys start with this (`confab/`), so one bucket can hold several servers.
    pub prefix: String,
    /// Address buckets as `{url}/{bucket}` instead of `{bucket}.{host}`.
    pub path_style: bool,
    /// S3 credentials; unset, they come from `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` (and the other usual `AWS_*` variables).
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// The largest file one upload may carry, in bytes.
    pub max_upload_bytes: u64,
    /// Bytes of live files one person may keep in one workspace (0: no quota).
    pub user_quota_bytes: u64,
    /// MIME types (sniffed from the bytes) that may be uploaded, as
    /// `type/subtype` or `type/*`; empty allows every type not denied.
    pub allowed_types: Vec<String>,
    /// MIME types refused even when allowed.
    pub denied_types: Vec<String>,
    /// Seconds an unfinished upload may take before its bytes are removed.
    pub upload_ttl_secs: u64,
    /// ClamAV's `clamd` (`tcp://host:3310`) to scan every upload with;
    /// unset, files are not scanned (`virus_scan_status = skipped`).
    pub clamd_url: Option<String>,
    /// Days unread after which bytes move to infrequent access (0: never).
    pub infrequent_after_days: u32,
    /// Days unread after which bytes move to the archive (0: never).
    pub archive_after_days: u32,
    /// The S3 storage class of the archive tier. Only classes read
    /// without a restore are accepted (`GLACIER_IR`, the default).
    pub archive_storage_class: String,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            backend: "local".into(),
            url: None,
            bucket: None,
            region: "us-east-1".into(),
            prefix: String::new(),
            path_style: false,
            access_key_id: None,
            secret_access_key: None,
            max_upload_bytes: 1 << 30,
            user_quota_bytes: 10 << 30,
            allowed_types: Vec::new(),
            denied_types: Vec::new(),
            upload_ttl_secs: 86_400,
            clamd_url: None,
            infrequent_after_days: 90,
            archive_after_days: 365,
            archive_storage_class: "GLACIER_IR".into(),
        }
    }
}

/// Logging.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter, e.g. `info` or `confab=debug,info`.
    pub level: String,
    /// `text` or `json`.
    pub format: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: "text".into(),
        }
    }
}

/// Rate limits.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Login attempts per account per minute.
    pub login_attempts_per_account: u64,
    /// Login attempts per client address per minute.
    pub login_attempts_per_ip: u64,
    /// Messages one user may post to one channel per minute.
    pub messages_per_minute: u64,
    /// Sign-ups per client address per hour.
    pub signups_per_ip: u64,
    /// Sign-ups from all addresses together per minute.
    pub signups_per_minute: u64,
    /// Channels one person may create per hour.
    pub channels_per_hour: u64,
    /// Direct and group conversations one person may start per hour.
    pub conversations_per_hour: u64,
    /// Workspaces one person may create per hour.
    pub workspaces_per_hour: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            login_attempts_per_account: 10,
            login_attempts_per_ip: 50,
            messages_per_minute: 120,
            signups_per_ip: 20,
            signups_per_minute: 60,
            channels_per_hour: 20,
            conversations_per_hour: 100,
            workspaces_per_hour: 10,
        }
    }
}

/// Outgoing mail (address verification).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// `smtp://[user:password@]host[:port]` of a mail server to relay
    /// through. Unset: mail is written as `.eml` files into `outbox` in the
    /// data directory.
    pub smtp_url: Option<String>,
    /// The sender of every mail.
    pub from: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: "Confab <confab@localhost>".into(),
        }
    }
}

/// Integrations: where the server may send bots' events.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntegrationsConfig {
    /// Networks inside (loopback, private, link-local) that request URLs may
    /// still reach, as CIDR (`["10.0.5.0/24"]`). Empty: none.
    pub allowed_networks: Vec<String>,
}

/// The key that seals secrets kept at rest (TOTP seeds).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// 32 bytes in base64 (`openssl rand -base64 32`). Unset: the key in
    /// `secret.key` in the data directory, made at the first start. Several
    /// nodes must share one key, so set it on each.
    pub key: Option<String>,
}

/// Prometheus metrics at `/metrics`: on an address of their own, or on the
/// main listener behind a token; neither by default.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve `/metrics` (and nothing else) on this address, without a token:
    /// bind it where only the monitoring system reaches.
    pub listen: Option<SocketAddr>,
    /// Serve `/metrics` on the main listener to requests bearing this token
    /// (`Authorization: Bearer …`).
    pub token: Option<String>,
}

/// The daily retention run (see `confab_core::retention`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// When it runs each day, `HH:MM` in UTC (one node runs it).
    pub run_at: String,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            run_at: "02:00".into(),
        }
    }
}
