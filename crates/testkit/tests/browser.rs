//! The web client in a real browser: Chromium driven over WebDriver
//! (`chromedriver`), against a server started by the test. Runs when
//! `CONFAB_TEST_CHROMEDRIVER` names the driver (and fails when it cannot be
//! started); `CONFAB_TEST_CHROMIUM` names the browser (default
//! `/usr/bin/chromium`). Screenshots go to `CONFAB_TEST_SCREENSHOTS`
//! (default: `screenshots` in the build's temporary folder).

use std::time::Duration;

use confab_http::HttpOptions;
use confab_service::Policy;
use confab_testkit::fixtures::within_one_minute_window;
use confab_testkit::harness::with_sqlite;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};

#[path = "support/chrome.rs"]
mod chrome;
use chrome::{app, Driver};

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

/// Fail with what axe-core finds on the page, if anything.
async fn assert_accessible(browser: &Client, screen: &str) {
    let problems = accessibility_problems(browser, screen).await;
    assert!(problems.is_empty(), "{problems:#?}");
}

/// Click the first element matching `css` (actions show on hover, so the
/// click is sent by the page).
async fn click(browser: &Client, css: &str) {
    wait_for(browser, css).await;
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

/// Open the channel of the sidebar link at `link`, whose header then shows
/// `title`. The sidebar is redrawn as events arrive, and a click on a link
/// that was just replaced goes nowhere: click again until it opens.
async fn open_channel(browser: &Client, link: &str, title: &str) {
    wait_for(browser, link).await;
    eventually(|| async {
        let header = browser
            .execute(
                "const h = document.querySelector('.channel-header h1');
                 if (h && h.textContent.includes(arguments[1])) return h.textContent;
                 document.querySelector(arguments[0])?.click();
                 return h ? h.textContent : null;",
                vec![json!(link), json!(title)],
            )
            .await
            .unwrap();
        match header.as_str() {
            Some(h) if h.contains(title) => Ok(()),
            _ => Err(format!("{link} never opened {title:?} (header {header})")),
        }
    })
    .await;
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
        assert_accessible(&ann, "sign-up").await;
        screenshot(&ann, "signup-desktop-light").await;
        sign_up(&ann, &app.base, "ann").await;
        wait_for(&ann, "#new-workspace")
            .await
            .send_keys("Acme\u{E007}")
            .await
            .unwrap();
        wait_for(&ann, ".composer textarea").await;
        let token = invitation(&ann).await;

        sign_up(&bob, &app.base, "bob").await;
        bob.goto(&format!("{}/invite/{token}", app.base))
            .await
            .unwrap();
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
                &format!("return document.querySelectorAll(\".messages .body {tag}\").length;"),
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
        ann.execute(
            "document.querySelector('.composer textarea').value = '';",
            vec![],
        )
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
        // And two more from the picker: a common one, and one typed by name.
        click(&bob, "li.message .actions .more-reactions").await;
        click(&bob, ".emoji-choice[data-emoji=fire]").await;
        wait_for_text(&ann, ".reaction[data-emoji=fire]", "1").await;
        click(&bob, "li.message .actions .more-reactions").await;
        fill(&bob, "#emoji-name", "party_parrot\u{E007}").await;
        wait_for_text(
            &ann,
            ".reaction[data-emoji=party_parrot]",
            ":party_parrot: 1",
        )
        .await;
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
            edited
                .iter()
                .any(|m| m.contains("second version") && m.contains("(edited)")),
            "{edited:?}"
        );
        assert!(
            !edited.iter().any(|m| m.contains("first version")),
            "{edited:?}"
        );
        // And deletes it, confirming.
        // The confirmation opens while the click runs, so the script's
        // answer is lost to it.
        let _ = ann
            .execute(
                "document.querySelector('li.message:last-of-type .actions .delete').click();",
                vec![],
            )
            .await;
        assert!(ann
            .get_alert_text()
            .await
            .unwrap()
            .contains("Delete this message"));
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
        // The open thread has an address: a reload opens it again.
        let thread_url = ann.current_url().await.unwrap();
        assert!(thread_url.path().contains("/t/"), "{thread_url}");
        ann.refresh().await.unwrap();
        wait_for_text(&ann, ".thread", "in the thread").await;
        assert_eq!(ann.current_url().await.unwrap(), thread_url);
        // Ann's next reply also goes to the channel: Bob sees it there.
        click(&ann, ".thread .also-send input").await;
        wait_for(&ann, ".thread textarea")
            .await
            .send_keys("for everyone\u{E007}")
            .await
            .unwrap();
        wait_for_text(&ann, ".thread .broadcast-note", "Also sent to the channel").await;
        wait_for_text(&bob, ".messages .broadcast-note", "Replied to a thread").await;
        wait_for_message(&bob, "for everyone").await;
        screenshot(&ann, "thread-broadcast-desktop-light").await;
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
        open_channel(
            &bob,
            &format!(".sidebar a:not([href$='{design_id}'])"),
            "# general",
        )
        .await;
        say(&ann, "design review at 3").await;
        let badge = format!(".sidebar a[href$='{design_id}'] .badge");
        wait_for_text(&bob, &badge, "1").await;
        screenshot(&bob, "unread-phone-dark").await;
        open_channel(
            &bob,
            &format!(".sidebar a[href$='{design_id}']"),
            "# design",
        )
        .await;
        wait_for_message(&bob, "design review at 3").await;
        let badges = ask(
            &bob,
            &format!("return document.querySelectorAll(\"{badge}\").length;"),
        )
        .await;
        assert_eq!(badges, json!(0));
        open_channel(
            &ann,
            &format!(".sidebar a:not([href$='{design_id}'])"),
            "# general",
        )
        .await;

        // Ann searches: the result is marked, holds the hostile text as
        // text, and opens the message in its channel.
        app.indexed().await;
        fill(&ann, "input.search", "review\u{E007}").await;
        wait_for_text(&ann, ".search-results", "design review at 3").await;
        let mark = ask(
            &ann,
            "return document.querySelector('.search-results mark').textContent;",
        )
        .await;
        assert_eq!(mark, json!("review"));
        assert_eq!(
            ask(
                &ann,
                "return document.querySelector('.search-results .result-channel').textContent;"
            )
            .await,
            json!("#design")
        );
        fill(&ann, "input.search", "onerror\u{E007}").await;
        wait_for_text(&ann, ".search-results", "<img src=x onerror=alert(1)>").await;
        let injected = ask(
            &ann,
            "return document.querySelectorAll('.search-pane img, .search-pane script').length;",
        )
        .await;
        assert_eq!(injected, json!(0));
        assert!(ann.get_alert_text().await.is_err(), "a dialog opened");
        fill(&ann, "input.search", "review\u{E007}").await;
        wait_for_text(&ann, ".search-results", "design review at 3").await;
        screenshot(&ann, "search-desktop-light").await;
        assert_accessible(&ann, "search results").await;
        click(&ann, ".search-results .open-result").await;
        wait_for_text(&ann, ".channel-header h1", "# design").await;
        wait_for_text(&ann, ".message.found", "design review at 3").await;
        click(&ann, ".close-search").await;
        open_channel(
            &ann,
            &format!(".sidebar a:not([href$='{design_id}'])"),
            "# general",
        )
        .await;

        // Ann starts a direct conversation with Bob from the people picker;
        // it is named after him, and he gets it live.
        click(&ann, ".new-message").await;
        click(&ann, ".person[data-username=bob]").await;
        click(&ann, ".start-conversation").await;
        wait_for_text(&ann, ".channel-header h1", "bob display").await;
        say(&ann, "just between us").await;
        wait_for_text(&bob, ".sidebar", "ann display").await;

        // Bob leaves a draft in general, jumps with Ctrl+K, comes back with
        // Alt+Down: the draft is there, and still after a reload.
        open_channel(
            &bob,
            &format!(".sidebar a:not([href$='{design_id}'])"),
            "# general",
        )
        .await;
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
        let retry = ask(
            &ann,
            "return document.querySelector('.message .failed button').textContent;",
        )
        .await;
        assert_eq!(retry, json!("Retry"));
        screenshot(&ann, "rate-limited").await;

        ann.close().await.unwrap();
        bob.close().await.unwrap();
        app.stop().await;
    })
    .await;
}

