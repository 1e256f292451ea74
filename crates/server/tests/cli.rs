//! The `confab` binary, run as an operator would run it.

mod common;

use std::process::Output;

use common::{confab, run, stderr_of, Server};

#[tokio::test]
async fn serve_answers_health_checks_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh-data-dir");
    let server = Server::start(confab(&data));
    assert!(
        data.join("confab.db").is_file(),
        "data directory created on first start"
    );

    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let ready = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "sqlite");

    let missing = client
        .get(format!("{}/no/such/route", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.headers().contains_key("x-request-id"));
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");

    assert!(server.stop().success(), "clean exit on SIGTERM");
}

#[test]
fn migrate_creates_the_database_and_is_repeatable() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let out = run(confab(dir.path()).arg("migrate"));
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
    }
    assert!(dir.path().join("confab.db").is_file());
}

#[test]
fn print_config_shows_file_and_environment_values() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("confab.toml");
    std::fs::write(
        &file,
        "[server]\npublic_url = \"https://chat.example.test\"\n",
    )
    .unwrap();
    let out = run(confab(dir.path())
        .env("CONFAB_DATABASE__URL", "postgres://db.example.test/confab")
        .arg("--config")
        .arg(&file)
        .arg("print-config"));
    assert!(out.status.success(), "{}", stderr_of(&out));
    let printed: toml::Value = toml::from_str(&String::from_utf8_lossy(&out.stdout)).unwrap();
    assert_eq!(
        printed["server"]["public_url"].as_str(),
        Some("https://chat.example.test")
    );
    assert_eq!(printed["server"]["listen"].as_str(), Some("127.0.0.1:0"));
    assert_eq!(
        printed["database"]["url"].as_str(),
        Some("postgres://db.example.test/confab")
    );
}

/// A bad configuration stops the start with one clear line and no panic.
fn assert_refused(out: &Output, expected: &str) {
    assert!(!out.status.success());
    let err = stderr_of(out);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got: {err}");
    assert!(lines[0].starts_with("confab: error:"), "{err}");
    assert!(
        lines[0].contains(expected),
        "expected {expected:?} in {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn unknown_configuration_keys_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("confab.toml");
    std::fs::write(&file, "[server]\nlisten_on = \"127.0.0.1:1\"\n").unwrap();
    let out = run(confab(dir.path()).arg("--config").arg(&file).arg("serve"));
    assert_refused(&out, "listen_on");
    let out = run(confab(dir.path())
        .env("CONFAB_SERVR__LISTEN", "x")
        .arg("serve"));
    assert_refused(&out, "servr");
}

#[test]
fn an_unreachable_database_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(confab(dir.path())
        .env(
            "CONFAB_DATABASE__URL",
            "postgres://confab:secret@127.0.0.1:1/confab",
        )
        .env("CONFAB_DATABASE__CONNECT_TIMEOUT_SECS", "2")
        .arg("serve"));
    assert_refused(&out, "cannot connect to PostgreSQL");
    assert!(
        !stderr_of(&out).contains("secret"),
        "the password is not printed"
    );
}

#[test]
fn an_unwritable_data_directory_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let out = run(confab(&file.join("data")).arg("serve"));
    assert_refused(&out, "data directory");
}

#[test]
fn bad_connection_settings_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(confab(dir.path())
        .env("CONFAB_SERVER__TRUSTED_PROXIES", "[10.0.0.0/33]")
        .arg("serve"));
    assert_refused(&out, "server.trusted_proxies");
    let out = run(confab(dir.path())
        .env("CONFAB_SERVER__MAX_CONNECTIONS", "0")
        .arg("serve"));
    assert_refused(&out, "server.max_connections must be at least 1");
}

