//! The web client in a real browser: Chromium driven over WebDriver
//! (`chromedriver`), against a server started by the test. Runs when
//! `CONFAB_TEST_CHROMEDRIVER` names the driver (and fails when it cannot be
//! started); `CONFAB_TEST_CHROMIUM` names the browser (default
//! `/usr/bin/chromium`). Screenshots go to `CONFAB_TEST_SCREENSHOTS`
//! (default: `screenshots` in the build's temporary folder).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use confab_http::{HttpOptions, ServeOptions};
use confab_service::Policy;
use confab_testkit::app::{memory_realtime, TestApp};
use confab_testkit::fixtures::within_one_minute_window;
use confab_testkit::harness::with_sqlite;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// `chromedriver`, on a free port, for one test.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
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
    async fn browser(&self, width: u32, height: u32, dark: bool) -> Client {
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
async fn app(stores: confab_core::ports::Stores, policy: Policy) -> TestApp {
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

fn screenshots() -> std::path::PathBuf {
    let dir = std::env::var_os("CONFAB_TEST_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn screenshot(browser: &Client, name: &str) {
    let png = browser.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

const WAIT: Duration = Duration::from_secs(10);

async fn wait_for(browser: &Client, css: &str) -> fantoccini::elements::Element {
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
}

/// Sign `name` up through the form; the client then shows the workspaces.
async fn sign_up(browser: &Client, base: &str, name: &str) {
    browser.goto(&format!("{base}/signup")).await.unwrap();
    wait_for(browser, "input[name=email]")
        .await
        .send_keys(&format!("{name}@example.test"))
        .await
        .unwrap();
    for (field, value) in [
        ("username", name.to_owned()),
        ("display_name", format!("{name} display")),
        ("password", format!("{name}-password")),
    ] {
        browser
            .find(Locator::Css(&format!("input[name={field}]")))
            .await
            .unwrap()
            .send_keys(&value)
            .await
            .unwrap();
    }
    browser
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(browser, "main.home").await;
}

/// Type into the composer and press Enter.
async fn say(browser: &Client, text: &str) {
    wait_for(browser, ".composer textarea")
        .await
        .send_keys(&format!("{text}\u{E007}"))
        .await
        .unwrap();
}

/// The texts of the messages on screen (read in one go: the list is
/// redrawn as events arrive).
async fn shown(browser: &Client) -> Vec<String> {
    let texts = browser
        .execute(
            "return [...document.querySelectorAll('.message')].map((m) => m.innerText);",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(texts).unwrap()
}

/// What the page answers to `script` (which returns a JSON value).
async fn ask(browser: &Client, script: &str) -> Value {
    browser.execute(script, vec![]).await.unwrap()
}

/// Serious or critical accessibility problems axe-core finds on the page
/// (WCAG 2 A and AA rules), when `CONFAB_TEST_AXE` names `axe.min.js`
/// (installed from the npm registry at test time, never committed).
async fn accessibility_problems(browser: &Client, screen: &str) -> Vec<String> {
    let Some(path) = std::env::var_os("CONFAB_TEST_AXE") else {
        return Vec::new();
    };
    let source = std::fs::read_to_string(&path).expect("axe.min.js at CONFAB_TEST_AXE");
    browser.execute(&source, vec![]).await.unwrap();
    let found = browser
        .execute(
            "return axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})
               .then((r) => r.violations
                 .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                 .map((v) => v.id + ' (' + v.nodes.length + '): '
                   + v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')));",
            vec![],
        )
        .await
        .unwrap();
    let found: Vec<String> = serde_json::from_value(found).unwrap();
    found
        .into_iter()
        .map(|v| format!("{screen}: {v}"))
        .collect()
}

/// Click the first element matching `css` (actions show on hover, so the
/// click is sent by the page).
async fn click(browser: &Client, css: &str) {
    let clicked = browser
        .execute(
            "const el = document.querySelector(arguments[0]); if (el) el.click(); return !!el;",
            vec![json!(css)],
        )
        .await
        .unwrap();
    assert_eq!(clicked, json!(true), "nothing to click at {css}");
}

/// Ask `probe` until it answers `Ok`, for at most [`WAIT`]; the last `Err`
/// says what was seen instead.
async fn eventually<F, Fut>(mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match probe().await {
            Ok(()) => return,
            Err(seen) => assert!(tokio::time::Instant::now() < deadline, "{seen}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Wait until the element at `css` shows `text`.
async fn wait_for_text(browser: &Client, css: &str, text: &str) {
    eventually(|| async {
        let shown = browser
            .execute(
                "const el = document.querySelector(arguments[0]); return el ? el.textContent : null;",
                vec![json!(css)],
            )
            .await
            .unwrap();
        match shown.as_str() {
            Some(s) if s.contains(text) => Ok(()),
            _ => Err(format!("{css} never showed {text:?} (shows {shown})")),
        }
    })
    .await;
}

/// Wait until a shown message contains `text`.
async fn wait_for_message(browser: &Client, text: &str) {
    eventually(|| async {
        let messages = shown(browser).await;
        if messages.iter().any(|m| m.contains(text)) {
            Ok(())
        } else {
            Err(format!("{text:?} never shown; shown: {messages:?}"))
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(confab_browser), ignore = "set CONFAB_TEST_CHROMEDRIVER to run")]
async fn two_people_chat_live_and_nothing_in_a_message_runs() {
    with_sqlite(|stores| async move {
        let policy = Policy {
            messages_per_minute: 4,
            ..Policy::default()
        };
        let app = app(stores, policy).await;
        let driver = Driver::start();
        let ann = driver.browser(1280, 800, false).await;
        let bob = driver.browser(390, 844, true).await;

        ann.goto(&format!("{}/signup", app.base)).await.unwrap();
        wait_for(&ann, "input[name=email]").await;
        let problems = accessibility_problems(&ann, "sign-up").await;
        assert!(problems.is_empty(), "{problems:#?}");
        screenshot(&ann, "signup-desktop-light").await;
        sign_up(&ann, &app.base, "ann").await;
        wait_for(&ann, "#new-workspace")
            .await
            .send_keys("Acme\u{E007}")
            .await
            .unwrap();
        wait_for(&ann, ".composer textarea").await;
        let token: Value = ann
            .execute(
                "const ws = location.pathname.split('/')[2];
                 return fetch(`/api/v1/workspaces/${ws}/invitations`, {method: 'POST',
                   headers: {'Content-Type': 'application/json'}, body: JSON.stringify({role: 'member'})})
                   .then((r) => r.json()).then((j) => j.token);",
                vec![],
            )
            .await
            .unwrap();
        let token = token.as_str().expect("an invitation token").to_owned();

        sign_up(&bob, &app.base, "bob").await;
        bob.goto(&format!("{}/invite/{token}", app.base)).await.unwrap();
        wait_for(&bob, ".composer textarea").await;
        let channel = bob.current_url().await.unwrap();

        // Everything below, up to the limit, happens in one minute of the limiter.
        within_one_minute_window(Duration::from_secs(40)).await;
        let hostile = "Hi **@bob** <img src=x onerror=alert(1)> <script>alert(2)</script> \
                       [click](javascript:alert(3)) see https://example.com/page";
        say(&ann, hostile).await;
        wait_for_message(&bob, "Hi @bob").await;
        // Rendered as text: no element from the message, no dialog.
        for tag in ["img", "script", "a[href^='javascript']"] {
            let count = ask(
                &bob,
                &format!("return document.querySelectorAll(\".messages {tag}\").length;"),
            )
            .await;
            assert_eq!(count, json!(0), "{tag} in the message list");
        }
        assert!(bob.get_alert_text().await.is_err(), "a dialog opened");
        let rel = ask(
            &bob,
            "return document.querySelector(\".messages a[href='https://example.com/page']\").rel;",
        )
        .await;
        assert_eq!(rel, json!("noopener noreferrer"));
        let mention = ask(
            &bob,
            "return document.querySelector('.messages strong .mention').textContent;",
        )
        .await;
        assert_eq!(mention, json!("@bob"));
        let text = shown(&bob).await.join("\n");
        assert!(text.contains("<img src=x onerror=alert(1)>"), "{text}");
        assert!(text.contains("<script>alert(2)</script>"), "{text}");

        // Bob answers; Ann sees it live.
        say(&bob, "hello _ann_").await;
        wait_for_message(&ann, "hello ann").await;
        screenshot(&ann, "chat-desktop-light").await;
        screenshot(&bob, "chat-phone-dark").await;
        let mut problems = accessibility_problems(&ann, "chat, light").await;
        problems.extend(accessibility_problems(&bob, "chat, dark, phone").await);
        assert!(problems.is_empty(), "{problems:#?}");

        // Typing shows on the other side.
        wait_for(&ann, ".composer textarea")
            .await
            .send_keys("typing")
            .await
            .unwrap();
        wait_for_text(&bob, ".typing", "ann display is typing").await;
        ann.execute("document.querySelector('.composer textarea').value = '';", vec![])
            .await
            .unwrap();

        // Bob reacts to Ann's message; she sees it.
        click(
            &bob,
            ".message:first-of-type .actions .react[data-emoji=thumbsup], \
             li.message .actions .react[data-emoji=thumbsup]",
        )
        .await;
        wait_for_text(&ann, ".reaction[data-emoji=thumbsup]", "1").await;
        // Ann edits her last message with the Up arrow; Bob sees the change.
        say(&ann, "first version").await;
        wait_for_message(&bob, "first version").await;
        wait_for(&ann, ".composer textarea")
            .await
            .send_keys("\u{E013}")
            .await
            .unwrap();
        let editor = wait_for(&ann, ".editor textarea").await;
        editor.clear().await.unwrap();
        editor.send_keys("second version\u{E007}").await.unwrap();
        wait_for_message(&bob, "second version").await;
        let edited = shown(&bob).await;
        assert!(
            edited.iter().any(|m| m.contains("second version") && m.contains("(edited)")),
            "{edited:?}"
        );
        assert!(!edited.iter().any(|m| m.contains("first version")), "{edited:?}");
        // And deletes it, confirming.
        // The confirmation opens while the click runs, so the script's
        // answer is lost to it.
        let _ = ann
            .execute(
                "document.querySelector('li.message:last-of-type .actions .delete').click();",
                vec![],
            )
            .await;
        assert!(ann.get_alert_text().await.unwrap().contains("Delete this message"));
        ann.accept_alert().await.unwrap();
        wait_for_message(&bob, "This message was deleted.").await;
        screenshot(&ann, "actions-desktop-light").await;

        // Ann pins Bob's message; he sees it marked, and in the pinned list.
        click(&ann, "li.message:nth-last-of-type(2) .actions .pin").await;
        wait_for_text(&bob, ".messages", "Pinned").await;
        click(&bob, ".show-pins").await;
        wait_for_text(&bob, ".pins", "hello ann").await;

        // Bob replies in a thread; Ann sees the count, opens it, reads it.
        click(&bob, "li.message .actions .reply").await;
        wait_for(&bob, ".thread textarea")
            .await
            .send_keys("in the thread\u{E007}")
            .await
            .unwrap();
        wait_for_text(&bob, ".thread", "in the thread").await;
        wait_for_text(&ann, ".messages .replies", "1 reply").await;
        click(&ann, ".messages .replies").await;
        wait_for_text(&ann, ".thread", "in the thread").await;
        screenshot(&ann, "thread-desktop-light").await;
        click(&ann, ".close-thread").await;
        click(&bob, ".close-thread").await;

        // A deep link survives a reload, with the history.
        bob.goto(channel.as_str()).await.unwrap();
        bob.refresh().await.unwrap();
        wait_for_message(&bob, "hello ann").await;
        assert_eq!(bob.current_url().await.unwrap(), channel);

        // Ann makes a channel; Bob finds it and joins; back in general, he
        // sees it count what Ann says there, until he opens it.
        click(&ann, ".add-channel").await;
        wait_for(&ann, "#channel-name")
            .await
            .send_keys("design\u{E007}")
            .await
            .unwrap();
        wait_for_text(&ann, ".channel-header h1", "# design").await;
        let design = ann.current_url().await.unwrap();
        let design_id = design.path().rsplit('/').next().unwrap().to_owned();
        click(&bob, ".browse-channels").await;
        wait_for(&bob, ".join[data-channel=design]").await;
        click(&bob, ".join[data-channel=design]").await;
        wait_for_text(&bob, ".channel-header h1", "# design").await;
        click(&bob, &format!(".sidebar a:not([href$='{design_id}'])")).await;
        wait_for_text(&bob, ".channel-header h1", "# general").await;
        say(&ann, "design review at 3").await;
        let badge = format!(".sidebar a[href$='{design_id}'] .badge");
        wait_for_text(&bob, &badge, "1").await;
        screenshot(&bob, "unread-phone-dark").await;
        click(&bob, &format!(".sidebar a[href$='{design_id}']")).await;
        wait_for_message(&bob, "design review at 3").await;
        let badges = ask(&bob, &format!("return document.querySelectorAll(\"{badge}\").length;")).await;
        assert_eq!(badges, json!(0));
        click(&ann, &format!(".sidebar a:not([href$='{design_id}'])")).await;
        wait_for_text(&ann, ".channel-header h1", "# general").await;

        // Ann starts a direct conversation with Bob from the people picker;
        // it is named after him, and he gets it live.
        click(&ann, ".new-message").await;
        wait_for(&ann, ".person[data-username=bob]").await;
        click(&ann, ".person[data-username=bob]").await;
        wait_for_text(&ann, ".channel-header h1", "bob display").await;
        say(&ann, "just between us").await;
        wait_for_text(&bob, ".sidebar", "ann display").await;

        // Bob leaves a draft in general, jumps with Ctrl+K, comes back with
        // Alt+Down: the draft is there, and still after a reload.
        click(&bob, &format!(".sidebar a:not([href$='{design_id}'])")).await;
        wait_for_text(&bob, ".channel-header h1", "# general").await;
        let composer = wait_for(&bob, ".composer textarea").await;
        composer.send_keys("half a thought").await.unwrap();
        composer.send_keys("\u{E009}k\u{E000}").await.unwrap();
        wait_for(&bob, ".switcher-input")
            .await
            .send_keys("desi\u{E007}")
            .await
            .unwrap();
        wait_for_text(&bob, ".channel-header h1", "# design").await;
        let draft = "return document.querySelector('.composer textarea').value;";
        assert_eq!(ask(&bob, draft).await, json!(""));
        wait_for(&bob, ".composer textarea")
            .await
            .send_keys("\u{E00A}\u{E015}\u{E000}")
            .await
            .unwrap();
        wait_for_text(&bob, ".channel-header h1", "# general").await;
        assert_eq!(ask(&bob, draft).await, json!("half a thought"));
        bob.refresh().await.unwrap();
        wait_for_text(&bob, ".channel-header h1", "# general").await;
        assert_eq!(ask(&bob, draft).await, json!("half a thought"));

        // Past the limit, the post says so and offers to retry.
        // Ann has posted two of her four this minute.
        for i in 0..4 {
            say(&ann, &format!("quick {i}")).await;
        }
        wait_for_text(&ann, ".message .failed", "Slow down").await;
        let retry = ask(&ann, "return document.querySelector('.message .failed button').textContent;").await;
        assert_eq!(retry, json!("Retry"));
        screenshot(&ann, "rate-limited").await;

        ann.close().await.unwrap();
        bob.close().await.unwrap();
        app.stop().await;
    })
    .await;
}
