//! Running the `confab` binary from tests: a command with a clean
//! environment.
#![allow(dead_code, unused_imports)] // each test file uses its own part

use std::path::Path;
use std::process::{Command, Output, Stdio};

pub use confab_testkit::process::{terminate, Server};

pub fn confab(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_confab"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CONFAB_DATA_DIR", data_dir)
        .env("CONFAB_SERVER__LISTEN", "127.0.0.1:0")
        .env("CONFAB_LOG__LEVEL", "warn");
    cmd
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run confab")
}

pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Sign `name` up (password `{name}-password`) on the server at `base` and
/// log in; the session token.
pub async fn sign_up(base: &str, name: &str) -> String {
    let http = reqwest::Client::new();
    let answer = http
        .post(format!("{base}/api/v1/auth/signup"))
        .json(&serde_json::json!({
            "email": format!("{name}@example.test"), "username": name,
            "display_name": name, "password": format!("{name}-password")
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let login: serde_json::Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({
            "email": format!("{name}@example.test"), "password": format!("{name}-password")
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    login["token"].as_str().unwrap().to_owned()
}