#[test]
fn search_backends_that_cannot_work_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(confab(dir.path())
        .env("CONFAB_SEARCH__BACKEND", "postgres")
        .arg("serve"));
    assert_refused(
        &out,
        "search.backend = \"postgres\" needs database.url to be a PostgreSQL database",
    );
    let out = run(confab(dir.path())
        .env("CONFAB_SEARCH__BACKEND", "solr")
        .arg("serve"));
    assert_refused(&out, "search.backend must be");
    let out = run(confab(dir.path())
        .env("CONFAB_SEARCH__BACKEND", "elasticsearch")
        .arg("serve"));
    assert_refused(&out, "search.backend = \"elasticsearch\" needs search.url");
    let out = run(confab(dir.path())
        .env("CONFAB_SEARCH__BACKEND", "elasticsearch")
        .env("CONFAB_SEARCH__URL", "http://127.0.0.1:1")
        .env("CONFAB_SEARCH__REFRESH_INTERVAL", "5 seconds")
        .arg("serve"));
    assert_refused(&out, "search.refresh_interval must be a duration");
    let out = run(confab(dir.path())
        .env("CONFAB_SEARCH__BACKEND", "elasticsearch")
        .env("CONFAB_SEARCH__URL", "http://elastic:secret@127.0.0.1:1")
        .arg("serve"));
    assert_refused(&out, "cannot reach the search cluster at search.url");
    assert!(
        !stderr_of(&out).contains("secret"),
        "the password is not printed"
    );
}

#[test]
fn a_missing_configuration_file_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(confab(dir.path())
        .arg("--config")
        .arg(dir.path().join("absent.toml"))
        .arg("serve"));
    assert_refused(&out, "does not exist");
}

