//! `confab reindex`: the embedded indexes rebuilt from the database, while
//! a server holds them or not; PostgreSQL search rebuilt while servers
//! answer.

mod common;

use std::time::Duration;

use common::{confab, run, stderr_of, Server};
use serde_json::{json, Value};

async fn send(request: reqwest::RequestBuilder) -> Value {
    let answer = request.send().await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    answer.json().await.unwrap_or(Value::Null)
}

/// The contents search finds for `q`, waiting up to ten seconds for `count`.
async fn found(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    ws: &str,
    q: &str,
    count: usize,
) -> Vec<String> {
    let path = format!("search/messages?q={q}&sort=newest");
    searched(http, base, token, ws, &path, count, |r| {
        &r["message"]["content"]
    })
    .await
}

/// The names of the files search finds for `q`, waiting as [`found`].
async fn files_found(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    ws: &str,
    q: &str,
    count: usize,
) -> Vec<String> {
    let path = format!("search/files?q={q}");
    searched(http, base, token, ws, &path, count, |r| &r["file"]["name"]).await
}

/// What `text_of` reads from each result of the search at `path` of the
/// workspace, once there are `count` (or ten seconds passed).
async fn searched(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    ws: &str,
    path: &str,
    count: usize,
    text_of: fn(&Value) -> &Value,
) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let page = send(
            http.get(format!("{base}/api/v1/workspaces/{ws}/{path}"))
                .bearer_auth(token),
        )
        .await;
        let found: Vec<String> = page["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| text_of(r).as_str().unwrap().to_owned())
            .collect();
        if found.len() == count || std::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ann's token and workspace on a fresh server, with "walnut one" and
/// "walnut three" posted (and "walnut two" posted and deleted), found.
async fn walnuts(http: &reqwest::Client, base: &str) -> (String, String) {
    send(
        http.post(format!("{base}/api/v1/auth/signup"))
            .json(&json!({
            "email": "ann@example.test", "username": "ann", "display_name": "Ann",
            "password": "ann-password"})),
    )
    .await;
    let login = send(
        http.post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"email": "ann@example.test", "password": "ann-password"})),
    )
    .await;
    let token = login["token"].as_str().unwrap().to_owned();
    let created = send(
        http.post(format!("{base}/api/v1/workspaces"))
            .bearer_auth(&token)
            .json(&json!({"name": "Reindexed"})),
    )
    .await;
    let ws = created["workspace"]["id"].as_str().unwrap().to_owned();
    let general = created["general_channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut ids = Vec::new();
    for text in ["walnut one", "walnut two", "walnut three"] {
        let posted = send(
            http.post(format!("{base}/api/v1/channels/{general}/messages"))
                .bearer_auth(&token)
                .json(&json!({ "content": text })),
        )
        .await;
        ids.push(posted["id"].as_str().unwrap().to_owned());
    }
    send(
        http.delete(format!("{base}/api/v1/messages/{}", ids[1]))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(
        found(http, base, &token, &ws, "walnut", 2).await,
        ["walnut three", "walnut one"]
    );
    (token, ws)
}

/// Upload `bytes` as `name` in two steps; the file's id.
async fn upload(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    ws: &str,
    name: &str,
    bytes: &[u8],
) -> String {
    let planned = send(
        http.post(format!("{base}/api/v1/workspaces/{ws}/uploads"))
            .bearer_auth(token)
            .json(&json!({ "filename": name, "length": bytes.len() })),
    )
    .await;
    let url = planned["upload_url"].as_str().unwrap();
    let sent = send(
        http.put(format!("{base}{url}"))
            .bearer_auth(token)
            .body(bytes.to_vec()),
    )
    .await;
    sent["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reindex_rebuilds_the_embedded_index_while_served_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let http = reqwest::Client::new();
    let server = Server::start(confab(&data));
    let base = server.base.clone();
    let (token, ws) = walnuts(&http, &base).await;
    upload(&http, &base, &token, &ws, "hazelnut-kept.txt", b"kept").await;
    let dropped = upload(&http, &base, &token, &ws, "hazelnut-dropped.txt", b"gone").await;
    send(
        http.delete(format!("{base}/api/v1/files/{dropped}"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(
        files_found(&http, &base, &token, &ws, "hazelnut", 1).await,
        ["hazelnut-kept.txt"]
    );

    // While the server holds the index, it is rebuilt all the same: the
    // server answers from the old index meanwhile, keeps what changes during
    // the rebuild for the new one, and indexes into the new one after.
    let rebuilding = confab(&data)
        .args(["reindex", "messages"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let general = send(
        http.get(format!("{base}/api/v1/workspaces/{ws}/channels"))
            .bearer_auth(&token),
    )
    .await;
    let general = general["channels"][0]["channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = |text: &'static str| {
        let (http, base, token, general) = (&http, &base, &token, &general);
        async move {
            send(
                http.post(format!("{base}/api/v1/channels/{general}/messages"))
                    .bearer_auth(token)
                    .json(&json!({ "content": text })),
            )
            .await;
        }
    };
    post("walnut four").await;
    let rebuilt = rebuilding.wait_with_output().unwrap();
    assert!(rebuilt.status.success(), "{}", stderr_of(&rebuilt));
    let said = String::from_utf8_lossy(&rebuilt.stdout).into_owned();
    assert!(said.contains("answers from the rebuilt index"), "{said}");
    post("walnut five").await;
    let mut walnuts = Vec::new();
    // Changes that waited for the rebuild follow within 30 s.
    for _ in 0..4 {
        walnuts = found(&http, &base, &token, &ws, "walnut", 4).await;
        if walnuts.len() == 4 {
            break;
        }
    }
    assert_eq!(
        walnuts,
        ["walnut five", "walnut four", "walnut three", "walnut one"]
    );
    assert!(!data.join("search.new").exists());
    assert!(!data.join("search").join(".messages.building").exists());

    // Lost index: rebuilt from the database, without the deleted message.
    assert!(server.stop().success());
    std::fs::remove_dir_all(data.join("search").join("messages")).unwrap();
    let rebuilt = run(confab(&data).args(["reindex", "messages"]));
    assert!(rebuilt.status.success(), "{}", stderr_of(&rebuilt));
    let said = String::from_utf8_lossy(&rebuilt.stdout).into_owned();
    assert!(said.contains("Reindexed 4 messages"), "{said}");
    assert!(!said.contains("files"), "{said}");
    assert!(!data.join("search.new").exists());
    // Files too: the lost files index is rebuilt, without the deleted one.
    std::fs::remove_dir_all(data.join("search").join("files")).unwrap();
    let rebuilt = run(confab(&data).args(["reindex", "files"]));
    assert!(rebuilt.status.success(), "{}", stderr_of(&rebuilt));
    let said = String::from_utf8_lossy(&rebuilt.stdout).into_owned();
    assert!(said.contains("Reindexed 1 files"), "{said}");
    // And people.
    std::fs::remove_dir_all(data.join("search").join("people")).unwrap();
    let rebuilt = run(confab(&data).args(["reindex", "users"]));
    assert!(rebuilt.status.success(), "{}", stderr_of(&rebuilt));
    let said = String::from_utf8_lossy(&rebuilt.stdout).into_owned();
    assert!(said.contains("Reindexed 1 memberships of people"), "{said}");

    let server = Server::start(confab(&data));
    let base = server.base.clone();
    assert_eq!(
        found(&http, &base, &token, &ws, "walnut", 4).await,
        ["walnut five", "walnut four", "walnut three", "walnut one"]
    );
    assert_eq!(
        files_found(&http, &base, &token, &ws, "hazelnut", 1).await,
        ["hazelnut-kept.txt"]
    );
    let people = send(
        http.get(format!("{base}/api/v1/workspaces/{ws}/search/people?q=an"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(people["people"][0]["username"], "ann", "{people}");
    assert!(server.stop().success());
}

/// PostgreSQL search is rebuilt in place while the server goes on
/// answering: lost rows come back, rows of deleted messages go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
async fn postgres_search_is_rebuilt_while_the_server_answers() {
    let db = confab_testkit::harness::PgTestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    let command = || {
        let mut cmd = confab(dir.path());
        cmd.env("CONFAB_DATABASE__URL", &db.url)
            .env("CONFAB_SEARCH__BACKEND", "postgres");
        cmd
    };
    let http = reqwest::Client::new();
    let server = Server::start(command());
    let base = server.base.clone();
    let (token, ws) = walnuts(&http, &base).await;

    // Damage: every row's words lost, a row for the deleted message back.
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE message_search SET words = '''pecan'' ''=pecan'''::tsvector")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO message_search (message_id, created_at, workspace_id, channel_id, user_id, words) \
         SELECT message_id, created_at, workspace_id, channel_id, user_id, '''walnut'' ''=walnut'''::tsvector \
         FROM messages WHERE is_deleted",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_eq!(found(&http, &base, &token, &ws, "pecan", 2).await.len(), 2);

    let rebuilding = command()
        .args(["reindex", "messages"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The server answers meanwhile.
    send(
        http.get(format!(
            "{base}/api/v1/workspaces/{ws}/search/messages?q=walnut"
        ))
        .bearer_auth(&token),
    )
    .await;
    let rebuilt = rebuilding.wait_with_output().unwrap();
    assert!(rebuilt.status.success(), "{}", stderr_of(&rebuilt));
    let said = String::from_utf8_lossy(&rebuilt.stdout).into_owned();
    assert!(said.contains("Reindexed 2 messages"), "{said}");
    assert!(said.contains("Removed 1 rows"), "{said}");
    assert_eq!(
        found(&http, &base, &token, &ws, "walnut", 2).await,
        ["walnut three", "walnut one"]
    );
    assert!(found(&http, &base, &token, &ws, "pecan", 0)
        .await
        .is_empty());
    assert!(server.stop().success());
    db.drop_database().await;
}
