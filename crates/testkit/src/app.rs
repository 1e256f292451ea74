//! `TestApp`: the real HTTP application on `127.0.0.1:0` over a test
//! database, and a small client for it.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use confab_core::ports::{EphemeralState, Realtime, SearchIndex, Stores};
use confab_realtime::{MemoryBus, MemoryState, RedisBus, RedisState};

use crate::realtime_harness::{redis_options, redis_url, test_prefix, RedisProbe};
use confab_service::{Policy, Services};
use futures::FutureExt;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// The public URL test servers are configured with (an allowed origin).
pub const PUBLIC_URL: &str = "https://chat.example.test";

/// The HTTP options test servers run with: [`PUBLIC_URL`] as their address.
pub fn test_options() -> confab_http::HttpOptions {
    confab_http::HttpOptions {
        public_url: Some(PUBLIC_URL.into()),
        ..Default::default()
    }
}

/// Outbound requests of test servers: they may reach receivers the tests
/// start on 127.0.0.1, and nothing else inside.
pub fn test_outbound() -> confab_realtime::HttpOutbound {
    confab_realtime::HttpOutbound::allowing(&["127.0.0.1/32".to_owned()]).expect("a network")
}

/// In-process bus and state.
pub fn memory_realtime() -> Realtime {
    let state = Arc::new(MemoryState::new());
    Realtime {
        bus: Arc::new(MemoryBus::new()),
        state: state.clone(),
        fallback_limiter: state,
    }
}

/// A running server.
pub struct TestApp {
    pub base: String,
    pub stores: Stores,
    /// The Redis keys of this app, when its state lives in Redis.
    pub probe: Option<RedisProbe>,
    /// The ephemeral state of an app served in this process (caches,
    /// counts), whichever backend holds it.
    pub state: Option<Arc<dyn EphemeralState>>,
    pub http: reqwest::Client,
    /// Where the server's mail goes (`.eml` files).
    pub mail_dir: std::path::PathBuf,
    /// Keeps an in-process server's mail directory while the app lives.
    _mail_home: Option<Arc<tempfile::TempDir>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// The sockets of an in-process server, told to go when it stops.
    hub: Option<Arc<confab_service::Hub>>,
    /// Stops the search indexer of an in-process server.
    indexer_stop: Option<tokio::sync::watch::Sender<bool>>,
    /// The search engine the server was given (`None`: an index of its own
    /// on disk for each start).
    search: Option<Arc<dyn SearchIndex>>,
    /// Where the server keeps file bytes, and its rules for uploads.
    pub files: FileBackend,
    /// The services of an in-process server, to run its jobs at once.
    pub services: Option<Services>,
}

/// File storage of a test server: a blob store (by default a temporary
/// directory, kept across restarts) and the upload rules.
#[derive(Clone)]
pub struct FileBackend {
    pub blobs: Arc<dyn confab_core::blobs::BlobStore>,
    pub policy: confab_service::FilePolicy,
    /// Keeps a local store's directory while the app lives.
    pub home: Option<Arc<tempfile::TempDir>>,
    /// Scans uploads, when set.
    pub scanner: Option<Arc<dyn confab_core::media::VirusScanner>>,
}

impl FileBackend {
    /// Blobs in a new temporary directory, with `policy`.
    pub fn local(policy: confab_service::FilePolicy) -> Self {
        let home = tempfile::tempdir().expect("a files directory");
        let blobs = confab_files::ObjectBlobs::local(home.path()).expect("a local blob store");
        Self {
            blobs: Arc::new(blobs),
            policy,
            home: Some(Arc::new(home)),
            scanner: None,
        }
    }

    /// The directory of a local store.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.home.as_deref().map(tempfile::TempDir::path)
    }
}