/// Whether the composer is disabled (as in an archived channel).
const COMPOSER_DISABLED: &str = "return document.querySelector('.composer textarea').disabled;";

/// A member's invitation to the workspace open in `browser`; its token.
async fn invitation(browser: &Client) -> String {
    text_of(
        browser,
        "const ws = location.pathname.split('/')[2];
         return fetch(`/api/v1/workspaces/${ws}/invitations`, {method: 'POST',
           headers: {'Content-Type': 'application/json'}, body: JSON.stringify({role: 'member'})})
           .then((r) => r.json()).then((j) => j.token);",
    )
    .await
}

/// Set an input's value as a person would (the page hears `input`).
async fn fill(browser: &Client, css: &str, value: &str) {
    let element = wait_for(browser, css).await;
    element.clear().await.unwrap();
    element.send_keys(value).await.unwrap();
}

/// The text `script` answers.
async fn text_of(browser: &Client, script: &str) -> String {
    ask(browser, script)
        .await
        .as_str()
        .unwrap_or_else(|| panic!("no text from {script}"))
        .to_owned()
}

/// Wait until `script` answers `expected`.
async fn wait_until(browser: &Client, script: &str, expected: Value) {
    eventually(|| async {
        let seen = ask(browser, script).await;
        if seen == expected {
            Ok(())
        } else {
            Err(format!("{script} answered {seen}, not {expected}"))
        }
    })
    .await;
}

