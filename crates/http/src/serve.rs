//! Serving connections: HTTP/1.1 under the router, with the limits a server
//! open to the network needs against slow and numerous clients. A client
//! must send its request headers within the header timeout (which also ends
//! a keep-alive connection left idle that long), and its body within the
//! body timeout; at most `max_connections` connections, WebSockets
//! included, are served at once, and further ones wait to be accepted.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// The limits of [`serve`].
#[derive(Clone, Copy, Debug)]
pub struct ServeOptions {
    /// Time to send a request's headers, counted from the connection's
    /// start or the previous response: it also closes idle keep-alive
    /// connections.
    pub header_read_timeout: Duration,
    /// Time to send a request's body.
    pub request_body_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            request_body_timeout: Duration::from_secs(60),
            max_connections: 10_000,
        }
    }
}

/// How often the log repeats that the connection limit is reached.
const FULL_LOG_EVERY: Duration = Duration::from_secs(60);

/// Serve `router` on `listener` until `shutdown` resolves; then stop
/// accepting, let every connection finish its request, and return once all
/// connections (WebSockets included) have closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let router = router.layer(axum::middleware::from_fn_with_state(
        options.request_body_timeout,
        body_timeout,
    ));
    let slots = Arc::new(Semaphore::new(options.max_connections));
    let (stop_tx, stop_rx) = watch::channel(());
    let mut shutdown = pin!(shutdown);
    let mut full_logged: Option<Instant> = None;
    loop {
        let slot = tokio::select! {
            slot = take_slot(&slots, options.max_connections, &mut full_logged) => slot,
            () = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let connection = Connection {
                    router: router.clone(),
                    options,
                    stop: stop_rx.clone(),
                };
                tokio::spawn(connection.run(stream, peer, slot));
            }
            Err(err) => {
                // Out of descriptors or a transient failure: back off rather
                // than spin.
                tracing::warn!(error = %err, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    drop(stop_rx);
    stop_tx.send_replace(());
    // Every slot back: every connection, upgraded ones too, has ended.
    let _ = slots.acquire_many(options.max_connections as u32).await;
}

/// A free connection slot, waiting (and saying so in the log) while all
/// are taken.
async fn take_slot(
    slots: &Arc<Semaphore>,
    limit: usize,
    full_logged: &mut Option<Instant>,
) -> OwnedSemaphorePermit {
    if let Ok(slot) = slots.clone().try_acquire_owned() {
        return slot;
    }
    if full_logged.is_none_or(|at| at.elapsed() >= FULL_LOG_EVERY) {
        tracing::warn!(
            limit,
            "connection limit reached (server.max_connections); new connections wait"
        );
        *full_logged = Some(Instant::now());
    }
    slots
        .clone()
        .acquire_owned()
        .await
        .expect("the connection slots are never closed")
}

/// Middleware: a request body must arrive within the body timeout.
async fn body_timeout(
    axum::extract::State(timeout): axum::extract::State<Duration>,
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let request = request
        .map(|body| axum::body::Body::new(tower_http::timeout::TimeoutBody::new(timeout, body)));
    next.run(request).await
}

/// One accepted connection.
struct Connection {
    router: Router,
    options: ServeOptions,
    stop: watch::Receiver<()>,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, peer: SocketAddr, slot: OwnedSemaphorePermit) {
        let router = self.router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request.map(axum::body::Body::new))
        });
        // The slot goes with the stream, so an upgraded connection holds it
        // until the WebSocket closes.
        let io = TokioIo::new(Slotted {
            stream,
            _slot: slot,
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.options.header_read_timeout);
        let mut connection = pin!(builder.serve_connection(io, service).with_upgrades());
        let mut stopping = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(error = %err, %peer, "connection ended with an error");
                    }
                    return;
                }
                _ = self.stop.changed(), if !stopping => {
                    // Finish the request in flight, take no further one.
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// A connection's stream together with its slot.
struct Slotted {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl AsyncRead for Slotted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Slotted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
