//! Per-test databases. Each test gets a fresh SQLite file, or a fresh
//! PostgreSQL database (created from `CONFAB_TEST_POSTGRES_URL` and dropped
//! afterwards, also when the test fails).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use confab_core::blobs::BlobStore;
use confab_core::ports::{SearchIndex, StoreAdmin, Stores};
use confab_store_postgres::{PostgresOptions, PostgresStore};
use confab_store_sqlite::{SqliteOptions, SqliteStore};
use futures::FutureExt;
use sqlx::Connection;

/// The variable that points the PostgreSQL suites at a server.
pub const POSTGRES_URL_VAR: &str = "CONFAB_TEST_POSTGRES_URL";

/// Run `test` against a new, migrated SQLite database in a temporary directory.
pub async fn with_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Stores) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("confab.db").display());
    let store = SqliteStore::open(&SqliteOptions::new(url))
        .await
        .expect("open SQLite store");
    let stores = Stores::new(Arc::new(store));
    test(stores.clone()).await;
    stores.admin.close().await;
}

/// A PostgreSQL database created for one test.
pub struct PgTestDb {
    admin_url: String,
    /// The database's name.
    pub name: String,
    /// A URL that connects to it.
    pub url: String,
}

impl PgTestDb {
    /// Create an empty database on the server named by `CONFAB_TEST_POSTGRES_URL`.
    /// Panics (failing the test) if the variable is unset or the server is
    /// unreachable: a configured suite never skips silently.
    pub async fn create() -> Self {
        let admin_url = std::env::var(POSTGRES_URL_VAR)
            .unwrap_or_else(|_| panic!("{POSTGRES_URL_VAR} must be set for PostgreSQL tests"));
        Self::create_on(&admin_url).await
    }

    /// Create a database, already migrated, on the server named by
    /// `CONFAB_TEST_POSTGRES_URL`, cloned from a shared template.
    pub async fn create_migrated() -> Self {
        let admin_url = std::env::var(POSTGRES_URL_VAR)
            .unwrap_or_else(|_| panic!("{POSTGRES_URL_VAR} must be set for PostgreSQL tests"));
        let template = migrated_template(&admin_url).await;
        Self::create_from(&admin_url, Some(&template)).await
    }

    /// Create an empty database on the server at `admin_url`.
    pub async fn create_on(admin_url: &str) -> Self {
        Self::create_from(admin_url, None).await
    }

    async fn create_from(admin_url: &str, template: Option<&str>) -> Self {
        let admin_url = admin_url.to_owned();
        let name = format!("confab_test_{}", uuid::Uuid::now_v7().simple());
        let mut conn = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {POSTGRES_URL_VAR}: {e}"));
        let sql = match template {
            Some(template) => format!("CREATE DATABASE {name} TEMPLATE {template}"),
            None => format!("CREATE DATABASE {name}"),
        };
        sqlx::query(&sql)
            .execute(&mut conn)
            .await
            .expect("create test database");
        conn.close().await.ok();
        let url = with_database(&admin_url, &name);
        Self {
            admin_url,
            name,
            url,
        }
    }

    /// Drop the database, closing any connection still open to it.
    pub async fn drop_database(self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin_url).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn)
            .await;
            conn.close().await.ok();
        }
    }
}

/// A migrated database that test databases are cloned from, built once per
/// version of the migrations (named after their hash) and shared by every
/// test process; building it is guarded by an advisory lock.
async fn migrated_template(admin_url: &str) -> String {
    static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let mut conn = sqlx::PgConnection::connect(admin_url)
                .await
                .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {POSTGRES_URL_VAR}: {e}"));
            sqlx::query("SELECT pg_advisory_lock(hashtext('confab_test_template'))")
                .execute(&mut conn)
                .await
                .expect("template lock");
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut conn)
                    .await
                    .expect("look up template");
            if !exists {
                build_template(&mut conn, admin_url, &name).await;
            }
            sqlx::query("SELECT pg_advisory_unlock(hashtext('confab_test_template'))")
                .execute(&mut conn)
                .await
                .expect("template unlock");
            conn.close().await.ok();
            name
        })
        .await
        .clone()
}

