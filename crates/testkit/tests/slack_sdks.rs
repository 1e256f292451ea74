//! Slack's own SDKs drive Confab's Web API: the scripts under `sdk/` run
//! against a server started here, with its address and tokens in their
//! environment. The Python checks run when `CONFAB_TEST_SLACK_PYTHON` names
//! a Python that has `slack_sdk`; the Node checks when
//! `CONFAB_TEST_SLACK_NODE_MODULES` names a `node_modules` folder holding
//! `@slack/web-api`. Either fails if its script cannot be run.
#![cfg_attr(
    not(all(confab_slack_python, confab_slack_node)),
    allow(dead_code, unused_imports)
)]

use std::sync::Arc;

use confab_service::Policy;
use confab_testkit::app::TestApp;
use confab_testkit::harness::{with_sqlite, with_tantivy_search};
use reqwest::StatusCode;
use serde_json::json;

/// Every scope, by family.
const ALL_SCOPES: &[&str] = &[
    "chat:*",
    "channels:*",
    "groups:*",
    "im:*",
    "mpim:*",
    "users:*",
    "users.profile:*",
    "reactions:*",
    "pins:*",
    "files:*",
    "search:*",
    "team:*",
    "emoji:*",
];

async fn token(app: &TestApp, session: &str, workspace: &str, scopes: &[&str]) -> String {
    let made = app
        .post(
            &format!("/api/v1/workspaces/{workspace}/tokens"),
            Some(session),
            json!({"label": "sdk", "scopes": scopes}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    made.body["secret"].as_str().unwrap().to_owned()
}

/// Run `program script` against a fresh server with a workspace, a bot
/// with every scope (its integration id and signing secret too), a
/// person's token with every scope and session, one with `chat:write`
/// alone and an incoming webhook into the general channel; the script must
/// pass and say so.
async fn run_against_server(
    program: String,
    script: &'static str,
    extra_env: Vec<(String, String)>,
) {
    with_sqlite(|stores| async move {
        with_tantivy_search(|index| async move {
            let policy = Policy {
                messages_per_minute: 40,
                ..Policy::default()
            };
            let app = TestApp::start_searching(stores, policy.clone(), Arc::clone(&index)).await;
            // Upload URLs are built from the public address: this server's own.
            let options = confab_http::HttpOptions {
                public_url: Some(app.base.clone()),
                ..Default::default()
            };
            let app = app.restart(policy, options).await;
            let owner = app.user("sdkowner").await;
            let workspace = app.workspace(&owner, "SDK").await;
            let installed = app
                .post(
                    &format!("/api/v1/workspaces/{workspace}/integrations"),
                    Some(&owner),
                    json!({"type": "bot", "name": "SDK bot", "scopes": ALL_SCOPES}),
                )
                .await;
            assert_eq!(installed.status, StatusCode::CREATED, "{installed:?}");
            let bot = installed.body["token"].as_str().unwrap().to_owned();
            let signing_secret = installed.body["signing_secret"]
                .as_str()
                .unwrap()
                .to_owned();
            let integration = installed.body["integration"]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            let person = token(&app, &owner, &workspace, ALL_SCOPES).await;
            let narrow = token(&app, &owner, &workspace, &["chat:write"]).await;
            let general = app.general_channel(&owner, &workspace).await;
            let hook = app
                .post(
                    &format!("/api/v1/workspaces/{workspace}/integrations"),
                    Some(&owner),
                    json!({"type": "incoming_webhook", "name": "SDK hook", "channel_id": general}),
                )
                .await;
            assert_eq!(hook.status, StatusCode::CREATED, "{hook:?}");
            let hook_url = hook.body["url"].as_str().unwrap().to_owned();
            let mut command = std::process::Command::new(&program);
            command
                .arg(script)
                .env("CONFAB_API", format!("{}/api/", app.base))
                .env("CONFAB_BOT_TOKEN", &bot)
                .env("CONFAB_USER_TOKEN", &person)
                .env("CONFAB_NARROW_TOKEN", &narrow)
                .env("CONFAB_OWNER_EMAIL", "sdkowner@example.test")
                .env("CONFAB_WEBHOOK_URL", &hook_url)
                .env("CONFAB_REST", format!("{}/api/v1", app.base))
                .env("CONFAB_SESSION", &owner)
                .env("CONFAB_BOT_INTEGRATION", &integration)
                .env("CONFAB_SIGNING_SECRET", &signing_secret)
                .envs(extra_env);
            // The script blocks on its calls while the server answers them.
            let outcome = tokio::task::spawn_blocking(move || command.output())
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("cannot run {program} {script}: {e}"));
            let said = String::from_utf8_lossy(&outcome.stdout);
            let complained = String::from_utf8_lossy(&outcome.stderr);
            assert!(
                outcome.status.success(),
                "the SDK checks of {script} failed:\n{said}\n{complained}"
            );
            assert!(said.contains("every check passed"), "{said}");
            app.stop().await;
        })
        .await
    })
    .await;
}

async fn python_sdk_checks() {
    let python = std::env::var("CONFAB_TEST_SLACK_PYTHON").expect("CONFAB_TEST_SLACK_PYTHON");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/sdk/python_sdk_check.py");
    run_against_server(python, script, Vec::new()).await;
}

async fn node_sdk_checks() {
    let modules =
        std::env::var("CONFAB_TEST_SLACK_NODE_MODULES").expect("CONFAB_TEST_SLACK_NODE_MODULES");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/sdk/node_sdk_check.cjs");
    run_against_server("node".into(), script, vec![("NODE_PATH".into(), modules)]).await;
}

#[cfg(confab_slack_python)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_sdk_runs_unchanged() {
    python_sdk_checks().await;
}

#[cfg(not(confab_slack_python))]
#[tokio::test]
#[ignore = "set CONFAB_TEST_SLACK_PYTHON to a Python with slack_sdk installed"]
async fn the_python_sdk_runs_unchanged() {
    python_sdk_checks().await;
}

#[cfg(confab_slack_node)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_sdk_runs_unchanged() {
    node_sdk_checks().await;
}

#[cfg(not(confab_slack_node))]
#[tokio::test]
#[ignore = "set CONFAB_TEST_SLACK_NODE_MODULES to a node_modules folder with @slack/web-api"]
async fn the_node_sdk_runs_unchanged() {
    node_sdk_checks().await;
}
