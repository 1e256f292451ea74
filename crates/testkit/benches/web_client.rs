//! The web client in headless Chromium: how fast a channel of 10,000
//! messages first paints, how long a post takes to appear in another
//! browser, how many bytes of JS and CSS the first load moves, and how much
//! memory the page holds after scrolling back through 5,000 messages.
//!
//! ```text
//! CONFAB_TEST_CHROMEDRIVER=/usr/bin/chromedriver \
//!     cargo bench -p confab-testkit --bench web_client [-- --messages 10000 --posts 40]
//! ```
//! The server runs in this process over a temporary SQLite database, with
//! the message rate limit lifted. Figures are printed, never asserted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use confab_service::Policy;
use confab_testkit::app::TestApp;
use confab_testkit::harness::with_sqlite;
use fantoccini::{Client, Locator};
use serde_json::{json, Value};

#[path = "../tests/support/chrome.rs"]
mod chrome;
use chrome::{app, Driver};

struct Params {
    messages: usize,
    posts: usize,
    scroll_back: usize,
    paints: usize,
}

fn params() -> Params {
    let mut params = Params {
        messages: 10_000,
        posts: 40,
        scroll_back: 5_000,
        paints: 10,
    };
    let args: Vec<String> = std::env::args().collect();
    for pair in args.windows(2) {
        let value = || pair[1].parse().expect("a number");
        match pair[0].as_str() {
            "--messages" => params.messages = value(),
            "--posts" => params.posts = value(),
            "--scroll-back" => params.scroll_back = value(),
            "--paints" => params.paints = value(),
            _ => {}
        }
    }
    params
}

fn main() {
    if std::env::var_os("CONFAB_TEST_CHROMEDRIVER").is_none() {
        eprintln!("web_client bench: set CONFAB_TEST_CHROMEDRIVER to run it");
        return;
    }
    let params = params();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(with_sqlite(|stores| async move {
            let policy = Policy {
                messages_per_minute: u64::MAX / 2,
                ..Policy::default()
            };
            let app = app(stores, policy).await;
            run(&app, &params).await;
            app.stop().await;
        }));
}

async fn run(app: &TestApp, params: &Params) {
    app.sign_up("ann").await;
    app.sign_up("bob").await;
    let ann = app.log_in("ann").await;
    let bob = app.log_in("bob").await;
    let workspace = app.workspace(&ann, "Bench").await;
    app.join(&ann, &workspace, &bob, "member").await;
    let general = app.general_channel(&ann, &workspace).await;
    seed(app, &general, &[ann, bob], params.messages).await;
    let channel_url = format!("{}/w/{workspace}/c/{general}", app.base);

    let driver = Driver::start();
    let flags = ["--js-flags=--expose-gc", "--enable-precise-memory-info"];
    let reader = driver.browser_with(1280, 800, false, &flags).await;
    let (js_css, compressed, uncompressed) = first_load_bytes(&reader, &app.base).await;
    log_in(&reader, &app.base, "ann").await;
    let paints = first_paints(&reader, &channel_url, params.paints).await;
    let (heap_before, heap_after, nodes, loaded) =
        memory_after_scrolling(&reader, &channel_url, params.scroll_back).await;

    let watcher = driver.browser(1280, 800, false).await;
    log_in(&watcher, &app.base, "bob").await;
    let latencies = post_to_paint(&reader, &watcher, &channel_url, params.posts).await;

    println!();
    println!(
        "web client, headless Chromium, channel of {} messages",
        params.messages
    );
    println!(
        "  first load: {js_css} JS+CSS files, {:.1} KiB uncompressed, {:.1} KiB compressed",
        uncompressed as f64 / 1024.0,
        compressed as f64 / 1024.0
    );
    println!(
        "  navigation to first message list painted ({} loads): first {:.0} ms, median {:.0} ms, max {:.0} ms",
        paints.len(),
        paints[0],
        median(&paints),
        paints.iter().cloned().fold(0.0, f64::max)
    );
    println!(
        "  post in one browser to paint in another ({} posts): p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        latencies.len(),
        percentile(&latencies, 50.0),
        percentile(&latencies, 95.0),
        latencies.iter().cloned().fold(0.0, f64::max)
    );
    println!(
        "  after scrolling back through {} messages: JS heap {:.1} MiB (at open {:.1} MiB), {} DOM nodes, {} messages kept",
        params.scroll_back,
        heap_after / 1048576.0,
        heap_before / 1048576.0,
        nodes,
        loaded
    );
    reader.close().await.unwrap();
    watcher.close().await.unwrap();
}

