//! `confab backup` and `confab restore`, driven as an operator would: a
//! backup of a server that keeps taking posts, restored elsewhere, holds
//! every message acknowledged before the backup began, its files and its
//! accounts; on SQLite and PostgreSQL.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::{confab, run, stderr_of, Server};
use serde_json::{json, Value};

fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn succeeds(command: &mut Command) -> String {
    let out = run(command);
    assert!(out.status.success(), "{}", stderr_of(&out));
    stdout_of(&out)
}

fn fails(command: &mut Command) -> String {
    let out = run(command);
    assert!(!out.status.success(), "succeeded: {}", stdout_of(&out));
    stderr_of(&out)
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

/// A person with a workspace and its general channel, and a file shared
/// there.
struct Setup {
    token: String,
    channel: String,
    file: String,
}

const FILE_BYTES: &[u8] = b"the quarterly numbers, kept safe";

async fn set_up(base: &str) -> Setup {
    let http = reqwest::Client::new();
    let (status, _) = send(
        http.post(format!("{base}/api/v1/auth/signup"))
            .json(&json!({
                "email": "ops@example.test", "username": "ops",
                "display_name": "Ops", "password": "ops-password-1"
            })),
    )
    .await;
    assert_eq!(status, 202);
    let (status, session) = send(
        http.post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": "ops@example.test", "password": "ops-password-1"})),
    )
    .await;
    assert_eq!(status, 200, "{session}");
    let token = session["token"].as_str().unwrap().to_owned();
    let (status, created) = send(
        http.post(format!("{base}/api/v1/workspaces"))
            .bearer_auth(&token)
            .json(&json!({"name": "Backed up"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let ws = created["workspace"]["id"].as_str().unwrap().to_owned();
    let channel = created["general_channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, planned) = send(
        http.post(format!("{base}/api/v1/workspaces/{ws}/uploads"))
            .bearer_auth(&token)
            .json(&json!({"filename": "numbers.txt", "length": FILE_BYTES.len()})),
    )
    .await;
    assert_eq!(status, 201, "{planned}");
    let sent = http
        .put(format!("{base}{}", planned["upload_url"].as_str().unwrap()))
        .bearer_auth(&token)
        .body(FILE_BYTES)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 201);
    Setup {
        token,
        channel,
        file: planned["file_id"].as_str().unwrap().to_owned(),
    }
}

/// Post to `channel` until `stop`, one client after another; the id of
/// every post acknowledged, in order.
async fn keep_posting(
    base: String,
    token: String,
    channel: String,
    acked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
) {
    let http = reqwest::Client::new();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let (status, posted) = send(
            http.post(format!("{base}/api/v1/channels/{channel}/messages"))
                .bearer_auth(&token)
                .json(&json!({"content": format!("busy message {n}")})),
        )
        .await;
        assert_eq!(status, 201, "{posted}");
        let id = posted["id"].as_str().unwrap().to_owned();
        acked.lock().unwrap().push(id);
    }
}

/// Every message id of `channel`, read page by page.
async fn history_ids(base: &str, token: &str, channel: &str) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/channels/{channel}/messages?limit=200");
        if let Some(before) = &cursor {
            url.push_str(&format!("&before={before}"));
        }
        let (status, page) = send(http.get(url).bearer_auth(token)).await;
        assert_eq!(status, 200, "{page}");
        for message in page["messages"].as_array().unwrap() {
            ids.push(message["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

/// The one backup made under `dir`.
fn the_backup(dir: &Path) -> PathBuf {
    let made: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    made.into_iter().next().unwrap()
}

/// `original` and `restored` are `confab` commands on two installations;
/// `other` a third, empty one.
async fn a_busy_server_is_backed_up_and_restored(
    original: impl Fn() -> Command,
    restored: impl Fn() -> Command,
    other: impl Fn() -> Command,
) {
    let backups = tempfile::tempdir().unwrap();
    let server = Server::start(original());
    let base = server.base.clone();
    let setup = set_up(&base).await;

    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let posting = tokio::spawn(keep_posting(
        base.clone(),
        setup.token.clone(),
        setup.channel.clone(),
        acked.clone(),
        stop.clone(),
    ));
    while acked.lock().unwrap().len() < 30 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let before = acked.lock().unwrap().clone();
    let into = backups.path().to_owned();
    let mut backup = original();
    backup.arg("backup").arg(&into).args(["--keep", "1"]);
    let said = tokio::task::spawn_blocking(move || succeeds(&mut backup))
        .await
        .unwrap();
    let during = acked.lock().unwrap().len() - before.len();
    stop.store(true, Ordering::SeqCst);
    posting.await.unwrap();
    assert!(server.stop().success());
    assert!(said.starts_with("Backed up "), "{said}");
    assert!(said.contains(" and 1 stored files into "), "{said}");
    assert!(during > 0, "the server took posts while the backup ran");
    let made = the_backup(backups.path());
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(made.join("manifest.json")).unwrap())
            .unwrap();
    let messages_in_backup = manifest["database"]["tables"]["messages"].as_u64().unwrap();
    assert!(messages_in_backup >= before.len() as u64, "{manifest}");

    // A damaged backup is refused before anything is touched.
    let damaged = backups.path().join("damaged");
    copy_dir(&made, &damaged);
    let copy = std::fs::read_dir(&damaged)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("database."))
        .unwrap();
    let mut bytes = std::fs::read(&copy).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&copy, bytes).unwrap();
    let refused = fails(other().arg("restore").arg(&damaged));
    assert!(refused.contains("does not match the manifest"), "{refused}");
    let refused = fails(other().arg("restore").arg(backups.path()));
    assert!(refused.contains("is not a Confab backup"), "{refused}");

    let said = succeeds(restored().arg("restore").arg(&made));
    assert!(said.contains("every count matches the backup"), "{said}");
    // Restoring over what is now there needs --force.
    let refused = fails(restored().arg("restore").arg(&made));
    assert!(refused.contains("already holds data"), "{refused}");
    let said = succeeds(restored().arg("restore").arg(&made).arg("--force"));
    assert!(said.contains("every count matches the backup"), "{said}");

    let server = Server::start(restored());
    let base = server.base.clone();
    let found = history_ids(&base, &setup.token, &setup.channel).await;
    let missing: Vec<&String> = before.iter().filter(|id| !found.contains(id)).collect();
    assert!(missing.is_empty(), "lost {missing:?}");
    let http = reqwest::Client::new();
    let download = http
        .get(format!("{base}/api/v1/files/{}/content", setup.file))
        .bearer_auth(&setup.token)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(&download.bytes().await.unwrap()[..], FILE_BYTES);
    // The session made before the backup read the history; the password works too.
    let (status, _) = send(
        http.post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": "ops@example.test", "password": "ops-password-1"})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(server.stop().success());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Posting as fast as one client can, above the default per-minute limit.
fn unlimited(mut command: Command) -> Command {
    command.env("CONFAB_LIMITS__MESSAGES_PER_MINUTE", "1000000");
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_server_is_backed_up_and_restored_on_sqlite() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    a_busy_server_is_backed_up_and_restored(
        || unlimited(confab(dirs[0].path())),
        || confab(dirs[1].path()),
        || confab(dirs[2].path()),
    )
    .await;
    assert!(
        !dirs[2].path().join("confab.db").exists(),
        "a refused restore leaves nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
async fn a_busy_server_is_backed_up_and_restored_on_postgres() {
    use confab_testkit::harness::PgTestDb;
    let dbs = [
        PgTestDb::create().await,
        PgTestDb::create().await,
        PgTestDb::create().await,
    ];
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let on = |i: usize| {
        let mut cmd = confab(dirs[i].path());
        cmd.env("CONFAB_DATABASE__URL", &dbs[i].url);
        cmd
    };
    a_busy_server_is_backed_up_and_restored(|| unlimited(on(0)), || on(1), || on(2)).await;
    let third = sqlx::PgPool::connect(&dbs[2].url).await.unwrap();
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            .fetch_one(&third)
            .await
            .unwrap();
    third.close().await;
    assert_eq!(tables, 0, "a refused restore leaves nothing");
    for db in dbs {
        db.drop_database().await;
    }
}