async fn me_status(client: &reqwest::Client, base: &str, token: &str) -> u16 {
    client
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn sessions_and_revocations_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let client = reqwest::Client::new();
    let server = Server::start(confab(&data));
    let signup = client
        .post(format!("{}/api/v1/auth/signup", server.base))
        .json(&serde_json::json!({
            "email": "rita@example.test", "username": "rita",
            "display_name": "Rita", "password": "rita-password"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 202);
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let login: serde_json::Value = client
            .post(format!("{}/api/v1/auth/login", server.base))
            .json(&serde_json::json!({"email": "rita@example.test", "password": "rita-password"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push(login["token"].as_str().unwrap().to_owned());
    }
    let logout = client
        .post(format!("{}/api/v1/auth/logout", server.base))
        .bearer_auth(&tokens[1])
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    assert!(server.stop().success());

    let server = Server::start(confab(&data));
    assert_eq!(
        me_status(&client, &server.base, &tokens[0]).await,
        200,
        "session kept"
    );
    assert_eq!(
        me_status(&client, &server.base, &tokens[1]).await,
        401,
        "revocation kept"
    );
    assert!(server.stop().success());
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_an_https_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = confab(&dir.path().join("data"));
    cmd.env("CONFAB_SERVER__PUBLIC_URL", "https://chat.example.test");
    let server = Server::start(cmd);
    let login = sign_up_and_log_in(&server.base, "sec").await;
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(server.stop().success());
}

#[tokio::test]
async fn open_sockets_are_closed_with_going_away_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(confab(&dir.path().join("data")));
    let login: serde_json::Value = sign_up_and_log_in(&server.base, "sam")
        .await
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap();
    let mut socket = confab_testkit::ws_client::WsClient::connect(&server.base, token).await;
    let child = server;
    let stopping = std::thread::spawn(move || child.stop());
    assert_eq!(
        socket.ended().await,
        confab_testkit::ws_client::Ended::Closed(1001)
    );
    assert!(stopping.join().unwrap().success());
}

/// Sign `name` up on the server at `base` and log in; the login response.
async fn sign_up_and_log_in(base: &str, name: &str) -> reqwest::Response {
    let client = reqwest::Client::new();
    let signup = client
        .post(format!("{base}/api/v1/auth/signup"))
        .json(&serde_json::json!({
            "email": format!("{name}@example.test"), "username": name,
            "display_name": name, "password": format!("{name}-password")
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 202);
    client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({
            "email": format!("{name}@example.test"), "password": format!("{name}-password")
        }))
        .send()
        .await
        .unwrap()
}

async fn post_json(
    client: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: serde_json::Value,
) -> serde_json::Value {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{response:?}");
    response.json().await.unwrap_or(serde_json::Value::Null)
}

/// TOTP seeds are sealed with a key kept in the data directory (owner-only),
/// so a second factor still works after a restart.
#[tokio::test]
async fn the_second_factor_survives_a_restart() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let client = reqwest::Client::new();
    let server = Server::start(confab(&data));
    let login = sign_up_and_log_in(&server.base, "mona").await;
    let body: serde_json::Value = login.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    let enrolled = post_json(
        &client,
        format!("{}/api/v1/me/mfa/enroll", server.base),
        Some(&token),
        serde_json::json!({"password": "mona-password"}),
    )
    .await;
    let secret = enrolled["secret"].as_str().unwrap().to_owned();
    post_json(
        &client,
        format!("{}/api/v1/me/mfa/confirm", server.base),
        Some(&token),
        serde_json::json!({"code": confab_testkit::app::totp_code(&secret, 0)}),
    )
    .await;
    assert!(server.stop().success());
    let key_file = data.join("secret.key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let server = Server::start(confab(&data));
    let first = post_json(
        &client,
        format!("{}/api/v1/auth/login", server.base),
        None,
        serde_json::json!({"email": "mona@example.test", "password": "mona-password"}),
    )
    .await;
    let second = post_json(
        &client,
        format!("{}/api/v1/auth/login/mfa", server.base),
        None,
        serde_json::json!({
            "challenge_token": first["challenge_token"],
            "code": confab_testkit::app::totp_code(&secret, 1),
        }),
    )
    .await;
    assert!(second["token"].is_string(), "{second}");
    assert!(server.stop().success());
}

#[test]
fn a_bad_secret_key_stops_the_start_and_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(confab(dir.path())
        .env("CONFAB_SECRETS__KEY", "c2hvcnQ=")
        .arg("serve"));
    assert_refused(&out, "secrets.key must be 32 bytes");
    let key = "c2hhcmVkLWJ5LWV2ZXJ5LW5vZGUtb2YtdGhpcy10ZXM=";
    let out = run(confab(dir.path())
        .env("CONFAB_SECRETS__KEY", key)
        .arg("print-config"));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("key = \"(set)\""), "{printed}");
    assert!(!printed.contains(key));
}

/// `confab files tier` lists (`--dry-run`) and then moves bytes unread for
/// long into the archive directory, from which the server still serves them.
#[tokio::test]
async fn files_tier_moves_unread_bytes_to_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let client = reqwest::Client::new();
    let server = Server::start(confab(&data));
    let login = sign_up_and_log_in(&server.base, "tess").await;
    let token = login.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let base = server.base.clone();
    let created = post_json(
        &client,
        format!("{base}/api/v1/workspaces"),
        Some(&token),
        serde_json::json!({"name": "Archive"}),
    )
    .await;
    let ws = created["workspace"]["id"].as_str().unwrap().to_owned();
    let planned = post_json(
        &client,
        format!("{base}/api/v1/workspaces/{ws}/uploads"),
        Some(&token),
        serde_json::json!({"filename": "old.txt", "length": 5}),
    )
    .await;
    let sent = client
        .put(format!("{base}{}", planned["upload_url"].as_str().unwrap()))
        .bearer_auth(&token)
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 201);
    let file = planned["file_id"].as_str().unwrap().to_owned();
    assert!(server.stop().success());

    // Nobody read it since 2020.
    let db = format!("sqlite://{}", data.join("confab.db").display());
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    sqlx::query("UPDATE files SET last_accessed_at = '2020-01-01T00:00:00.000000Z'")
        .execute(&pool)
        .await
        .unwrap();
    let key = sqlx::query_scalar::<_, String>("SELECT storage_key FROM files")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(key.starts_with(&format!("{ws}/")), "{key}");
    let dry = run(confab(&data).args(["files", "tier", "--dry-run"]));
    assert!(dry.status.success(), "{}", stderr_of(&dry));
    let said = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert_eq!(
        said,
        format!(
            "{key}  5 bytes  last used 2020-01-01  STANDARD -> GLACIER\n\
             1 stored files (5 bytes) would move to lower tiers; nothing was changed.\n"
        )
    );
    assert!(data.join("files").join(&key).is_file());

    let moved = run(confab(&data).args(["files", "tier"]));
    assert!(moved.status.success(), "{}", stderr_of(&moved));
    assert!(String::from_utf8_lossy(&moved.stdout)
        .contains("1 stored files (5 bytes) moved to lower tiers."));
    assert!(!data.join("files").join(&key).exists());
    assert!(data.join("files/.archive").join(&key).is_file());

    let server = Server::start(confab(&data));
    let download = client
        .get(format!("{}/api/v1/files/{file}/content", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.text().await.unwrap(), "hello");
    assert!(server.stop().success());
}

/// A SIGTERM sent the moment the server says it listens stops it cleanly:
/// the signal is caught from before that line, never fatal.
#[test]
fn a_signal_right_after_start_stops_the_server_cleanly() {
    for _ in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(confab(dir.path()));
        assert!(server.stop().success());
    }
}
