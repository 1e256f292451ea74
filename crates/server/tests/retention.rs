//! `confab retention run`: threads past their retention move into the
//! archive, which workspace admins read; legal holds and channel policies
//! are obeyed; on SQLite and PostgreSQL.

mod common;

use std::process::Command;
use std::sync::Arc;

use chrono::Duration;
use common::{confab, run, stderr_of, Server};
use confab_core::id::{ChannelId, MessageId, UserId};
use confab_core::model::{MessageType, NewMessage};
use confab_core::ports::Stores;
use serde_json::{json, Value};

async fn call(
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

fn retention_run(command: &mut Command, dry: bool) -> String {
    command.args(["retention", "run"]);
    if dry {
        command.arg("--dry-run");
    }
    let out = run(command);
    assert!(out.status.success(), "{}", stderr_of(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A message dated `days_ago`, written straight into the database (the API
/// dates messages now).
async fn old_message(
    stores: &Stores,
    workspace: &str,
    channel: &str,
    user: &str,
    days_ago: i64,
    thread: Option<MessageId>,
) -> MessageId {
    let message = NewMessage {
        id: MessageId::at(confab_core::time::now() - Duration::days(days_ago)),
        workspace_id: workspace.parse().unwrap(),
        channel_id: channel.parse::<ChannelId>().unwrap(),
        user_id: user.parse::<UserId>().unwrap(),
        content: format!("{days_ago} days old"),
        message_type: MessageType::Text,
        formatted_content: None,
        thread_id: thread,
        broadcast: false,
        client_msg_id: None,
        mentions: Vec::new(),
    };
    stores
        .messages
        .insert_message(&message)
        .await
        .unwrap()
        .message
        .id
}

async fn retention_moves_aged_threads(command: impl Fn() -> Command, stores: Stores) {
    let server = Server::start(command());
    let base = server.base.clone();
    let owner = common::sign_up(&base, "olga").await;
    let member = common::sign_up(&base, "max").await;
    let (_, created) = call(
        reqwest::Method::POST,
        format!("{base}/api/v1/workspaces"),
        &owner,
        Some(json!({"name": "Ageing"})),
    )
    .await;
    let ws = created["workspace"]["id"].as_str().unwrap().to_owned();
    let general = created["general_channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let olga = created["membership"]["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, invitation) = call(
        reqwest::Method::POST,
        format!("{base}/api/v1/workspaces/{ws}/invitations"),
        &owner,
        Some(json!({"role": "member"})),
    )
    .await;
    let (status, _) = call(
        reqwest::Method::POST,
        format!("{base}/api/v1/invitations/accept"),
        &member,
        Some(json!({"token": invitation["token"]})),
    )
    .await;
    assert_eq!(status, 200);

    let aged = old_message(&stores, &ws, &general, &olga, 400, None).await;
    let aged_reply = old_message(&stores, &ws, &general, &olga, 399, Some(aged)).await;
    let kept = old_message(&stores, &ws, &general, &olga, 100, None).await;

    // No policy: everything is kept.
    let said = retention_run(&mut command(), true);
    assert_eq!(
        said,
        "0 messages in 0 channels would move to the archive; nothing was changed.\n"
    );
    let (status, _) = call(
        reqwest::Method::PATCH,
        format!("{base}/api/v1/workspaces/{ws}"),
        &owner,
        Some(json!({"settings": {"retention_days": 365}})),
    )
    .await;
    assert_eq!(status, 200);
    let said = retention_run(&mut command(), true);
    assert!(
        said.starts_with(&format!(
            "workspace {ws} channel {general}: 1 threads, 2 messages before "
        )),
        "{said}"
    );
    assert!(
        said.ends_with(
            "2 messages in 1 channels would move to the archive; nothing was changed.\n"
        ),
        "{said}"
    );
    let said = retention_run(&mut command(), false);
    assert!(
        said.ends_with("2 messages in 1 channels moved to the archive.\n"),
        "{said}"
    );
    assert!(retention_run(&mut command(), false).starts_with("0 messages"));

    let (_, history) = call(
        reqwest::Method::GET,
        format!("{base}/api/v1/channels/{general}/messages?limit=200"),
        &owner,
        None,
    )
    .await;
    let shown: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(shown.contains(&kept.to_string().as_str()), "{history}");
    assert!(!shown.contains(&aged.to_string().as_str()), "{history}");
    let (status, archive) = call(
        reqwest::Method::GET,
        format!("{base}/api/v1/channels/{general}/archived-messages?limit=1"),
        &owner,
        None,
    )
    .await;
    assert_eq!(status, 200, "{archive}");
    assert_eq!(archive["messages"][0]["id"], aged_reply.to_string());
    let cursor = archive["next_cursor"].as_str().unwrap();
    let (_, rest) = call(
        reqwest::Method::GET,
        format!("{base}/api/v1/channels/{general}/archived-messages?limit=1&cursor={cursor}"),
        &owner,
        None,
    )
    .await;
    assert_eq!(rest["messages"][0]["id"], aged.to_string());
    let (status, _) = call(
        reqwest::Method::GET,
        format!("{base}/api/v1/channels/{general}/archived-messages"),
        &member,
        None,
    )
    .await;
    assert_eq!(status, 403, "members do not read the archive");
    let (status, _) = call(
        reqwest::Method::GET,
        format!("{base}/api/v1/channels/{general}/archived-messages?cursor=nonsense"),
        &owner,
        None,
    )
    .await;
    assert_eq!(status, 400);

    // A legal hold stops everything; a channel may keep forever.
    let older = old_message(&stores, &ws, &general, &olga, 500, None).await;
    let (status, _) = call(
        reqwest::Method::PATCH,
        format!("{base}/api/v1/workspaces/{ws}"),
        &owner,
        Some(json!({"settings": {"retention_days": 365, "legal_hold": true}})),
    )
    .await;
    assert_eq!(status, 200);
    let said = retention_run(&mut command(), false);
    assert_eq!(
        said,
        format!("workspace {ws}: under legal hold, left alone\n0 messages in 0 channels moved to the archive.\n")
    );
    let (status, refused) = call(
        reqwest::Method::PATCH,
        format!("{base}/api/v1/workspaces/{ws}"),
        &owner,
        Some(json!({"settings": {"legal_hold": "yes"}})),
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    call(
        reqwest::Method::PATCH,
        format!("{base}/api/v1/workspaces/{ws}"),
        &owner,
        Some(json!({"settings": {"retention_days": 365}})),
    )
    .await;
    let (status, _) = call(
        reqwest::Method::PATCH,
        format!("{base}/api/v1/channels/{general}"),
        &owner,
        Some(json!({"retention_policy": {"keep_forever": true}})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(retention_run(&mut command(), false).starts_with("0 messages"));
    assert!(stores.messages.get_message(older).await.unwrap().is_some());
    assert!(server.stop().success());
    stores.admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_moves_aged_threads_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    // The server makes the database; the test writes old messages into it.
    let _ = run(confab(dir.path()).arg("migrate"));
    let url = format!("sqlite://{}", dir.path().join("confab.db").display());
    let store =
        confab_store_sqlite::SqliteStore::open(&confab_store_sqlite::SqliteOptions::new(url))
            .await
            .unwrap();
    retention_moves_aged_threads(|| confab(dir.path()), Stores::new(Arc::new(store))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
async fn retention_moves_aged_threads_on_postgres() {
    let db = confab_testkit::harness::PgTestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let store = confab_store_postgres::PostgresStore::open(
        &confab_store_postgres::PostgresOptions::new(db.url.clone()),
    )
    .await
    .unwrap();
    retention_moves_aged_threads(
        || {
            let mut cmd = confab(dir.path());
            cmd.env("CONFAB_DATABASE__URL", &db.url);
            cmd
        },
        Stores::new(Arc::new(store)),
    )
    .await;
    db.drop_database().await;
}
