//! Slow and numerous clients: headers, bodies and idle keep-alive
//! connections are bounded in time, and connections in number.

use std::time::Duration;

use confab_http::ServeOptions;
use confab_service::Policy;
use confab_testkit::app::{memory_realtime, test_options, TestApp};
use confab_testkit::harness::with_sqlite;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn app_with(stores: confab_core::ports::Stores, limits: ServeOptions) -> TestApp {
    TestApp::start_configured(
        stores,
        memory_realtime(),
        Policy::default(),
        test_options(),
        limits,
    )
    .await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Everything the server sends until it closes the connection, or `None`
/// if it is still open after `wait`.
async fn until_closed(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(wait, stream.read_to_end(&mut received)).await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&received).into_owned())
}

/// A response's status line and headers, read up to the blank line.
async fn response_head(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut received = Vec::new();
    let mut byte = [0u8; 1];
    let read = async {
        while !received.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await.unwrap() == 0 {
                break;
            }
            received.push(byte[0]);
        }
    };
    tokio::time::timeout(wait, read).await.ok()?;
    Some(String::from_utf8_lossy(&received).into_owned())
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

#[tokio::test]
async fn slow_headers_and_idle_keep_alive_connections_are_closed() {
    with_sqlite(|stores| async move {
        let limits = ServeOptions {
            header_read_timeout: Duration::from_secs(1),
            ..ServeOptions::default()
        };
        let app = app_with(stores, limits).await;
        // Headers that never end.
        let mut slow = connect(&app).await;
        slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        let ended = until_closed(&mut slow, Duration::from_secs(5)).await;
        assert!(
            ended.is_some(),
            "a client that never ends its headers is dropped"
        );
        // A keep-alive connection: one request answered, then left idle.
        let mut idle = connect(&app).await;
        idle.write_all(HEALTH).await.unwrap();
        let head = response_head(&mut idle, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let rest = until_closed(&mut idle, Duration::from_secs(5)).await;
        assert!(rest.is_some(), "an idle keep-alive connection is closed");
        // Not before the timeout: a connection is given its second.
        let mut patient = connect(&app).await;
        assert_eq!(
            until_closed(&mut patient, Duration::from_millis(300)).await,
            None
        );
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_body_that_never_arrives_is_refused_within_the_body_timeout() {
    with_sqlite(|stores| async move {
        let limits = ServeOptions {
            request_body_timeout: Duration::from_secs(1),
            ..ServeOptions::default()
        };
        let app = app_with(stores, limits).await;
        let mut slow = connect(&app).await;
        slow.write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
        )
        .await
        .unwrap();
        let started = std::time::Instant::now();
        let head = response_head(&mut slow, Duration::from_secs(5))
            .await
            .expect("the server answers instead of waiting for the body");
        assert!(head.starts_with("HTTP/1.1 408"), "{head}");
        assert!(started.elapsed() < Duration::from_secs(3));
        let mut body = String::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), slow.read_to_string(&mut body)).await;
        assert!(body.contains(r#""code":"timed_out""#), "{body}");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_slot() {
    with_sqlite(|stores| async move {
        let limits = ServeOptions {
            max_connections: 2,
            ..ServeOptions::default()
        };
        let app = app_with(stores, limits).await;
        let first = connect(&app).await;
        let _second = connect(&app).await;
        // Let the server accept both before the third arrives.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut third = connect(&app).await;
        third.write_all(HEALTH).await.unwrap();
        assert_eq!(
            response_head(&mut third, Duration::from_millis(500)).await,
            None,
            "no slot: not served"
        );
        drop(first);
        let head = response_head(&mut third, Duration::from_secs(5))
            .await
            .expect("served once a slot is free");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        app.stop().await;
    })
    .await;
}
