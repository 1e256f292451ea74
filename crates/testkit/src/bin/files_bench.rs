//! File benchmark: upload throughput for 1 MiB and 100 MiB files, the
//! server's memory while it takes one 1 GiB upload, download throughput,
//! and how fast uploaded photos get their thumbnails, against a `confab serve` of its own (SQLite, local files in
//! a temporary directory). Prints figures; asserts nothing.
//!
//! ```text
//! cargo build --release -p confab && \
//! cargo run --release -p confab-testkit --bin files-bench -- \
//!     [--small 200] [--large 3] [--huge-mib 1024] [--clients 4] [--images 40]
//! ```

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use confab_testkit::process::{resident_kib, Server};
use futures::StreamExt;
use serde_json::{json, Value};

const MIB: u64 = 1024 * 1024;
const BOUNDARY: &str = "files-bench-boundary";
/// Size of each piece the client sends.
const PIECE: usize = 256 * 1024;

struct Params {
    small: usize,
    large: usize,
    huge_mib: u64,
    clients: usize,
    images: usize,
}

fn params() -> anyhow::Result<Params> {
    let mut p = Params {
        small: 200,
        large: 3,
        huge_mib: 1024,
        clients: 4,
        images: 40,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().context("a flag needs a value")?;
        match flag.as_str() {
            "--small" => p.small = value.parse()?,
            "--large" => p.large = value.parse()?,
            "--huge-mib" => p.huge_mib = value.parse()?,
            "--clients" => p.clients = value.parse()?,
            "--images" => p.images = value.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(p)
}

/// A multipart body of `size` bytes of file, made as it is sent: the first
/// eight bytes are `seed`, so no two files are the same.
fn body(seed: u64, size: u64) -> reqwest::Body {
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench-{seed}.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{BOUNDARY}--\r\n");
    let pieces = size.div_ceil(PIECE as u64);
    let filler = Bytes::from(vec![0x5a; PIECE]);
    let file = futures::stream::iter(0..pieces).map(move |i| {
        let len = (size - i * PIECE as u64).min(PIECE as u64) as usize;
        let mut piece = filler.slice(..len);
        if i == 0 {
            let mut first = piece.to_vec();
            let n = first.len().min(8);
            first[..n].copy_from_slice(&seed.to_le_bytes()[..n]);
            piece = Bytes::from(first);
        }
        Ok::<Bytes, std::io::Error>(piece)
    });
    let stream = futures::stream::once(async move { Ok(Bytes::from(head)) })
        .chain(file)
        .chain(futures::stream::once(async move { Ok(Bytes::from(tail)) }));
    reqwest::Body::wrap_stream(stream)
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    workspace: String,
}

impl Client {
    async fn upload(&self, seed: u64, size: u64) -> anyhow::Result<String> {
        self.upload_body(body(seed, size), size).await
    }

    async fn upload_body(&self, body: reqwest::Body, size: u64) -> anyhow::Result<String> {
        let response = self
            .http
            .post(format!(
                "{}/api/v1/workspaces/{}/files",
                self.base, self.workspace
            ))
            .bearer_auth(&self.token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let reply: Value = response.json().await.unwrap_or(Value::Null);
        if status != reqwest::StatusCode::CREATED {
            bail!("upload of {size} bytes: {status} {reply}");
        }
        Ok(reply["id"].as_str().context("a file id")?.to_owned())
    }

    async fn download(&self, id: &str) -> anyhow::Result<u64> {
        let response = self
            .http
            .get(format!("{}/api/v1/files/{id}/content", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("download: {}", response.status());
        }
        let mut stream = response.bytes_stream();
        let mut total = 0u64;
        while let Some(chunk) = stream.next().await {
            total += chunk?.len() as u64;
        }
        Ok(total)
    }
}

async fn call(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> anyhow::Result<Value> {
    let mut request = http.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await?;
    let status = response.status();
    let reply: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{status} {reply}");
    }
    Ok(reply)
}

async fn sign_in(base: &str) -> anyhow::Result<Client> {
    let http = reqwest::Client::new();
    call(
        &http,
        format!("{base}/api/v1/auth/signup"),
        None,
        json!({
            "email": "bench@example.test", "username": "bench",
            "display_name": "Bench", "password": "bench-password-1",
        }),
    )
    .await?;
    let login = call(
        &http,
        format!("{base}/api/v1/auth/login"),
        None,
        json!({"email": "bench@example.test", "password": "bench-password-1"}),
    )
    .await?;
    let token = login["token"].as_str().context("a token")?.to_owned();
    let ws = call(
        &http,
        format!("{base}/api/v1/workspaces"),
        Some(&token),
        json!({"name": "Bench"}),
    )
    .await?;
    let workspace = ws["workspace"]["id"]
        .as_str()
        .or(ws["id"].as_str())
        .context("a workspace id")?
        .to_owned();
    Ok(Client {
        http,
        base: base.to_owned(),
        token,
        workspace,
    })
}

/// Upload `count` files of `size` bytes with `clients` at once; MiB/s.
async fn upload_rate(
    client: &Arc<Client>,
    count: usize,
    size: u64,
    clients: usize,
    seed: u64,
) -> anyhow::Result<f64> {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, next) = (client.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count as u64 {
                    return anyhow::Ok(());
                }
                client.upload(seed + i, size).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok((count as u64 * size) as f64 / MIB as f64 / started.elapsed().as_secs_f64())
}

fn confab_binary() -> anyhow::Result<std::path::PathBuf> {
    let here = std::env::current_exe()?;
    let binary = here.with_file_name("confab");
    if !binary.exists() {
        bail!(
            "{} is missing: cargo build --release -p confab first",
            binary.display()
        );
    }
    Ok(binary)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let p = params()?;
    let data = tempfile::tempdir()?;
    let mut cmd = Command::new(confab_binary()?);
    cmd.env("CONFAB_DATA_DIR", data.path())
        .env("CONFAB_SERVER__LISTEN", "127.0.0.1:0")
        .env(
            "CONFAB_FILES__MAX_UPLOAD_BYTES",
            ((p.huge_mib + 1) * MIB).to_string(),
        )
        .env("CONFAB_FILES__USER_QUOTA_BYTES", "0")
        .env("CONFAB_LOG__LEVEL", "warn");
    let server = Server::start(cmd);
    let client = Arc::new(sign_in(&server.base).await?);
    println!(
        "files-bench: SQLite, local files, one server process, {} clients for small files",
        p.clients
    );

    let rate = upload_rate(&client, p.small, MIB, p.clients, 1).await?;
    println!(
        "  1 MiB uploads:   {:>4} files, {rate:8.1} MiB/s ({:.0} files/s)",
        p.small, rate
    );
    let rate = upload_rate(&client, p.large, 100 * MIB, 1, 1_000_000).await?;
    println!(
        "  100 MiB uploads: {:>4} files, {rate:8.1} MiB/s (one at a time)",
        p.large
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = server.resident_kib().context("server memory")?;
    let peak = Arc::new(AtomicU64::new(idle));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling, pid) = (peak.clone(), sampling.clone(), server.child.id());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                if let Some(kib) = resident_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let started = Instant::now();
    let huge = client.upload(2_000_000, p.huge_mib * MIB).await?;
    let upload_secs = started.elapsed().as_secs_f64();
    sampling.store(false, Ordering::Relaxed);
    sampler.join().ok();
    let peak = peak.load(Ordering::Relaxed);
    println!(
        "  {} MiB upload:   {:8.1} MiB/s; server memory idle {:.1} MiB, peak {:.1} MiB, +{:.1} MiB",
        p.huge_mib,
        p.huge_mib as f64 / upload_secs,
        idle as f64 / 1024.0,
        peak as f64 / 1024.0,
        peak.saturating_sub(idle) as f64 / 1024.0
    );
    let started = Instant::now();
    let bytes = client.download(&huge).await?;
    let download_rate = bytes as f64 / MIB as f64 / started.elapsed().as_secs_f64();
    println!("  {} MiB download: {download_rate:8.1} MiB/s", p.huge_mib);
    thumbnail_rate(&client, p.images).await?;
    server.stop();
    Ok(())
}

/// A photo-sized PNG (2000 x 1500) whose pixels depend on `seed`, as a
/// multipart body.
fn image_body(seed: u64) -> (reqwest::Body, u64) {
    let image = image::RgbImage::from_fn(2000, 1500, |x, y| {
        image::Rgb([
            (x as u64 + seed) as u8,
            (y as u64 ^ seed) as u8,
            ((x + y) % 251) as u8,
        ])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("a PNG");
    let mut form = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo-{seed}.png\"\r\n\r\n"
    )
    .into_bytes();
    let size = png.len() as u64;
    form.extend_from_slice(&png);
    form.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    (reqwest::Body::from(form), size)
}

/// Upload `count` photos, then wait until every one has its thumbnails:
/// thumbnails made per second, from the first upload to the last done.
async fn thumbnail_rate(client: &Client, count: usize) -> anyhow::Result<()> {
    let bodies: Vec<(reqwest::Body, u64)> = (0..count as u64).map(image_body).collect();
    let started = Instant::now();
    let mut ids = Vec::new();
    for (body, size) in bodies {
        ids.push(client.upload_body(body, size).await?);
    }
    for id in &ids {
        loop {
            let file: Value = client
                .http
                .get(format!("{}/api/v1/files/{id}", client.base))
                .bearer_auth(&client.token)
                .send()
                .await?
                .json()
                .await?;
            match file["processing_status"].as_str() {
                Some("done") => break,
                Some("failed") => bail!("processing failed: {file}"),
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let made = count * confab_service::THUMBNAIL_SIZES.len();
    println!(
        "  thumbnails:      {count} PNG photos 2000x1500 in {secs:.1} s: {:.1} photos/s, {:.1} thumbnails/s",
        count as f64 / secs,
        made as f64 / secs
    );
    Ok(())
}
