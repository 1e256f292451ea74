//! Per-test ephemeral state and buses: in memory, or in Redis under a key
//! prefix of the test's own (from `CONFAB_TEST_REDIS_URL`), removed afterwards
//! also when the test fails.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use confab_core::ports::{EphemeralState, EventBus};
use confab_realtime::{MemoryBus, MemoryState, RedisBus, RedisOptions, RedisState};
use futures::FutureExt;
use redis::AsyncCommands;

/// Options for the test Redis under `prefix`. Tests wait longer for a reply
/// than a node does: on a loaded machine a slow reply is not an outage.
pub fn redis_options(prefix: &str) -> RedisOptions {
    let mut options = RedisOptions::new(redis_url());
    options.prefix = prefix.to_owned();
    options.timeout = std::time::Duration::from_secs(10);
    options
}

/// The variable that points the Redis suites at a server.
pub const REDIS_URL_VAR: &str = "CONFAB_TEST_REDIS_URL";

/// What a realtime conformance case works with. `bus_a` and `bus_b` stand for
/// two nodes; `redis` is set when the state lives in Redis, to look at the
/// keys themselves.
pub struct RealtimeFixture {
    pub state: Arc<dyn EphemeralState>,
    pub bus_a: Arc<dyn EventBus>,
    pub bus_b: Arc<dyn EventBus>,
    pub redis: Option<RedisProbe>,
}

/// Direct access to the keys of one test.
#[derive(Clone)]
pub struct RedisProbe {
    conn: redis::aio::MultiplexedConnection,
    pub prefix: String,
}

impl RedisProbe {
    /// Connect to `url` for keys under `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> Self {
        let client = redis::Client::open(url).expect("redis url");
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| panic!("cannot reach Redis at {REDIS_URL_VAR}: {e}"));
        Self {
            conn,
            prefix: prefix.to_owned(),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// Seconds to live of `key`: -2 if missing, -1 if it has none.
    pub async fn ttl(&self, key: &str) -> i64 {
        self.conn.clone().ttl(self.key(key)).await.expect("TTL")
    }

    pub async fn get(&self, key: &str) -> Option<String> {
        self.conn.clone().get(self.key(key)).await.expect("GET")
    }

    /// The value of `key` as JSON.
    pub async fn get_json(&self, key: &str) -> serde_json::Value {
        let text = self
            .get(key)
            .await
            .unwrap_or_else(|| panic!("{key} is missing"));
        serde_json::from_str(&text).expect("a JSON value")
    }

    pub async fn list(&self, key: &str) -> Vec<String> {
        self.conn
            .clone()
            .lrange(self.key(key), 0, -1)
            .await
            .expect("LRANGE")
    }

    pub async fn hash(&self, key: &str) -> std::collections::HashMap<String, String> {
        self.conn
            .clone()
            .hgetall(self.key(key))
            .await
            .expect("HGETALL")
    }

    pub async fn key_type(&self, key: &str) -> String {
        redis::cmd("TYPE")
            .arg(self.key(key))
            .query_async(&mut self.conn.clone())
            .await
            .expect("TYPE")
    }

    /// Every key of the test, without the prefix.
    pub async fn keys(&self) -> Vec<String> {
        let mut conn = self.conn.clone();
        let mut keys: Vec<String> = Vec::new();
        let mut iter = conn
            .scan_match::<_, String>(format!("{}*", self.prefix))
            .await
            .expect("SCAN");
        while let Some(key) = futures::StreamExt::next(&mut iter).await {
            keys.push(key.expect("SCAN"));
        }
        keys.sort();
        keys.into_iter()
            .map(|k| k[self.prefix.len()..].to_owned())
            .collect()
    }

    /// Remove every key of the test.
    pub async fn clean(&self) {
        let keys = self.keys().await;
        if !keys.is_empty() {
            let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
            let _: () = self.conn.clone().del(full).await.expect("DEL");
        }
    }
}

/// A key prefix no other test uses.
pub fn test_prefix() -> String {
    format!("confab-test:{}:", uuid::Uuid::now_v7().simple())
}

/// The Redis URL of the test run; panics if unset (a configured suite never
/// skips silently).
pub fn redis_url() -> String {
    std::env::var(REDIS_URL_VAR)
        .unwrap_or_else(|_| panic!("{REDIS_URL_VAR} must be set for Redis tests"))
}

fn unreachable_redis<T>(err: confab_core::Error) -> T {
    panic!("cannot reach Redis at {REDIS_URL_VAR}: {err}")
}

/// Run `test` against the in-process implementations.
pub async fn with_memory_realtime<F, Fut>(test: F)
where
    F: FnOnce(RealtimeFixture) -> Fut,
    Fut: Future<Output = ()>,
{
    let bus: Arc<dyn EventBus> = Arc::new(MemoryBus::new());
    test(RealtimeFixture {
        state: Arc::new(MemoryState::new()),
        bus_a: bus.clone(),
        bus_b: bus,
        redis: None,
    })
    .await;
}

/// Run `test` against Redis, under a prefix of its own.
pub async fn with_redis_realtime<F, Fut>(test: F)
where
    F: FnOnce(RealtimeFixture) -> Fut,
    Fut: Future<Output = ()>,
{
    let url = redis_url();
    let prefix = test_prefix();
    let options = redis_options(&prefix);
    let state = RedisState::connect(&options)
        .await
        .unwrap_or_else(unreachable_redis);
    let bus_a = RedisBus::connect(&options)
        .await
        .unwrap_or_else(unreachable_redis);
    let bus_b = RedisBus::connect(&options)
        .await
        .unwrap_or_else(unreachable_redis);
    let probe = RedisProbe::connect(&url, &prefix).await;
    let outcome = AssertUnwindSafe(test(RealtimeFixture {
        state: Arc::new(state),
        bus_a: Arc::new(bus_a),
        bus_b: Arc::new(bus_b),
        redis: Some(probe.clone()),
    }))
    .catch_unwind()
    .await;
    probe.clean().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
