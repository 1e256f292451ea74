//! A TCP proxy on loopback that can cut every connection through it and
//! refuse new ones for a while: to the server behind it, the database went
//! down, then came back.

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Forwards `127.0.0.1:port` to an upstream address until dropped.
pub struct TcpProxy {
    pub port: u16,
    /// `true` while the proxy is cut.
    cut: Arc<watch::Sender<bool>>,
    accepting: JoinHandle<()>,
}

impl TcpProxy {
    /// Listen on a free loopback port, forwarding to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let (cut, _) = watch::channel(false);
        let cut = Arc::new(cut);
        let accepting = tokio::spawn(accept(listener, upstream.to_owned(), cut.clone()));
        Self {
            port,
            cut,
            accepting,
        }
    }

    /// Close every open connection, and close new ones as they arrive.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Forward again.
    pub fn restore(&self) {
        self.cut.send_replace(false);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut.send_replace(true);
        self.accepting.abort();
    }
}

async fn accept(listener: TcpListener, upstream: String, cut: Arc<watch::Sender<bool>>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if *cut.borrow() {
            drop(client); // refused: closed at once
            continue;
        }
        tokio::spawn(forward(client, upstream.clone(), cut.subscribe()));
    }
}

async fn forward(mut client: TcpStream, upstream: String, mut cut: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(&upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cut.wait_for(|cut| *cut) => {}
    }
    // Dropping both ends resets the connection.
}