/// Post `count` messages (short and long, some Markdown) from `tokens` in turn.
async fn seed(app: &TestApp, channel: &str, tokens: &[String], count: usize) {
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = Vec::new();
    for worker in 0..8 {
        let (base, http, next) = (app.base.clone(), app.http.clone(), next.clone());
        let tokens = tokens.to_vec();
        let channel = channel.to_owned();
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    return;
                }
                let content = match i % 4 {
                    0 => {
                        format!("message {i}: **bold**, `code` and a link https://example.com/{i}")
                    }
                    1 => format!("message {i}"),
                    2 => format!("message {i}\n> a quote\n- a list\n- of two"),
                    _ => format!("message {i}: {}", "a longer line of text ".repeat(6)),
                };
                let reply = http
                    .post(format!("{base}/api/v1/channels/{channel}/messages"))
                    .bearer_auth(&tokens[(i + worker) % tokens.len()])
                    .json(&json!({ "content": content }))
                    .send()
                    .await
                    .expect("a post");
                assert_eq!(reply.status().as_u16(), 201, "seeding");
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    println!(
        "seeded {count} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

async fn ask(browser: &Client, script: &str) -> Value {
    browser.execute(script, vec![]).await.unwrap()
}

/// Ask `script` every 10 ms until it answers something other than null.
async fn until(browser: &Client, script: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = ask(browser, script).await;
        if !answer.is_null() {
            return answer;
        }
        assert!(Instant::now() < deadline, "no answer to {script}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// JS and CSS of a first visit (empty cache): files, bytes on the wire,
/// bytes once decompressed.
async fn first_load_bytes(browser: &Client, base: &str) -> (usize, u64, u64) {
    browser.goto(&format!("{base}/login")).await.unwrap();
    until(
        browser,
        "return document.querySelector('input[name=email]') ? true : null;",
    )
    .await;
    let sizes = ask(
        browser,
        "const files = performance.getEntriesByType('resource')
           .filter((e) => /\\.(js|css)$/.test(new URL(e.name).pathname));
         return [files.length,
           files.reduce((a, e) => a + e.encodedBodySize, 0),
           files.reduce((a, e) => a + e.decodedBodySize, 0)];",
    )
    .await;
    (
        sizes[0].as_u64().unwrap() as usize,
        sizes[1].as_u64().unwrap(),
        sizes[2].as_u64().unwrap(),
    )
}

async fn log_in(browser: &Client, base: &str, name: &str) {
    browser.goto(&format!("{base}/login")).await.unwrap();
    let email = browser
        .wait()
        .for_element(Locator::Css("input[name=email]"))
        .await
        .unwrap();
    email
        .send_keys(&format!("{name}@example.test"))
        .await
        .unwrap();
    browser
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(&format!("{name}-password\u{E007}"))
        .await
        .unwrap();
    until(
        browser,
        "return document.querySelector('main.home') ? true : null;",
    )
    .await;
}

/// Milliseconds from navigation start to the client's mark of the first
/// message list painted, for `loads` full page loads.
async fn first_paints(browser: &Client, url: &str, loads: usize) -> Vec<f64> {
    let mut times = Vec::new();
    for _ in 0..loads {
        browser.goto(url).await.unwrap();
        let at = until(
            browser,
            "const m = performance.getEntriesByName('confab:channel-painted')[0];
             return m ? m.startTime : null;",
        )
        .await;
        times.push(at.as_f64().unwrap());
    }
    times
}

/// Heap at open and after scrolling back through `count` messages, with
/// the page's element count and the messages it still holds.
async fn memory_after_scrolling(browser: &Client, url: &str, count: usize) -> (f64, f64, u64, u64) {
    browser.goto(url).await.unwrap();
    until(
        browser,
        "return performance.getEntriesByName('confab:channel-painted').length ? true : null;",
    )
    .await;
    let heap = "gc(); return performance.memory.usedJSHeapSize;";
    let before = ask(browser, heap).await.as_f64().unwrap();
    let mut seen = 0;
    while seen < count {
        let oldest = ask(
            browser,
            "return document.querySelector('.message').dataset.id;",
        )
        .await;
        browser
            .execute(
                "const s = document.querySelector('.scroller'); s.scrollTop = 0;
                 s.dispatchEvent(new Event('scroll'));",
                vec![],
            )
            .await
            .unwrap();
        let script = format!(
            "const id = document.querySelector('.message').dataset.id; return id !== {oldest} ? id : null;"
        );
        until(browser, &script).await;
        seen += 50;
    }
    let after = ask(browser, heap).await.as_f64().unwrap();
    let nodes = ask(browser, "return document.getElementsByTagName('*').length;").await;
    let kept = ask(
        browser,
        "return document.querySelectorAll('.message').length;",
    )
    .await;
    (
        before,
        after,
        nodes.as_u64().unwrap(),
        kept.as_u64().unwrap(),
    )
}

/// Milliseconds from the Enter in `poster` to the frame after the message
/// appears in `watcher` (one clock: both run on this machine).
async fn post_to_paint(poster: &Client, watcher: &Client, url: &str, posts: usize) -> Vec<f64> {
    for browser in [poster, watcher] {
        browser.goto(url).await.unwrap();
        until(
            browser,
            "return performance.getEntriesByName('confab:channel-painted').length ? true : null;",
        )
        .await;
    }
    ask(
        watcher,
        "window.seen = {};
         const list = document.querySelector('.messages');
         new MutationObserver(() => {
           for (const body of list.querySelectorAll('.message .body')) {
             const text = body.textContent;
             if (text.startsWith('bench-') && !(text in window.seen)) {
               window.seen[text] = 0;
               requestAnimationFrame(() => setTimeout(() => {
                 window.seen[text] = performance.timeOrigin + performance.now();
               }, 0));
             }
           }
         }).observe(list, { childList: true });
         return true;",
    )
    .await;
    let mut latencies = Vec::new();
    for i in 0..posts {
        let text = format!("bench-{i}");
        let sent = poster
            .execute(
                "const box = document.querySelector('.composer textarea');
                 box.value = arguments[0];
                 const at = performance.timeOrigin + performance.now();
                 box.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true }));
                 return at;",
                vec![json!(text)],
            )
            .await
            .unwrap()
            .as_f64()
            .unwrap();
        let script = format!("const t = window.seen['{text}']; return t ? t : null;");
        let painted = until(watcher, &script).await.as_f64().unwrap();
        latencies.push(painted - sent);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    latencies.sort_by(f64::total_cmp);
    latencies
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn percentile(sorted: &[f64], percent: f64) -> f64 {
    let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