/// A response: status, headers and JSON body (`Value::Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The error code of an error reply.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// Serve the application over `stores` with the default policy.
    pub async fn start(stores: Stores) -> Self {
        Self::start_with(stores, Policy::default()).await
    }

    /// Serve the application over `stores` with `policy`, with in-process
    /// real time.
    pub async fn start_with(stores: Stores, policy: Policy) -> Self {
        Self::start_full(stores, memory_realtime(), policy).await
    }

    /// Serve the application over `stores` and `realtime` with `policy`.
    pub async fn start_full(stores: Stores, realtime: Realtime, policy: Policy) -> Self {
        let limits = confab_http::ServeOptions::default();
        Self::start_configured(stores, realtime, policy, test_options(), limits).await
    }

    /// Serve the application over `stores` with `policy`, searching with
    /// `search`.
    pub async fn start_searching(
        stores: Stores,
        policy: Policy,
        search: Arc<dyn SearchIndex>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let limits = confab_http::ServeOptions::default();
        let (options, realtime) = (test_options(), memory_realtime());
        let files = FileBackend::local(confab_service::FilePolicy::default());
        Self::start_on(
            listener,
            stores,
            realtime,
            policy,
            options,
            limits,
            Some(search),
            files,
        )
        .await
    }

    /// Serve the application over `stores`, keeping file bytes as `files` says.
    pub async fn start_with_files(stores: Stores, files: FileBackend) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let limits = confab_http::ServeOptions::default();
        let (options, realtime) = (test_options(), memory_realtime());
        Self::start_on(
            listener,
            stores,
            realtime,
            Policy::default(),
            options,
            limits,
            None,
            files,
        )
        .await
    }

    /// Serve the application with HTTP options and connection limits of
    /// the test's own.
    pub async fn start_configured(
        stores: Stores,
        realtime: Realtime,
        policy: Policy,
        options: confab_http::HttpOptions,
        limits: confab_http::ServeOptions,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let files = FileBackend::local(confab_service::FilePolicy::default());
        Self::start_on(
            listener, stores, realtime, policy, options, limits, None, files,
        )
        .await
    }

    /// Stop this server and serve its stores again at the same address,
    /// with fresh in-process real time: what clients see of a restart.
    pub async fn restart(self, policy: Policy, options: confab_http::HttpOptions) -> Self {
        let address: std::net::SocketAddr = self.base["http://".len()..].parse().unwrap();
        let stores = self.stores.clone();
        let search = self.search.clone();
        let files = self.files.clone();
        self.stop().await;
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .expect("the address again");
        let limits = confab_http::ServeOptions::default();
        let realtime = memory_realtime();
        Self::start_on(
            listener, stores, realtime, policy, options, limits, search, files,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn start_on(
        listener: tokio::net::TcpListener,
        stores: Stores,
        realtime: Realtime,
        policy: Policy,
        options: confab_http::HttpOptions,
        limits: confab_http::ServeOptions,
        search: Option<Arc<dyn SearchIndex>>,
        files: FileBackend,
    ) -> Self {
        let state = realtime.state.clone();
        let mail_home = Arc::new(tempfile::tempdir().expect("a mail directory"));
        let mailer = confab_mail::DirectoryMailer::new(
            mail_home.path(),
            confab_mail::sender("Confab <confab@chat.example.test>").unwrap(),
        )
        .expect("a mail directory");
        let index: Arc<dyn SearchIndex> = match &search {
            Some(index) => index.clone(),
            None => Arc::new(
                confab_search::TantivyIndex::open(&mail_home.path().join("search"))
                    .expect("a search index"),
            ),
        };
        let services = Services::new(stores.clone(), realtime, policy)
            .with_mailer(Arc::new(mailer))
            .with_search(index)
            .with_files(files.blobs.clone(), files.policy.clone())
            .with_inspector(Arc::new(confab_files::Inspector))
            .with_outbound(Arc::new(test_outbound()));
        let services = match files.scanner.clone() {
            Some(scanner) => services.with_scanner(scanner),
            None => services,
        };
        let (indexer_stop, indexer_stopped) = tokio::sync::watch::channel(false);
        {
            let services = services.clone();
            let stopped = indexer_stopped.clone();
            tokio::spawn(async move { services.run_indexer(stopped).await });
        }
        {
            let services = services.clone();
            let stopped = indexer_stopped.clone();
            tokio::spawn(async move { services.run_file_processing(stopped).await });
        }
        {
            let services = services.clone();
            let stopped = indexer_stopped.clone();
            tokio::spawn(async move { services.run_event_delivery(stopped).await });
        }
        {
            let services = services.clone();
            tokio::spawn(async move { services.run_file_upkeep(indexer_stopped).await });
        }
        let confab_http::Routers { app, hub, .. } = confab_http::router(services.clone(), options);
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(confab_http::serve(listener, app, limits, async {
            let _ = stopped.await;
        }));
        Self {
            base,
            stores,
            probe: None,
            state: Some(state),
            http: reqwest::Client::new(),
            mail_dir: mail_home.path().to_owned(),
            _mail_home: Some(mail_home),
            stop: Some(stop),
            task: Some(task),
            hub: Some(hub),
            indexer_stop: Some(indexer_stop),
            search,
            files,
            services: Some(services),
        }
    }

    /// A client for a server already running at `base` (another process)
    /// over the same `stores`, its mail going to `outbox` in its data
    /// directory (give that directory to read mail).
    pub fn attach(base: String, stores: Stores) -> Self {
        Self::attach_with_mail(base, stores, std::path::PathBuf::new())
    }

    /// [`Self::attach`], reading mail from `mail_dir`.
    pub fn attach_with_mail(base: String, stores: Stores, mail_dir: std::path::PathBuf) -> Self {
        Self {
            base,
            stores,
            probe: None,
            state: None,
            mail_dir,
            _mail_home: None,
            http: reqwest::Client::new(),
            stop: None,
            task: None,
            hub: None,
            indexer_stop: None,
            search: None,
            files: FileBackend::local(confab_service::FilePolicy::default()),
            services: None,
        }
    }

    /// Stop serving and wait for the server task.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(indexer) = self.indexer_stop.take() {
            let _ = indexer.send(true);
        }
        if let Some(hub) = self.hub.take() {
            // As a node does on shutdown: sockets are told to go (1001).
            hub.shut_down();
        }
        if let Some(task) = self.task.take() {
            // Open WebSockets keep the server waiting: a test that leaves
            // one open is not kept waiting for it.
            let abort = task.abort_handle();
            if tokio::time::timeout(std::time::Duration::from_secs(5), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    /// Wait until the search index holds every change made so far (the
    /// outbox is empty), for at most ten seconds.
    pub async fn indexed(&self) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let backlog = self.stores.search_queue.search_backlog().await.unwrap();
            if backlog == 0 {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{backlog} changes still not indexed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Send a request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::reply(request.send().await.expect("request")).await
    }

    /// Turn a raw response into a [`Reply`].
    pub async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// Sign up `name` (e-mail `{name}@example.test`, password `{name}-password`).
    pub async fn sign_up(&self, name: &str) {
        let reply = self
            .post(
                "/api/v1/auth/signup",
                None,
                json!({
                    "email": format!("{name}@example.test"),
                    "username": name,
                    "display_name": format!("{name} display"),
                    "password": format!("{name}-password"),
                }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{reply:?}");
    }

    /// Log `name` in (no MFA) and return the session token.
    pub async fn log_in(&self, name: &str) -> String {
        let reply = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": format!("{name}@example.test"), "password": format!("{name}-password")}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        reply.body["token"].as_str().expect("token").to_owned()
    }

    /// Sign `name` up and log in.
    pub async fn user(&self, name: &str) -> String {
        self.sign_up(name).await;
        self.log_in(name).await
    }

    /// Create a workspace as `token`'s user; its id.
    pub async fn workspace(&self, token: &str, name: &str) -> String {
        let reply = self
            .post("/api/v1/workspaces", Some(token), json!({"name": name}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply.body["workspace"]["id"].as_str().unwrap().to_owned()
    }

    /// The id of the general channel of `workspace`, as `token` sees it.
    pub async fn general_channel(&self, token: &str, workspace: &str) -> String {
        let channels = self
            .get(&format!("/api/v1/workspaces/{workspace}/channels"), token)
            .await;
        channels.body["channels"]
            .as_array()
            .expect("channels")
            .iter()
            .map(|c| &c["channel"])
            .find(|c| c["is_general"] == json!(true))
            .expect("a general channel")["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Invite by open link with `role` and accept it as `joiner`.
    /// `by` adds the user `user_id` to `channel`; asserts it worked.
    pub async fn add_to_channel(&self, by: &str, channel: &str, user_id: &str) {
        let added = self
            .post(
                &format!("/api/v1/channels/{channel}/members"),
                Some(by),
                json!({ "user_id": user_id }),
            )
            .await;
        assert_eq!(added.status, StatusCode::OK, "{added:?}");
    }

    pub async fn join(&self, owner: &str, workspace: &str, joiner: &str, role: &str) {
        let invite = self
            .post(
                &format!("/api/v1/workspaces/{workspace}/invitations"),
                Some(owner),
                json!({"role": role}),
            )
            .await;
        assert_eq!(invite.status, StatusCode::CREATED, "{invite:?}");
        let token = invite.body["token"].as_str().unwrap();
        let accepted = self
            .post(
                "/api/v1/invitations/accept",
                Some(joiner),
                json!({"token": token}),
            )
            .await;
        assert_eq!(accepted.status, StatusCode::OK, "{accepted:?}");
    }

    /// The mails sent to `address` so far, oldest first (raw messages).
    pub fn mails_to(&self, address: &str) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(&self.mail_dir)
            .map(|dir| dir.map(|e| e.expect("a mail file").path()).collect())
            .unwrap_or_default();
        files.retain(|f| f.extension().is_some_and(|e| e == "eml"));
        files.sort();
        files
            .iter()
            .map(|f| std::fs::read_to_string(f).expect("a mail"))
            .filter(|mail| mail.contains(&format!("To: {address}")))
            .collect()
    }

    /// The code of the latest verification mail to `address`.
    pub fn verification_code(&self, address: &str) -> String {
        self.mailed_code(address, "Subject: Confirm your e-mail address")
            .unwrap_or_else(|| panic!("no verification mail to {address}"))
    }

    /// The code of the latest password reset mail to `address`, if any.
    pub fn reset_code(&self, address: &str) -> Option<String> {
        self.mailed_code(address, "Subject: Reset your Confab password")
    }

    /// The code of the latest mail to `address` with `subject`.
    fn mailed_code(&self, address: &str, subject: &str) -> Option<String> {
        let mails = self.mails_to(address);
        let latest = mails.iter().rfind(|mail| mail.contains(subject))?;
        let code = latest
            .lines()
            .map(str::trim)
            .find(|line| line.len() == 43 && !line.contains(' '))
            .unwrap_or_else(|| panic!("no code in {latest}"));
        Some(code.to_owned())
    }

    /// Confirm the address of `name` (signed up by [`Self::sign_up`]) with
    /// the code mailed to it.
    pub async fn verify_email(&self, name: &str) {
        let code = self.verification_code(&format!("{name}@example.test"));
        let reply = self
            .post("/api/v1/auth/verify-email", None, json!({ "token": code }))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        assert_eq!(reply.body["email_verified"], true);
    }

    /// The user id behind a session token.
    pub async fn user_id(&self, token: &str) -> String {
        self.get("/api/v1/me", token).await.body["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// The current TOTP code for a base32 secret, at an offset of whole steps.
pub fn totp_code(secret: &str, steps_from_now: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .unwrap();
    let totp =
        totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, "t".into()).unwrap();
    let now = chrono::Utc::now().timestamp() + steps_from_now * 30;
    totp.generate(now as u64)
}

/// Run `test` with a [`TestApp`] over a fresh SQLite database.
pub async fn with_app_sqlite<F, Fut>(test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    crate::harness::with_sqlite(|stores| async move { test(TestApp::start(stores).await).await })
        .await;
}

/// Run `test` with a [`TestApp`] over a fresh PostgreSQL database.
pub async fn with_app_postgres<F, Fut>(test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    crate::harness::with_postgres(|stores| async move { test(TestApp::start(stores).await).await })
        .await;
}

/// Run `test` with a [`TestApp`] over a fresh SQLite database keeping
/// files in a local directory, under the files suite's rules.
pub async fn with_app_files_sqlite<F, Fut>(test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    crate::harness::with_sqlite(|stores| async move {
        let files = crate::files_suite::local_test_files();
        test(TestApp::start_with_files(stores, files).await).await
    })
    .await;
}

/// [`with_app_files_sqlite`] over a fresh PostgreSQL database.
pub async fn with_app_files_postgres<F, Fut>(test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    crate::harness::with_postgres(|stores| async move {
        let files = crate::files_suite::local_test_files();
        test(TestApp::start_with_files(stores, files).await).await
    })
    .await;
}

/// [`with_app_files_sqlite`] keeping files in the S3 test bucket, under
/// a prefix of its own that is emptied after, whatever the outcome.
pub async fn with_app_files_s3<F, Fut>(test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    let config = crate::harness::s3_files_config().await;
    let blobs: Arc<dyn confab_core::blobs::BlobStore> =
        Arc::new(confab_files::ObjectBlobs::s3(&config).expect("S3 blob store"));
    let files = FileBackend {
        blobs: blobs.clone(),
        policy: crate::files_suite::test_file_policy(),
        home: None,
        scanner: None,
    };
    crate::harness::with_sqlite(|stores| async move {
        let outcome =
            AssertUnwindSafe(
                async move { test(TestApp::start_with_files(stores, files).await).await },
            )
            .catch_unwind()
            .await;
        crate::harness::remove_all_blobs(&*blobs).await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    })
    .await;
}

/// Run `test` with a [`TestApp`] over a fresh PostgreSQL database that
/// searches with PostgreSQL full-text search.
pub async fn with_app_postgres_search<F, Fut>(test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    crate::harness::with_postgres_at(|stores, url| async move {
        let search = crate::harness::postgres_search(&url).await;
        let policy = Policy::default();
        test(TestApp::start_searching(stores, policy, Arc::new(search)).await).await
    })
    .await;
}

/// Run `test` with a [`TestApp`] over a fresh SQLite database that
/// searches with Elasticsearch (indexes of its own, removed after).
pub async fn with_app_elasticsearch<F, Fut>(test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    crate::harness::with_elasticsearch_over_sqlite(|stores, search| async move {
        test(TestApp::start_searching(stores, Policy::default(), search).await).await
    })
    .await;
}

/// A policy for real-time tests: posting is not rate-limited in practice.
pub fn busy_policy() -> Policy {
    Policy {
        messages_per_minute: 100_000,
        ..Policy::default()
    }
}

/// Run `test` on the embedded shape: SQLite and in-process real time.
pub async fn with_embedded_app<F, Fut>(test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    crate::harness::with_sqlite(|stores| async move {
        test(TestApp::start_with(stores, busy_policy()).await).await
    })
    .await;
}

/// Redis-backed bus and state under `prefix`, at `CONFAB_TEST_REDIS_URL`.
pub async fn redis_realtime(prefix: &str) -> Realtime {
    let options = redis_options(prefix);
    let state = RedisState::connect(&options)
        .await
        .expect("Redis at CONFAB_TEST_REDIS_URL");
    let bus = RedisBus::connect(&options)
        .await
        .expect("Redis at CONFAB_TEST_REDIS_URL");
    Realtime {
        bus: Arc::new(bus),
        state: Arc::new(state),
        fallback_limiter: Arc::new(MemoryState::new()),
    }
}

/// Run `test` on the scale-out shape: PostgreSQL and Redis (its keys under a
/// prefix of the test's own, removed afterwards).
pub async fn with_scaled_app<F, Fut>(test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    let prefix = test_prefix();
    let probe = RedisProbe::connect(&redis_url(), &prefix).await;
    let cleanup = probe.clone();
    let outcome = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(
        crate::harness::with_postgres(|stores| async move {
            let realtime = redis_realtime(&prefix).await;
            let mut app = TestApp::start_full(stores, realtime, busy_policy()).await;
            app.probe = Some(probe);
            test(app).await
        }),
    ))
    .await;
    cleanup.clean().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
