//! Headless Chromium for the web client's tests and benchmark:
//! `chromedriver` (named by `CONFAB_TEST_CHROMEDRIVER`) on a free port, in a
//! process group of its own, and browsers started through it (the binary
//! named by `CONFAB_TEST_CHROMIUM`, default `/usr/bin/chromium`).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use confab_http::{HttpOptions, ServeOptions};
use confab_service::Policy;
use confab_testkit::app::{memory_realtime, TestApp};
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

/// `chromedriver`, on a free port, for one test.
pub struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    pub fn start() -> Self {
        let path = std::env::var("CONFAB_TEST_CHROMEDRIVER")
            .expect("CONFAB_TEST_CHROMEDRIVER names chromedriver");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // A process group of its own, so that the browsers it starts end
        // with it even when a failing test never closes them.
        let child = Command::new(&path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {path} (CONFAB_TEST_CHROMEDRIVER): {e}"));
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "{path} did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// A new headless browser of `width` × `height`, dark or light.
    pub async fn browser(&self, width: u32, height: u32, dark: bool) -> Client {
        self.browser_with(width, height, dark, &[]).await
    }

    /// [`Self::browser`] with more command-line switches.
    pub async fn browser_with(
        &self,
        width: u32,
        height: u32,
        dark: bool,
        extra: &[&str],
    ) -> Client {
        let binary =
            std::env::var("CONFAB_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let mut args = vec![
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            format!("--window-size={width},{height}"),
        ];
        if dark {
            args.push("--blink-settings=preferredColorScheme=0".into());
        }
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let capabilities = json!({"goog:chromeOptions": {"binary": binary, "args": args}});
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("chromedriver cannot start the browser: {e}"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every browser it started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// A server the browser may call: its own address is its origin.
pub async fn app(stores: confab_core::ports::Stores, policy: Policy) -> TestApp {
    let options = HttpOptions {
        public_url: None,
        ..HttpOptions::default()
    };
    TestApp::start_configured(
        stores,
        memory_realtime(),
        policy,
        options,
        ServeOptions::default(),
    )
    .await
}
