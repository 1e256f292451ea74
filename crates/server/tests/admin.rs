//! `confab admin`: accounts and workspaces managed from the command line,
//! beside a running server, on SQLite and PostgreSQL.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::{confab, run, stderr_of, Server};
use serde_json::{json, Value};

fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `confab admin ARGS`, which must succeed; what it printed.
fn admin(command: &mut Command, args: &[&str]) -> String {
    let out = run(command.arg("admin").args(args));
    assert!(out.status.success(), "admin {args:?}: {}", stderr_of(&out));
    stdout_of(&out)
}

/// `confab admin ARGS`, which must fail; its one-line error.
fn admin_fails(command: &mut Command, args: &[&str]) -> String {
    let out = run(command.arg("admin").args(args));
    assert!(
        !out.status.success(),
        "admin {args:?} succeeded: {}",
        stdout_of(&out)
    );
    stderr_of(&out)
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut request = http.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

async fn log_in(http: &reqwest::Client, base: &str, email: &str, password: &str) -> (u16, Value) {
    post(
        http,
        format!("{base}/api/v1/auth/login"),
        None,
        json!({"email": email, "password": password}),
    )
    .await
}

async fn whoami(http: &reqwest::Client, base: &str, token: &str) -> u16 {
    http.get(format!("{base}/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn every_admin_command_works(command: impl Fn() -> Command) {
    // The first administrator of a fresh install, with a password made.
    let made = admin(
        &mut command(),
        &[
            "create-user",
            "--username",
            "root",
            "--email",
            "root@example.test",
        ],
    );
    let password = made
        .lines()
        .find_map(|l| l.strip_prefix("Password (shown once): "))
        .unwrap_or_else(|| panic!("no password in {made:?}"))
        .to_owned();
    assert!(
        made.starts_with("Created root <root@example.test>"),
        "{made}"
    );
    // One with a password of its own, from standard input.
    let mut piped = command();
    piped
        .args([
            "admin",
            "create-user",
            "--username",
            "pat",
            "--email",
            "pat@example.test",
        ])
        .args(["--display-name", "Pat", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = piped.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"pat-password-1\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(!stdout_of(&out).contains("Password"), "{}", stdout_of(&out));
    // Taken names and bad input are refused, changing nothing.
    let taken = admin_fails(
        &mut command(),
        &[
            "create-user",
            "--username",
            "root",
            "--email",
            "other@example.test",
        ],
    );
    assert!(taken.contains("username"), "{taken}");
    let bad = admin_fails(
        &mut command(),
        &[
            "create-user",
            "--username",
            "x y",
            "--email",
            "not-an-address",
        ],
    );
    assert!(bad.contains("invalid"), "{bad}");

    let server = Server::start(command());
    let base = server.base.clone();
    let http = reqwest::Client::new();
    let (status, session) = log_in(&http, &base, "root@example.test", &password).await;
    assert_eq!(status, 200, "{session}");
    let root = session["token"].as_str().unwrap().to_owned();
    let (status, workspace) = post(
        &http,
        format!("{base}/api/v1/workspaces"),
        Some(&root),
        json!({"name": "Acme"}),
    )
    .await;
    assert_eq!(status, 201, "{workspace}");
    let ws = workspace["workspace"]["id"].as_str().unwrap().to_owned();

    let listed = admin(&mut command(), &["workspaces"]);
    assert!(listed.contains(&ws) && listed.contains("Acme"), "{listed}");
    assert!(listed.ends_with("1 workspaces.\n"), "{listed}");
    let of_pat = admin(&mut command(), &["workspaces", "--user", "pat"]);
    assert_eq!(of_pat, "0 workspaces.\n");

    // Pat is made an owner once a member; not before.
    let refused = admin_fails(&mut command(), &["make-owner", "pat", "--workspace", &ws]);
    assert!(refused.contains("member not found"), "{refused}");
    let (_, pat_session) = log_in(&http, &base, "pat@example.test", "pat-password-1").await;
    let pat = pat_session["token"].as_str().unwrap().to_owned();
    let (status, invitation) = post(
        &http,
        format!("{base}/api/v1/workspaces/{ws}/invitations"),
        Some(&root),
        json!({"role": "member"}),
    )
    .await;
    assert_eq!(status, 201, "{invitation}");
    let (status, _) = post(
        &http,
        format!("{base}/api/v1/invitations/accept"),
        Some(&pat),
        json!({"token": invitation["token"]}),
    )
    .await;
    assert_eq!(status, 200);
    let promoted = admin(
        &mut command(),
        &["make-owner", "pat@example.test", "--workspace", &ws],
    );
    assert!(promoted.contains("is now an owner"), "{promoted}");
    let members: Value = http
        .get(format!("{base}/api/v1/workspaces/{ws}/members"))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let roles: Vec<&str> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["owner", "owner"], "{members}");

    // Sessions are listed by handle, never by token, and ended.
    let sessions = admin(&mut command(), &["sessions", "root"]);
    assert!(
        sessions.ends_with("1 live sessions of root.\n"),
        "{sessions}"
    );
    assert!(!sessions.contains(&root), "a token is never shown");
    assert_eq!(whoami(&http, &base, &root).await, 200);
    let ended = admin(&mut command(), &["revoke-sessions", "root@example.test"]);
    assert_eq!(ended, "Ended 1 sessions of root.\n");
    assert_eq!(whoami(&http, &base, &root).await, 401);

    // Deactivated: no login, sessions gone; reactivated: back.
    let gone = admin(&mut command(), &["deactivate", "@pat"]);
    assert!(gone.contains("deactivated"), "{gone}");
    assert_eq!(whoami(&http, &base, &pat).await, 401);
    let (status, _) = log_in(&http, &base, "pat@example.test", "pat-password-1").await;
    assert_eq!(status, 401);
    admin(&mut command(), &["reactivate", "pat"]);
    let (status, _) = log_in(&http, &base, "pat@example.test", "pat-password-1").await;
    assert_eq!(status, 200);

    // A reset link made for Pat sets a new password once, and ends her
    // sessions.
    let (_, pat_session) = log_in(&http, &base, "pat@example.test", "pat-password-1").await;
    let pat = pat_session["token"].as_str().unwrap().to_owned();
    let issued = admin(&mut command(), &["reset-password", "pat"]);
    assert!(
        issued.starts_with("A password reset for pat <pat@example.test>, to use once before "),
        "{issued}"
    );
    let token = issued
        .split("/reset-password?token=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no link in {issued}"))
        .to_owned();
    let (status, reset) = post(
        &http,
        format!("{base}/api/v1/auth/password-reset"),
        None,
        json!({"token": token, "password": "pat-password-2"}),
    )
    .await;
    assert_eq!(status, 200, "{reset}");
    assert_eq!(whoami(&http, &base, &pat).await, 401);
    let (status, _) = log_in(&http, &base, "pat@example.test", "pat-password-1").await;
    assert_eq!(status, 401);
    let (status, _) = log_in(&http, &base, "pat@example.test", "pat-password-2").await;
    assert_eq!(status, 200);

    // Unknown people and workspaces are said to be unknown.
    for args in [
        vec!["reset-password", "nobody"],
        vec!["deactivate", "nobody"],
        vec!["sessions", "nobody@example.test"],
        vec!["revoke-sessions", "01a2aaaa-0000-7000-8000-000000000000"],
        vec!["workspaces", "--user", "nobody"],
    ] {
        let said = admin_fails(&mut command(), &args);
        assert!(said.contains("user not found"), "{args:?}: {said}");
    }
    let said = admin_fails(
        &mut command(),
        &[
            "make-owner",
            "pat",
            "--workspace",
            "01a2aaaa-0000-7000-8000-000000000000",
        ],
    );
    assert!(said.contains("workspace not found"), "{said}");
    assert!(server.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_work_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    every_admin_command_works(|| confab(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
async fn admin_commands_work_on_postgres() {
    let db = confab_testkit::harness::PgTestDb::create().await;
    let dir = tempfile::tempdir().unwrap();
    every_admin_command_works(|| {
        let mut cmd = confab(dir.path());
        cmd.env("CONFAB_DATABASE__URL", &db.url);
        cmd
    })
    .await;
}
