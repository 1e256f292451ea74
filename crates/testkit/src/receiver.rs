//! A receiver of outbound requests (the Events API's deliveries) started by
//! a test on 127.0.0.1: it answers `url_verification` with its challenge,
//! answers other requests as the test's plan says, and records everything.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

/// How the receiver answers one event.
#[derive(Clone, Debug)]
pub enum Answer {
    /// 200.
    Ok,
    /// This status, at once.
    Status(u16),
    /// 200, after this long.
    Slow(Duration),
    /// 200 with this JSON.
    Json(Value),
}

/// One request received.
#[derive(Clone, Debug)]
pub struct Received {
    /// When it arrived.
    pub at: std::time::Instant,
    pub headers: HashMap<String, String>,
    pub raw: Vec<u8>,
    pub body: Value,
}

struct Inner {
    received: Mutex<Vec<Received>>,
    /// The answers to events, in order; past the end, `Ok`.
    plan: Mutex<Vec<Answer>>,
}

/// The receiver; it stops when dropped.
pub struct Receiver {
    pub url: String,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(inner): State<Arc<Inner>>, headers: HeaderMap, raw: Bytes) -> Response {
    // JSON (events), or a form (slash commands) read as an object.
    let body: Value = serde_json::from_slice(&raw).unwrap_or_else(|_| {
        Value::Object(
            form_urlencoded::parse(&raw)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect(),
        )
    });
    let headers: HashMap<String, String> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    inner.received.lock().unwrap().push(Received {
        at: std::time::Instant::now(),
        headers,
        raw: raw.to_vec(),
        body: body.clone(),
    });
    if body["type"] == "url_verification" {
        return axum::Json(serde_json::json!({"challenge": body["challenge"]})).into_response();
    }
    let answer = {
        let mut plan = inner.plan.lock().unwrap();
        if plan.is_empty() {
            Answer::Ok
        } else {
            plan.remove(0)
        }
    };
    match answer {
        Answer::Ok => StatusCode::OK.into_response(),
        Answer::Status(code) => StatusCode::from_u16(code).unwrap().into_response(),
        Answer::Slow(wait) => {
            tokio::time::sleep(wait).await;
            StatusCode::OK.into_response()
        }
        Answer::Json(value) => axum::Json(value).into_response(),
    }
}

impl Receiver {
    /// Start on a free port of 127.0.0.1, answering events as `plan` says.
    pub async fn start(plan: Vec<Answer>) -> Self {
        let inner = Arc::new(Inner {
            received: Mutex::new(Vec::new()),
            plan: Mutex::new(plan),
        });
        let app = Router::new()
            .route("/events", post(receive))
            .route("/command", post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, inner, task }
    }

    /// The address of its slash command route.
    pub fn command_url(&self) -> String {
        self.url.replace("/events", "/command")
    }

    /// Answer the next requests as `plan` says.
    pub fn plan(&self, plan: Vec<Answer>) {
        *self.inner.plan.lock().unwrap() = plan;
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// The event callbacks received so far.
    pub fn events(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.body["type"] == "event_callback")
            .collect()
    }

    /// Wait until `done` holds of what was received (at most ten seconds).
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let seen = self.received();
            if done(&seen) {
                return seen;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited in vain for {what}; received {:#?}",
                seen.iter().map(|r| &r.body).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