/// `confab_tmpl_` and a hash of the PostgreSQL migrations.
fn template_name() -> String {
    use sha2::{Digest, Sha256};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../store-postgres/migrations");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("migrations folder")
        .map(|e| e.expect("migration file").path())
        .collect();
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(std::fs::read(file).expect("read migration"));
    }
    format!(
        "confab_tmpl_{}",
        confab_core::id::hex(&hasher.finalize()[..6])
    )
}

async fn build_template(conn: &mut sqlx::PgConnection, admin_url: &str, name: &str) {
    let building = format!("{name}_building");
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT datname::text FROM pg_database WHERE datname LIKE 'confab\\_tmpl\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    for old in stale {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {old} WITH (FORCE)"))
            .execute(&mut *conn)
            .await;
    }
    sqlx::query(&format!("CREATE DATABASE {building}"))
        .execute(&mut *conn)
        .await
        .expect("create template database");
    let store = PostgresStore::open(&PostgresOptions::new(with_database(admin_url, &building)))
        .await
        .expect("migrate template database");
    store.close().await;
    sqlx::query(&format!("ALTER DATABASE {building} RENAME TO {name}"))
        .execute(&mut *conn)
        .await
        .expect("name template database");
}

/// `url` with its database name replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{}", &base[..path_start], database);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Run `test` against a new, migrated PostgreSQL database, dropped afterwards.
pub async fn with_postgres<F, Fut>(test: F)
where
    F: FnOnce(Stores) -> Fut,
    Fut: Future<Output = ()>,
{
    with_postgres_at(|stores, _| test(stores)).await
}

/// [`with_postgres`], also giving the database's URL, for tests that open
/// connections of their own beside the store's.
pub async fn with_postgres_at<F, Fut>(test: F)
where
    F: FnOnce(Stores, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = PgTestDb::create_migrated().await;
    let outcome = AssertUnwindSafe(async {
        let mut options = PostgresOptions::new(db.url.clone());
        options.max_connections = 20;
        let store = PostgresStore::open(&options)
            .await
            .expect("open PostgreSQL store");
        let stores = Stores::new(Arc::new(store));
        test(stores.clone(), db.url.clone()).await;
        stores.admin.close().await;
    })
    .catch_unwind()
    .await;
    db.drop_database().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// PostgreSQL full-text search over the (migrated) database at `url`.
pub async fn postgres_search(url: &str) -> confab_search::PostgresSearch {
    confab_search::PostgresSearch::connect(url, 4, std::time::Duration::from_secs(10))
        .await
        .expect("PostgreSQL search")
}

/// Run `test` on an empty embedded search index.
pub async fn with_tantivy_search<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn SearchIndex>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let index = confab_search::TantivyIndex::open(dir.path()).expect("a search index");
    test(Arc::new(index)).await;
}

/// Run `test` on PostgreSQL full-text search over a fresh database.
pub async fn with_postgres_search<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn SearchIndex>) -> Fut,
    Fut: Future<Output = ()>,
{
    with_postgres_at(|_, url| async move { test(Arc::new(postgres_search(&url).await)).await })
        .await;
}

/// The Elasticsearch or OpenSearch server the suites run against.
pub const ELASTICSEARCH_URL_VAR: &str = "CONFAB_TEST_ELASTICSEARCH_URL";

/// An Elasticsearch index of the server at [`ELASTICSEARCH_URL_VAR`], its
/// names starting with a prefix of its own (one shard, no replica: a test
/// cluster may have one node), sizing workspaces from `stores`. One shared
/// index, so that every test's workspaces meet in it and the workspace
/// filter is what keeps them apart.
pub async fn elasticsearch_search(stores: &Stores) -> (confab_search::ElasticsearchIndex, String) {
    let url = std::env::var(ELASTICSEARCH_URL_VAR)
        .unwrap_or_else(|_| panic!("{ELASTICSEARCH_URL_VAR} must be set for Elasticsearch tests"));
    let prefix = format!("confab_test_{}", uuid::Uuid::now_v7().simple());
    let options = confab_search::ElasticsearchOptions {
        prefix: prefix.clone(),
        shards: 1,
        replicas: 0,
        refresh_interval: "1s".into(),
        shared_indexes: 1,
        ..confab_search::ElasticsearchOptions::new(url.clone())
    };
    let index = confab_search::ElasticsearchIndex::connect(options, stores.workspaces.clone())
        .await
        .unwrap_or_else(|e| panic!("cannot reach Elasticsearch at {ELASTICSEARCH_URL_VAR}: {e}"));
    (index, prefix)
}

