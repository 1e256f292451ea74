//! A WebSocket client for the gateway at `/api/v1/ws`, as tests use it.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for an event it expects.
pub const EVENT_WAIT: Duration = Duration::from_secs(10);

/// One open socket.
pub struct WsClient {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// The `hello` the server sent first.
    pub hello: Value,
}

/// How a socket ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// A close frame with this code.
    Closed(u16),
    /// The connection dropped without a close frame.
    Dropped,
}

/// The URL of the gateway of a server at `base` (`http://host:port`).
pub fn gateway_url(base: &str, query: &str) -> String {
    let base = base.replacen("http://", "ws://", 1);
    if query.is_empty() {
        format!("{base}/api/v1/ws")
    } else {
        format!("{base}/api/v1/ws?{query}")
    }
}

impl WsClient {
    /// Connect with a bearer token; panics unless the server says hello.
    pub async fn connect(base: &str, token: &str) -> Self {
        Self::connect_query(base, token, "").await
    }

    /// Connect with a bearer token and a query string (e.g. `cursor=...`).
    pub async fn connect_query(base: &str, token: &str, query: &str) -> Self {
        let headers = [("authorization", format!("Bearer {token}"))];
        Self::try_connect(&gateway_url(base, query), &headers)
            .await
            .unwrap_or_else(|status| panic!("handshake refused with {status}"))
    }

    /// Connect with the given headers; the HTTP status if the handshake is
    /// refused.
    pub async fn try_connect(url: &str, headers: &[(&str, String)]) -> Result<Self, StatusCode> {
        let mut request = url.into_client_request().expect("a gateway URL");
        for (name, value) in headers {
            request.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => {
                let mut client = Self {
                    stream,
                    hello: Value::Null,
                };
                let hello = client.next_json().await;
                assert_eq!(hello["type"], "hello", "{hello}");
                client.hello = hello;
                Ok(client)
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status()),
            Err(other) => panic!("cannot connect to {url}: {other}"),
        }
    }

    /// The next JSON event, whatever it is.
    pub async fn next_json(&mut self) -> Value {
        match tokio::time::timeout(EVENT_WAIT, self.next_text()).await {
            Ok(Some(text)) => serde_json::from_str(&text).expect("events are JSON"),
            Ok(None) => panic!("the socket closed while an event was expected"),
            Err(_) => panic!("no event within {EVENT_WAIT:?}"),
        }
    }

    async fn next_text(&mut self) -> Option<String> {
        loop {
            match self.stream.next().await? {
                Ok(Message::Text(text)) => return Some(text.to_string()),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            }
        }
    }

    /// The next event of type `kind`, skipping others.
    pub async fn expect(&mut self, kind: &str) -> Value {
        self.expect_where(kind, |_| true).await
    }

    /// The next event of type `kind` that satisfies `matches`, skipping others.
    pub async fn expect_where(&mut self, kind: &str, matches: impl Fn(&Value) -> bool) -> Value {
        self.expect_within(EVENT_WAIT, kind, matches).await
    }

    /// Like [`Self::expect_where`], waiting at most `wait`.
    pub async fn expect_within(
        &mut self,
        wait: Duration,
        kind: &str,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let text = match tokio::time::timeout(left, self.next_text()).await {
                Ok(Some(text)) => text,
                Ok(None) => panic!("the socket closed while waiting for {kind}"),
                Err(_) => panic!("no {kind} event within {wait:?}"),
            };
            let event: Value = serde_json::from_str(&text).expect("events are JSON");
            if event["type"] == kind && matches(&event) {
                return event;
            }
        }
    }

    /// Every event up to (and including) the first of type `kind` that
    /// satisfies `matches`: what arrived before a marker.
    pub async fn until(&mut self, kind: &str, matches: impl Fn(&Value) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + EVENT_WAIT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let text = match tokio::time::timeout(left, self.next_text()).await {
                Ok(Some(text)) => text,
                Ok(None) => panic!("the socket closed while waiting for {kind}; saw {seen:?}"),
                Err(_) => panic!("no {kind} event within {EVENT_WAIT:?}; saw {seen:?}"),
            };
            let event: Value = serde_json::from_str(&text).expect("events are JSON");
            let done = event["type"] == kind && matches(&event);
            seen.push(event);
            if done {
                return seen;
            }
        }
    }

    pub async fn send(&mut self, value: Value) {
        self.stream
            .send(Message::Text(value.to_string().into()))
            .await
            .expect("send on the socket");
    }

    /// Read until the server ends the socket.
    pub async fn ended(&mut self) -> Ended {
        let wait = async {
            loop {
                match self.stream.next().await {
                    Some(Ok(Message::Close(Some(frame)))) => {
                        return Ended::Closed(u16::from(frame.code))
                    }
                    Some(Ok(Message::Close(None))) => {
                        return Ended::Closed(u16::from(CloseCode::Status))
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => return Ended::Dropped,
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .expect("the server ended the socket within 30 s")
    }

    /// Close from the client side.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}
