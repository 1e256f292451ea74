//! Virus scanning against a real ClamAV daemon, which the test starts with
//! a signature of its own (so no signature download is needed) when
//! `CONFAB_TEST_CLAMD` names the `clamd` binary.
#![cfg_attr(not(confab_clamd), allow(dead_code, unused_imports))]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use confab_core::media::{ScanVerdict, VirusScanner};
use confab_files::Clamd;
use confab_testkit::app::TestApp;
use confab_testkit::files_suite::{local_test_files, processed, upload};
use reqwest::StatusCode;
use serde_json::json;

/// The test string the signature matches.
const TEST_VIRUS: &str = "CONFAB-TEST-VIRUS";

/// A `clamd` of the test's own on a free port, ended when dropped.
struct Daemon {
    child: Child,
    address: String,
    _home: tempfile::TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_clamd() -> Daemon {
    let binary = std::env::var("CONFAB_TEST_CLAMD").expect("CONFAB_TEST_CLAMD");
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("db");
    std::fs::create_dir(&db).unwrap();
    let hex: String = TEST_VIRUS.bytes().map(|b| format!("{b:02x}")).collect();
    std::fs::write(
        db.join("confab.ndb"),
        format!("Confab.Test.Signature:0:*:{hex}\n"),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = home.path().join("clamd.conf");
    std::fs::write(
        &config,
        format!(
            "Foreground yes\nDatabaseDirectory {}\nTCPSocket {port}\nTCPAddr 127.0.0.1\nStreamMaxLength 1M\n",
            db.display()
        ),
    )
    .unwrap();
    let child = Command::new(&binary)
        .arg(format!("--config-file={}", config.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary} (CONFAB_TEST_CLAMD): {e}"));
    let daemon = Daemon {
        child,
        address: format!("127.0.0.1:{port}"),
        _home: home,
    };
    let clamd = Clamd::new(&daemon.address);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while clamd.ping().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "clamd did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    daemon
}

fn stream_of(bytes: Vec<u8>) -> confab_core::blobs::ByteStream {
    Box::pin(futures::stream::iter(
        bytes
            .chunks(100_000)
            .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(confab_clamd),
    ignore = "set CONFAB_TEST_CLAMD to the clamd binary to run the ClamAV test"
)]
async fn clamd_finds_the_test_signature_and_infected_files_are_quarantined() {
    let daemon = start_clamd().await;
    let clamd = Clamd::new(&format!("tcp://{}", daemon.address));

    // The protocol: clean, infected across chunk boundaries, too long.
    let clean = clamd.scan(stream_of(b"just words".to_vec())).await.unwrap();
    assert_eq!(clean, ScanVerdict::Clean);
    let mut hidden = vec![b'x'; 150_000];
    hidden.splice(99_990..99_990, TEST_VIRUS.bytes());
    let found = clamd.scan(stream_of(hidden)).await.unwrap();
    assert_eq!(
        found,
        ScanVerdict::Infected("Confab.Test.Signature.UNOFFICIAL".into())
    );
    let too_long = clamd.scan(stream_of(vec![b'y'; 3 << 20])).await;
    assert!(too_long.is_err(), "{too_long:?}");

    // The server: scanned after the upload, quarantined when infected.
    let mut files = local_test_files();
    files.scanner = Some(Arc::new(clamd) as Arc<dyn VirusScanner>);
    confab_testkit::harness::with_sqlite(|stores| async move {
        let app = TestApp::start_with_files(stores, files).await;
        let ann = app.user("ann").await;
        let ws = app.workspace(&ann, "Scanned").await;
        let general = app.general_channel(&ann, &ws).await;
        let good = upload(&app, &ann, &ws, "good.txt", "text/plain", b"harmless").await;
        let bad_body = format!("before {TEST_VIRUS} after");
        let bad = upload(
            &app,
            &ann,
            &ws,
            "bad.txt",
            "text/plain",
            bad_body.as_bytes(),
        )
        .await;
        let good = good.body["id"].as_str().unwrap().to_owned();
        let bad = bad.body["id"].as_str().unwrap().to_owned();
        assert_eq!(
            processed(&app, &ann, &good).await["virus_scan_status"],
            "clean"
        );
        assert_eq!(
            processed(&app, &ann, &bad).await["virus_scan_status"],
            "infected"
        );

        let content = |file: &str| format!("/api/v1/files/{file}/content");
        assert_eq!(app.get(&content(&good), &ann).await.status, StatusCode::OK);
        let refused = app.get(&content(&bad), &ann).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
        assert!(refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Confab.Test.Signature"));
        let shared = app
            .post(
                &format!("/api/v1/channels/{general}/messages"),
                Some(&ann),
                json!({"content": "look", "file_ids": [bad]}),
            )
            .await;
        assert_eq!(shared.status, StatusCode::FORBIDDEN, "{shared:?}");
        let bad_id: confab_core::id::FileId = bad.parse().unwrap();
        let stored = app.stores.files.get_file(bad_id).await.unwrap().unwrap();
        assert_eq!(
            stored.extracted_text, None,
            "an infected file is not opened again"
        );
        app.stop().await;
    })
    .await;
    drop(daemon);
}
