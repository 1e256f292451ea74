//! ClamAV's `clamd` over TCP with its INSTREAM command: the bytes go in
//! length-prefixed chunks, the daemon answers `stream: OK` or
//! `stream: <signature> FOUND`.

use async_trait::async_trait;
use confab_core::blobs::ByteStream;
use confab_core::media::{ScanVerdict, VirusScanner};
use confab_core::{Error, Result};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest chunk sent at once (clamd reads chunks into a buffer).
const CHUNK: usize = 64 * 1024;
/// Longest answer read from clamd.
const MAX_REPLY: u64 = 4096;

/// A `clamd` reachable at a TCP address.
#[derive(Clone, Debug)]
pub struct Clamd {
    address: String,
}

impl Clamd {
    /// `address` as `host:port`, with or without a `tcp://` in front.
    pub fn new(address: &str) -> Self {
        Self {
            address: address.trim_start_matches("tcp://").to_owned(),
        }
    }

    async fn connect(&self) -> Result<TcpStream> {
        TcpStream::connect(&self.address)
            .await
            .map_err(|e| Error::Unavailable(format!("clamd at {}: {e}", self.address)))
    }

    /// Whether the daemon answers `PING` with `PONG`.
    pub async fn ping(&self) -> Result<()> {
        let mut socket = self.connect().await?;
        socket.write_all(b"zPING\0").await.map_err(io)?;
        match read_reply(&mut socket).await?.as_str() {
            "PONG" => Ok(()),
            other => Err(Error::Unavailable(format!(
                "clamd answered {other:?} to PING"
            ))),
        }
    }
}

fn io(err: std::io::Error) -> Error {
    Error::Unavailable(format!("clamd: {err}"))
}

async fn read_reply(socket: &mut TcpStream) -> Result<String> {
    let mut reply = Vec::new();
    socket
        .take(MAX_REPLY)
        .read_to_end(&mut reply)
        .await
        .map_err(io)?;
    let text = String::from_utf8_lossy(&reply);
    Ok(text.trim_end_matches(['\0', '\n']).to_owned())
}

/// The verdict in an INSTREAM answer.
fn verdict(reply: &str) -> Result<ScanVerdict> {
    let body = reply.strip_prefix("stream: ").unwrap_or(reply);
    if body == "OK" {
        return Ok(ScanVerdict::Clean);
    }
    if let Some(name) = body.strip_suffix(" FOUND") {
        return Ok(ScanVerdict::Infected(name.to_owned()));
    }
    Err(Error::Unavailable(format!("clamd could not scan: {reply}")))
}

#[async_trait]
impl VirusScanner for Clamd {
    fn engine(&self) -> &'static str {
        "clamav"
    }

    async fn scan(&self, mut body: ByteStream) -> Result<ScanVerdict> {
        let mut socket = self.connect().await?;
        socket.write_all(b"zINSTREAM\0").await.map_err(io)?;
        while let Some(bytes) = body.next().await {
            for piece in bytes?.chunks(CHUNK) {
                let length = (piece.len() as u32).to_be_bytes();
                // clamd closes the stream when a file passes its
                // StreamMaxLength; its answer says so.
                if socket.write_all(&length).await.is_err()
                    || socket.write_all(piece).await.is_err()
                {
                    return verdict(&read_reply(&mut socket).await?);
                }
            }
        }
        socket.write_all(&0u32.to_be_bytes()).await.map_err(io)?;
        verdict(&read_reply(&mut socket).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read() {
        assert_eq!(verdict("stream: OK").unwrap(), ScanVerdict::Clean);
        assert_eq!(
            verdict("stream: Eicar-Signature FOUND").unwrap(),
            ScanVerdict::Infected("Eicar-Signature".into())
        );
        assert!(verdict("INSTREAM size limit exceeded. ERROR").is_err());
    }
}