/// Remove every index whose name starts with `prefix`, one by one by name
/// (clusters refuse deleting by pattern unless told otherwise).
pub async fn drop_elasticsearch_indexes(prefix: &str) {
    let url = std::env::var(ELASTICSEARCH_URL_VAR).unwrap_or_default();
    let url = url.trim_end_matches('/');
    let http = reqwest::Client::new();
    let listed = http
        .get(format!("{url}/{prefix}-*?allow_no_indices=true"))
        .send()
        .await
        .expect("list test indexes");
    let indexes: serde_json::Value = listed.json().await.unwrap_or_default();
    for name in indexes.as_object().into_iter().flat_map(|m| m.keys()) {
        let gone = http
            .delete(format!("{url}/{name}"))
            .send()
            .await
            .expect("delete a test index");
        assert!(
            gone.status().is_success(),
            "deleting {name}: {}",
            gone.status()
        );
    }
}

/// Run `test` on a fresh SQLite store and an Elasticsearch index over it
/// ([`elasticsearch_search`]), whose indexes are removed after, whatever
/// the outcome.
pub async fn with_elasticsearch_over_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Stores, Arc<dyn SearchIndex>) -> Fut,
    Fut: Future<Output = ()>,
{
    with_sqlite(|stores| async move {
        let (index, prefix) = elasticsearch_search(&stores).await;
        let outcome = AssertUnwindSafe(test(stores, Arc::new(index)))
            .catch_unwind()
            .await;
        drop_elasticsearch_indexes(&prefix).await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    })
    .await;
}

/// Run `test` on Elasticsearch, over indexes of its own, removed after.
pub async fn with_elasticsearch_search<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn SearchIndex>) -> Fut,
    Fut: Future<Output = ()>,
{
    with_elasticsearch_over_sqlite(|_, index| test(index)).await;
}

/// The variable that points the S3 suites at an S3-compatible server.
pub const S3_URL_VAR: &str = "CONFAB_TEST_S3_URL";
/// The bucket the S3 tests share; each test keeps to a prefix of its own.
pub const S3_TEST_BUCKET: &str = "confab-test";

/// Files configuration for the S3 test server under a new prefix, after
/// making sure the test bucket exists (the test server takes unsigned
/// requests; a real one would be set up by its operator).
pub async fn s3_files_config() -> confab_core::config::FilesConfig {
    let url = std::env::var(S3_URL_VAR)
        .unwrap_or_else(|_| panic!("{S3_URL_VAR} must be set for S3 tests"));
    let url = url.trim_end_matches('/').to_owned();
    let made = reqwest::Client::new()
        .put(format!("{url}/{S3_TEST_BUCKET}"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("cannot reach the S3 server at {S3_URL_VAR}: {e}"));
    assert!(
        made.status().is_success() || made.status().as_u16() == 409,
        "creating the test bucket: {}",
        made.status()
    );
    confab_core::config::FilesConfig {
        backend: "s3".into(),
        url: Some(url),
        bucket: Some(S3_TEST_BUCKET.into()),
        prefix: format!("test-{}", uuid::Uuid::now_v7().simple()),
        path_style: true,
        access_key_id: Some("confab-test".into()),
        secret_access_key: Some("confab-test".into()),
        ..confab_core::config::FilesConfig::default()
    }
}

/// Run `test` on blobs in a new temporary directory.
pub async fn with_local_blobs<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn BlobStore>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let blobs = confab_files::ObjectBlobs::local(dir.path()).expect("local blob store");
    test(Arc::new(blobs)).await;
}

/// Run `test` on blobs under a new prefix of the S3 test bucket, removed
/// after, whatever the outcome.
pub async fn with_s3_blobs<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn BlobStore>) -> Fut,
    Fut: Future<Output = ()>,
{
    let blobs: Arc<dyn BlobStore> =
        Arc::new(confab_files::ObjectBlobs::s3(&s3_files_config().await).expect("S3 blob store"));
    let outcome = AssertUnwindSafe(test(blobs.clone())).catch_unwind().await;
    remove_all_blobs(&*blobs).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Delete every blob of a store.
pub async fn remove_all_blobs(blobs: &dyn BlobStore) {
    for key in blobs.list("").await.expect("list blobs") {
        blobs.delete(&key).await.expect("delete a blob");
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