/// The text a QR code on screen holds, read back from its screenshot.
async fn read_qr(element: &fantoccini::elements::Element) -> String {
    let png = element.screenshot().await.unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    let channels = frame.color_type.samples();
    let (width, height) = (frame.width as usize, frame.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        pixels[(y * width + x) * channels]
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    grids[0].decode().expect("a readable QR code").1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(confab_browser), ignore = "set CONFAB_TEST_CHROMEDRIVER to run")]
async fn people_channels_accounts_and_a_restart() {
    with_sqlite(|stores| async move {
        let options = HttpOptions {
            public_url: None,
            ..HttpOptions::default()
        };
        let mut app = app(stores, Policy::default()).await;
        let driver = Driver::start();
        let ann = driver.browser(1280, 800, false).await;
        let bob = driver.browser(1280, 800, true).await;

        // Ann makes a workspace and a link in the members dialog; Bob
        // joins by it, Cara through the API.
        sign_up(&ann, &app.base, "ann").await;
        fill(&ann, "#new-workspace", "Acme\u{E007}").await;
        wait_for(&ann, ".sidebar li.active a").await;
        let general = text_of(
            &ann,
            "return document.querySelector('.sidebar li.active a').href;",
        )
        .await;
        let general = reqwest::Url::parse(&general).unwrap();
        let workspace = general.path().split('/').nth(2).unwrap().to_owned();
        click(&ann, ".show-members").await;
        wait_for(&ann, ".invite-form").await;
        click(&ann, ".invite-form button[type=submit]").await;
        let link = wait_for(&ann, ".invite-link")
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap();
        assert!(link.starts_with(&format!("{}/invite/", app.base)), "{link}");
        assert_accessible(&ann, "members dialog").await;
        click(&ann, ".close-dialog").await;
        sign_up(&bob, &app.base, "bob").await;
        bob.goto(&link).await.unwrap();
        wait_for(&bob, ".composer textarea").await;
        app.sign_up("cara").await;
        let cara = app.log_in("cara").await;
        let ann_api = app.log_in("ann").await;
        app.join(&ann_api, &workspace, &cara, "member").await;
        let cara_id = app.user_id(&cara).await;

        // Bob sets himself away with a status; Ann sees it by his name.
        click(&bob, ".my-status").await;
        wait_for(&bob, "input[name=status][value=away]")
            .await
            .click()
            .await
            .unwrap();
        fill(&bob, "#custom-status", "At lunch").await;
        click(&bob, ".status-form button[type=submit]").await;
        wait_for_text(&bob, ".my-status", "At lunch").await;
        click(&ann, ".show-members").await;
        wait_for(
            &ann,
            ".member-list li[data-username=bob] .presence-dot.away",
        )
        .await;
        click(&ann, ".close-dialog").await;

        // A group conversation from the people picker.
        click(&ann, ".new-message").await;
        click(&ann, ".person[data-username=bob]").await;
        click(&ann, ".person[data-username=cara]").await;
        wait_for_text(&ann, ".start-conversation", "Start a group of 3").await;
        click(&ann, ".start-conversation").await;
        wait_for_text(&ann, ".channel-header h1", "bob display, cara display").await;
        say(&ann, "the three of us").await;
        wait_for_text(&bob, ".sidebar", "ann display, cara display").await;
        screenshot(&ann, "group-desktop-light").await;

        // @ suggests people; Enter takes the suggestion, and the mention
        // counts for Bob in general while he is elsewhere.
        let general_id = general.path().rsplit('/').next().unwrap().to_owned();
        let group_link = format!(".sidebar a:not([href$='{general_id}'])");
        open_channel(&bob, &group_link, "ann display, cara display").await;
        ann.goto(general.as_str()).await.unwrap();
        let composer = wait_for(&ann, ".composer textarea").await;
        composer.send_keys("@bo").await.unwrap();
        wait_for(
            &ann,
            ".mention-list li[data-username=bob][aria-selected=true]",
        )
        .await;
        composer.send_keys("\u{E007}").await.unwrap();
        let draft = "return document.querySelector('.composer textarea').value;";
        assert_eq!(ask(&ann, draft).await, json!("@bob "));
        composer.send_keys("look at this\u{E007}").await.unwrap();
        say(&ann, "and one more").await;
        wait_for_text(
            &bob,
            &format!(".sidebar a[href$='{general_id}'] .badge.mention"),
            "1",
        )
        .await;

        // Back in general, a divider marks where Bob stopped reading.
        open_channel(
            &bob,
            &format!(".sidebar a[href$='{general_id}']"),
            "# general",
        )
        .await;
        wait_for_message(&bob, "and one more").await;
        let after_divider = ask(
            &bob,
            "const d = document.querySelector('.new-divider');
             return d ? d.nextElementSibling.innerText : null;",
        )
        .await;
        assert!(
            after_divider
                .as_str()
                .unwrap_or("")
                .contains("@bob look at this"),
            "{after_divider}"
        );
        screenshot(&bob, "new-messages-desktop-dark").await;

        // Read on another device: the badge here follows.
        open_channel(&bob, &group_link, "ann display, cara display").await;
        say(&ann, "read this elsewhere").await;
        let general_badge = format!(".sidebar a[href$='{general_id}'] .badge");
        wait_for_text(&bob, &general_badge, "1").await;
        let bob_api = app.log_in("bob").await;
        let newest = app
            .get(
                &format!("/api/v1/channels/{general_id}/messages?limit=1"),
                &bob_api,
            )
            .await;
        let newest = newest.body["messages"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let read = app
            .post(
                &format!("/api/v1/channels/{general_id}/read"),
                Some(&bob_api),
                json!({"message_id": newest}),
            )
            .await;
        assert!(read.status.is_success(), "{read:?}");
        wait_until(
            &bob,
            &format!("return document.querySelectorAll(\"{general_badge}\").length;"),
            json!(0),
        )
        .await;

        // The switcher finds people too, and opens their conversation.
        wait_for(&bob, ".composer textarea")
            .await
            .send_keys("\u{E009}k\u{E000}")
            .await
            .unwrap();
        fill(&bob, ".switcher-input", "cara").await;
        click(&bob, ".switcher-results li[data-kind=person] button").await;
        wait_until(
            &bob,
            "return document.querySelector('.channel-header h1').textContent;",
            json!("cara display"),
        )
        .await;

        // A channel: its topic set in its details reaches Bob live; it is
        // archived (read-only) and unarchived; Bob leaves it.
        click(&ann, ".add-channel").await;
        fill(&ann, "#channel-name", "ops\u{E007}").await;
        wait_for_text(&ann, ".channel-header h1", "# ops").await;
        let ops = ann.current_url().await.unwrap();
        let ops_id = ops.path().rsplit('/').next().unwrap().to_owned();
        click(&bob, ".browse-channels").await;
        wait_for(&bob, ".join[data-channel=ops]").await;
        click(&bob, ".join[data-channel=ops]").await;
        wait_for_text(&bob, ".channel-header h1", "# ops").await;
        click(&ann, ".channel-details").await;
        fill(&ann, "#channel-topic", "Deploys and incidents\u{E007}").await;
        wait_for_text(&ann, ".modal .form-status", "Saved.").await;
        wait_for_text(&bob, ".channel-header .topic", "Deploys and incidents").await;
        assert_accessible(&ann, "channel details").await;
        click(&ann, ".archive-channel").await;
        wait_until(&bob, COMPOSER_DISABLED, json!(true)).await;
        click(&ann, ".channel-details").await;
        click(&ann, ".unarchive-channel").await;
        wait_until(&bob, COMPOSER_DISABLED, json!(false)).await;
        click(&bob, ".channel-details").await;
        click(&bob, ".leave-channel").await;
        wait_for_text(&bob, ".channel-header h1", "# general").await;
        let ops_links =
            format!("return document.querySelectorAll(\".sidebar a[href$='{ops_id}']\").length;");
        assert_eq!(ask(&bob, &ops_links).await, json!(0));

        // Ann makes Bob an admin: his settings button appears. She
        // deactivates Cara, then brings her back, and renames the workspace.
        click(&ann, ".show-members").await;
        let role = wait_for(&ann, ".member-list li[data-username=bob] select.role").await;
        role.select_by_value("admin").await.unwrap();
        wait_for_text(&ann, ".modal .form-status", "bob display is now admin").await;
        wait_for(&bob, ".workspace-settings-button").await;
        click(&ann, ".member-list li[data-username=cara] .deactivate").await;
        wait_for(&ann, ".member-list li[data-username=cara] .reactivate").await;
        assert_eq!(app.get("/api/v1/me", &cara).await.status.as_u16(), 200);
        let cara_sees = app
            .get(&format!("/api/v1/workspaces/{workspace}"), &cara)
            .await;
        assert_eq!(cara_sees.status.as_u16(), 404, "{cara_sees:?}");
        screenshot(&ann, "members-desktop-light").await;
        click(&ann, ".member-list li[data-username=cara] .reactivate").await;
        wait_for(&ann, ".member-list li[data-username=cara] .deactivate").await;
        let cara_back = app
            .get(
                &format!("/api/v1/workspaces/{workspace}/members?status=active"),
                &cara,
            )
            .await;
        let active: Vec<&str> = cara_back.body["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["user_id"].as_str().unwrap())
            .collect();
        assert!(active.contains(&cara_id.as_str()), "{cara_back:?}");
        click(&ann, ".close-dialog").await;
        click(&ann, ".workspace-settings-button").await;
        fill(&ann, "#ws-name", "Acme Corp").await;
        fill(&ann, "#ws-retention", "90").await;
        click(&ann, ".workspace-settings button[type=submit]").await;
        wait_for_text(&ann, ".top .workspace-name", "Acme Corp").await;
        let saved = app
            .get(&format!("/api/v1/workspaces/{workspace}"), &ann_api)
            .await;
        assert_eq!(
            saved.body["workspace"]["settings"]["retention_days"],
            json!(90)
        );
        click(&ann, ".close-dialog").await;

        // The account page: profile, sessions (the API's is revoked), the
        // e-mail link, and two-factor login with a QR code that reads back.
        click(&ann, ".top .account").await;
        fill(&ann, "#settings-display_name", "Ann Example").await;
        ann.find(Locator::Css("#settings-timezone"))
            .await
            .unwrap()
            .select_by_value("Asia/Tokyo")
            .await
            .unwrap();
        click(&ann, ".profile button[type=submit]").await;
        wait_for_text(&ann, ".profile .form-status", "Saved.").await;
        let me = app.get("/api/v1/me", &ann_api).await;
        assert_eq!(me.body["display_name"], json!("Ann Example"));
        assert_eq!(me.body["timezone"], json!("Asia/Tokyo"));
        wait_until(
            &ann,
            "return document.querySelectorAll('.session-list li').length;",
            json!(2),
        )
        .await;
        click(&ann, ".session-list li:not(:has(.this-device)) .revoke").await;
        wait_until(
            &ann,
            "return document.querySelectorAll('.session-list li').length;",
            json!(1),
        )
        .await;
        assert_eq!(app.get("/api/v1/me", &ann_api).await.status.as_u16(), 401);
        assert_accessible(&ann, "account").await;

        fill(&ann, ".mfa input[name=password]", "ann-password\u{E007}").await;
        let qr = wait_for(&ann, "canvas.qr").await;
        let uri = read_qr(&qr).await;
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        let secret = text_of(
            &ann,
            "return document.querySelector('.mfa-secret').textContent;",
        )
        .await;
        assert!(
            uri.contains(&format!("secret={secret}")),
            "{uri} holds {secret}"
        );
        screenshot(&ann, "mfa-desktop-light").await;
        let code = confab_testkit::app::totp_code(&secret, 0);
        fill(&ann, ".mfa input[name=code]", &format!("{code}\u{E007}")).await;
        wait_for_text(&ann, ".mfa", "On: logging in asks for a code").await;

        let mail_code = app.verification_code("ann@example.test");
        ann.goto(&format!("{}/verify-email?token={mail_code}", app.base))
            .await
            .unwrap();
        wait_for_text(&ann, "main [role=status]", "ann@example.test is confirmed").await;

        // Logging in again asks for the code.
        ann.goto(&format!("{}/settings", app.base)).await.unwrap();
        click(&ann, ".session-list li .revoke").await;
        wait_for(&ann, "input[name=email]")
            .await
            .send_keys("ann@example.test")
            .await
            .unwrap();
        fill(&ann, "input[name=password]", "ann-password\u{E007}").await;
        // The code just used may not serve twice: wait for the next one.
        let next = loop {
            let next = confab_testkit::app::totp_code(&secret, 0);
            if next != code {
                break next;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        fill(&ann, "input[name=code]", &format!("{next}\u{E007}")).await;
        wait_for(&ann, "main.home").await;
        // And turns it off with a fresh code (the next step's: each code
        // serves once).
        ann.goto(&format!("{}/settings", app.base)).await.unwrap();
        let fresh = confab_testkit::app::totp_code(&secret, 1);
        fill(&ann, ".mfa input[name=code]", &format!("{fresh}\u{E007}")).await;
        wait_for_text(&ann, ".mfa", "Off.").await;

        // A new password; the old one no longer logs in.
        fill(&ann, "#settings-current_password", "ann-password").await;
        fill(&ann, "#settings-new_password", "ann-new-password\u{E007}").await;
        wait_for_text(&ann, ".password .form-status", "Changed.").await;
        let old = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": "ann@example.test", "password": "ann-password"}),
            )
            .await;
        assert_eq!(old.status.as_u16(), 401, "{old:?}");

        // Forgotten: a link by mail sets another, and ends her sessions.
        let logged_in = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": "ann@example.test", "password": "ann-new-password"}),
            )
            .await;
        assert_eq!(logged_in.status.as_u16(), 200, "{logged_in:?}");
        let ann_session = logged_in.body["token"].as_str().unwrap().to_owned();
        ann.goto(&format!("{}/login", app.base)).await.unwrap();
        click(&ann, "a[href='/reset-password']").await;
        fill(&ann, "input[name=email]", "ann@example.test\u{E007}").await;
        wait_for_text(&ann, "main [role=status]", "a link is on its way").await;
        eventually(|| {
            let mailed = app.reset_code("ann@example.test").is_some();
            async move { mailed.then_some(()).ok_or("no reset mail yet".to_owned()) }
        })
        .await;
        let reset = app.reset_code("ann@example.test").unwrap();
        ann.goto(&format!("{}/reset-password?token={reset}", app.base))
            .await
            .unwrap();
        wait_for_text(&ann, "h1", "Choose a new password").await;
        screenshot(&ann, "password-reset-form-desktop-light").await;
        assert_accessible(&ann, "new password").await;
        let shown_url = ann.current_url().await.unwrap();
        assert!(
            !shown_url.as_str().contains(&reset),
            "the token leaves the address bar"
        );
        fill(&ann, "input[name=password]", "ann-reset-password\u{E007}").await;
        wait_for_text(&ann, "main [role=status]", "The password of @ann is set").await;
        screenshot(&ann, "password-reset-desktop-light").await;
        assert_accessible(&ann, "password reset").await;
        assert_eq!(
            app.get("/api/v1/me", &ann_session).await.status.as_u16(),
            401
        );
        let logged_in = app
            .post(
                "/api/v1/auth/login",
                None,
                json!({"email": "ann@example.test", "password": "ann-reset-password"}),
            )
            .await;
        assert_eq!(logged_in.status.as_u16(), 200, "{logged_in:?}");
        click(&ann, "main a[href='/login']").await;
        fill(&ann, "input[name=email]", "ann@example.test").await;
        fill(&ann, "input[name=password]", "ann-reset-password\u{E007}").await;
        wait_for(&ann, "main.home").await;

        // With her address confirmed, Ann invites by e-mail.
        ann.goto(general.as_str()).await.unwrap();
        click(&ann, ".show-members").await;
        fill(&ann, "#invite-email", "dora@example.test").await;
        click(&ann, ".invite-form button[type=submit]").await;
        wait_for_text(
            &ann,
            ".invite-result",
            "Invitation sent to dora@example.test",
        )
        .await;
        let mails = app.mails_to("dora@example.test");
        assert_eq!(mails.len(), 1, "{mails:?}");
        click(&ann, ".close-dialog").await;

        // The server restarts under Bob: he reconnects by himself, sees
        // what came meanwhile once, and loses nothing he saw.
        bob.goto(general.as_str()).await.unwrap();
        wait_for_message(&bob, "and one more").await;
        let before = shown(&bob).await;
        app = app.restart(Policy::default(), options.clone()).await;
        wait_for_text(&bob, ".connection", "Reconnecting").await;
        let post = app
            .post(
                &format!("/api/v1/channels/{general_id}/messages"),
                Some(&cara),
                json!({"content": "after the restart"}),
            )
            .await;
        assert_eq!(post.status.as_u16(), 201, "{post:?}");
        wait_for_message(&bob, "after the restart").await;
        let after = shown(&bob).await;
        assert_eq!(after.len(), before.len() + 1, "{before:#?}\n{after:#?}");
        assert_eq!(&after[..before.len()], &before[..]);
        assert_eq!(
            text_of(
                &bob,
                "return document.querySelector('.connection').textContent;"
            )
            .await,
            ""
        );

        ann.close().await.unwrap();
        bob.close().await.unwrap();
        app.stop().await;
    })
    .await;
}

/// A PNG of `width` x `height` pixels in two colours.
fn picture(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, _| match x < width / 2 {
        true => image::Rgb([18, 100, 163]),
        false => image::Rgb([242, 199, 68]),
    });
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

/// Wait until the file tray holds only uploaded files (and at least one).
async fn uploads_ready(browser: &Client, count: usize) {
    wait_until(
        browser,
        "const all = document.querySelectorAll('.uploads .upload').length;
         return all === document.querySelectorAll('.uploads .upload-ready').length ? all : -1;",
        json!(count),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(confab_browser), ignore = "set CONFAB_TEST_CHROMEDRIVER to run")]
async fn files_are_attached_dropped_pasted_previewed_and_listed() {
    with_sqlite(|stores| async move {
        let app = app(stores, Policy::default()).await;
        let driver = Driver::start();
        let ann = driver.browser(1280, 800, false).await;
        let bob = driver.browser(1280, 800, true).await;
        sign_up(&ann, &app.base, "ann").await;
        fill(&ann, "#new-workspace", "Studio\u{E007}").await;
        wait_for(&ann, ".composer textarea").await;
        let token = invitation(&ann).await;
        sign_up(&bob, &app.base, "bob").await;
        bob.goto(&format!("{}/invite/{token}", app.base)).await.unwrap();
        wait_for(&bob, ".composer textarea").await;

        // Through the attach button's picker: a picture, sent with words.
        let folder = tempfile::tempdir().unwrap();
        let photo = folder.path().join("mock-up.png");
        std::fs::write(&photo, picture(480, 320)).unwrap();
        wait_for(&ann, ".composer .file-picker")
            .await
            .send_keys(photo.to_str().unwrap())
            .await
            .unwrap();
        uploads_ready(&ann, 1).await;
        wait_for_text(&ann, ".uploads .upload-name", "mock-up.png").await;
        say(&ann, "the mock-up").await;
        wait_until(
            &ann,
            "return document.querySelectorAll('.uploads .upload').length;",
            json!(0),
        )
        .await;
        // Bob sees it inline, as its thumbnail, once it is processed.
        wait_until(
            &bob,
            "const img = document.querySelector('.message .image-file img');
             return img && img.complete && img.naturalWidth > 0
               ? [img.alt, img.naturalWidth, img.naturalHeight, new URL(img.src).search] : null;",
            json!(["mock-up.png", 360, 240, "?size=360"]),
        )
        .await;
        wait_for_message(&bob, "the mock-up").await;

        // Dropped on the channel: a text file, sent alone.
        ann.execute(
            "const dt = new DataTransfer();
             dt.items.add(new File(['plan: ship it'], 'plan.txt', {type: 'text/plain'}));
             const main = document.querySelector('main.channel');
             for (const kind of ['dragover', 'drop']) {
               main.dispatchEvent(new DragEvent(kind, {dataTransfer: dt, bubbles: true, cancelable: true}));
             }",
            vec![],
        )
        .await
        .unwrap();
        uploads_ready(&ann, 1).await;
        say(&ann, "").await;
        wait_for_text(&bob, ".message .file-card a", "plan.txt").await;
        let fetched = text_of(
            &bob,
            "return fetch(document.querySelector('.file-card a').href).then((r) => r.text());",
        )
        .await;
        assert_eq!(fetched, "plan: ship it");

        // Pasted into the box: a screenshot.
        ann.execute(
            "const dt = new DataTransfer();
             dt.items.add(new File([new Uint8Array(arguments[0])], 'image.png', {type: 'image/png'}));
             document.querySelector('.composer textarea').dispatchEvent(
               new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));",
            vec![json!(picture(200, 100))],
        )
        .await
        .unwrap();
        uploads_ready(&ann, 1).await;
        say(&ann, "pasted").await;
        wait_until(
            &bob,
            "return [...document.querySelectorAll('.message .image-file img')]
               .filter((img) => img.complete && img.naturalWidth > 0).map((img) => img.alt);",
            json!(["mock-up.png", "image.png"]),
        )
        .await;

        // The channel's files, newest first.
        click(&bob, ".show-files").await;
        wait_until(
            &bob,
            "return [...document.querySelectorAll('.channel-files .file-list li a')].map((a) => a.textContent);",
            json!(["image.png", "plan.txt", "mock-up.png"]),
        )
        .await;
        screenshot(&ann, "files-desktop-light").await;
        screenshot(&bob, "files-desktop-dark").await;
        let mut problems = accessibility_problems(&ann, "files, light").await;
        problems.extend(accessibility_problems(&bob, "files, dark").await);
        assert!(problems.is_empty(), "{problems:#?}");

        // Bob searches files: by name, the match marked, a download.
        app.indexed().await;
        fill(&bob, "input.search", "plan\u{E007}").await;
        wait_for(&bob, ".search-tabs").await;
        click(&bob, ".search-tabs [role=tab]:nth-child(2)").await;
        wait_for_text(&bob, ".search-results .file-result .file-name", "plan.txt").await;
        assert_eq!(
            ask(&bob, "return document.querySelector('.file-result mark').textContent;").await,
            json!("plan")
        );
        assert_eq!(
            ask(
                &bob,
                "return fetch(document.querySelector('.file-result a').href).then((r) => r.text());"
            )
            .await,
            json!("plan: ship it")
        );
        screenshot(&bob, "files-search-desktop-dark").await;
        assert_accessible(&bob, "files search, dark").await;
        click(&bob, ".close-search").await;

        // Ann deletes the text file: it leaves Bob's screen at once.
        let deleted = ask(
            &ann,
            "const link = [...document.querySelectorAll('.file-card')].find((c) => c.textContent.includes('plan.txt'));
             return fetch(`/api/v1/files/${link.dataset.file}`, {method: 'DELETE'}).then((r) => r.status);",
        )
        .await;
        assert_eq!(deleted, json!(204));
        wait_until(
            &bob,
            "return document.querySelectorAll('.message .file-card').length;",
            json!(0),
        )
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(confab_browser), ignore = "set CONFAB_TEST_CHROMEDRIVER to run")]
async fn slash_commands_answer_in_the_channel_or_to_the_caller_alone() {
    use confab_testkit::receiver::{Answer, Receiver};
    with_sqlite(|stores| async move {
        let app = app(stores, Policy::default()).await;
        let driver = Driver::start();
        let ann = driver.browser(1280, 800, false).await;
        sign_up(&ann, &app.base, "ann").await;
        wait_for(&ann, "#new-workspace")
            .await
            .send_keys("Acme\u{E007}")
            .await
            .unwrap();
        wait_for(&ann, ".composer textarea").await;
        let session = app.log_in("ann").await;
        let workspaces = app.get("/api/v1/workspaces", &session).await;
        let workspace = workspaces.body["workspaces"][0]["workspace"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let receiver = Receiver::start(vec![
            Answer::Json(json!({"text": "Deploying *prod* now"})),
            Answer::Json(json!({"response_type": "in_channel", "text": "Deployed prod"})),
        ])
        .await;
        let installed = app
            .post(
                &format!("/api/v1/workspaces/{workspace}/integrations"),
                Some(&session),
                json!({"type": "slash_command", "name": "Deploy", "command": "/deploy", "url": receiver.command_url()}),
            )
            .await;
        assert_eq!(installed.status, reqwest::StatusCode::CREATED, "{installed:?}");

        say(&ann, "/deploy prod").await;
        wait_for_text(&ann, ".message.ephemeral", "Deploying prod now").await;
        wait_for_text(&ann, ".message.ephemeral", "Only visible to you").await;
        assert_eq!(receiver.received()[0].body["text"], json!("prod"));
        screenshot(&ann, "slash-command-desktop-light").await;
        assert_accessible(&ann, "slash command answer").await;
        say(&ann, "/deploy finish").await;
        wait_for_message(&ann, "Deployed prod").await;
        say(&ann, "/nothing here").await;
        wait_for_text(&ann, ".messages", "/nothing: ").await;
        // Nothing of the commands was posted as ann's own message.
        let texts = shown(&ann).await.join("\n");
        assert!(!texts.contains("/deploy prod"), "{texts}");

        // The integrations dialog: the command is listed; a bot and a
        // personal token are made, their secrets shown once.
        click(&ann, ".integrations-button").await;
        wait_for_text(&ann, ".integration-list", "Deploy").await;
        fill(&ann, "#bot-name", "Helper").await;
        click(&ann, ".add-a-bot button[type=submit]").await;
        wait_for_text(&ann, ".add-a-bot .secret-once", "xoxb-").await;
        wait_for_text(&ann, ".integration-list", "Helper").await;
        fill(&ann, "#token-label", "my script").await;
        click(&ann, ".make-a-token button[type=submit]").await;
        wait_for_text(&ann, ".make-a-token .secret-once", "xoxp-").await;
        wait_for_text(&ann, ".token-list", "my script").await;
        // Webhooks into and out of a channel; a bot's events to a URL
        // that does not answer the handshake are refused, saying why.
        fill(&ann, "#hook-name", "Alerts").await;
        click(&ann, ".add-an-incoming-webhook button[type=submit]").await;
        wait_for_text(&ann, ".add-an-incoming-webhook .secret-once", "/hooks/").await;
        fill(&ann, "#outgoing-name", "Listener").await;
        fill(&ann, "#outgoing-url", "http://127.0.0.1:9/hook").await;
        fill(&ann, "#outgoing-words", "deploy, ship").await;
        click(&ann, ".add-an-outgoing-webhook button[type=submit]").await;
        wait_for_text(&ann, ".add-an-outgoing-webhook .form-status", "Signing secret").await;
        wait_for_text(&ann, ".integration-list", "Listener").await;
        wait_for_text(&ann, "#events-bot", "Helper").await;
        fill(&ann, "#events-url", "http://127.0.0.1:9/events").await;
        click(&ann, ".send-a-bot-s-events button[type=submit]").await;
        wait_for(&ann, ".send-a-bot-s-events .form-error").await;
        screenshot(&ann, "integrations-desktop-light").await;
        assert_accessible(&ann, "integrations").await;
    })
    .await;
}
