//! The web client: the files under `assets/`, compiled into the binary and
//! served with a strict Content-Security-Policy, strong ETags (answering
//! `304` to a matching `If-None-Match`) and gzip when the browser takes it.
//! The page loads them under `/assets/{version}/`, `version` a digest of all
//! of them, and those answers are cached for good (`immutable`): a reload
//! costs one request for the page, and a new build changes every address.
//! `index.html` answers every route of the client, so deep links work on
//! reload; `/` gives programs (which do not ask for HTML) a JSON description
//! instead.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, LazyLock};

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Every file under `assets/`, by its path there.
static FILES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// What the client's pages may load: only this server's own scripts,
/// styles and connections (the socket included); images also over https
/// (avatars) and as data URLs (the QR code of MFA enrollment).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: https:; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The client's routes: each answers `index.html`, and the client reads the
/// path itself.
pub const CLIENT_ROUTES: &[&str] = &[
    "/login",
    "/signup",
    "/verify-email",
    "/reset-password",
    "/settings",
    "/invite/{token}",
    "/w/{workspace}",
    "/w/{workspace}/c/{channel}",
    "/w/{workspace}/c/{channel}/t/{message}",
];

/// One asset, ready to send.
struct Asset {
    bytes: Bytes,
    gzipped: Option<Vec<u8>>,
    etag: String,
    content_type: &'static str,
}

/// The digest of every asset: the path segment that versions their URLs.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut digest = Sha256::new();
    for (name, bytes) in FILES {
        digest.update(name.as_bytes());
        digest.update((bytes.len() as u64).to_le_bytes());
        digest.update(bytes);
    }
    hex(&digest.finalize()[..8])
});

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

static ASSETS: LazyLock<HashMap<&'static str, Arc<Asset>>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(name, bytes)| {
            let bytes = if *name == "index.html" {
                Bytes::from(versioned_page(bytes))
            } else {
                Bytes::from_static(bytes)
            };
            (*name, Arc::new(prepare(name, bytes)))
        })
        .collect()
});

/// Modules imported only when a rare screen needs them (`import()`): not
/// preloaded, not part of the first load.
pub const LAZY_MODULES: &[&str] = &["js/qr.js", "js/views/integrations.js"];

/// The page with its asset addresses under the current version, and a
/// `modulepreload` link for every module but the lazy ones in place of its
/// marker (the browser fetches them all at once instead of discovering the
/// import graph one level at a time).
fn versioned_page(page: &[u8]) -> Vec<u8> {
    let links: String = FILES
        .iter()
        .filter(|(name, _)| name.starts_with("js/") && name.ends_with(".js"))
        .filter(|(name, _)| !LAZY_MODULES.contains(name))
        .map(|(name, _)| format!("<link rel=\"modulepreload\" href=\"/assets/{name}\">\n  "))
        .collect();
    String::from_utf8_lossy(page)
        .replace("<!-- module preloads -->", links.trim_end())
        .replace("\"/assets/", &format!("\"/assets/{}/", *VERSION))
        .into_bytes()
}

fn prepare(name: &str, bytes: Bytes) -> Asset {
    let etag = format!("\"{}\"", hex(&Sha256::digest(&bytes)[..12]));
    let content_type = content_type(name);
    let compressible = content_type.starts_with("text/")
        || content_type.starts_with("application/javascript")
        || content_type.starts_with("image/svg");
    let gzipped = compressible.then(|| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&bytes).expect("gzip in memory");
        encoder.finish().expect("gzip in memory")
    });
    Asset {
        bytes,
        gzipped,
        etag,
        content_type,
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "application/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The routes of the client; `about` is what `/` tells programs.
pub fn routes<S: Clone + Send + Sync + 'static>(about: Value) -> Router<S> {
    let about = Arc::new(about);
    let mut router = Router::new()
        .route(
            "/",
            get(move |headers: HeaderMap| {
                let about = about.clone();
                async move {
                    if wants_html(&headers) {
                        page(&headers)
                    } else {
                        Json(about.as_ref().clone()).into_response()
                    }
                }
            }),
        )
        .route("/assets/{*path}", get(asset));
    for route in CLIENT_ROUTES {
        router = router.route(
            route,
            get(|headers: HeaderMap| async move { page(&headers) }),
        );
    }
    router
}

/// Whether the request is a browser navigation (it asks for HTML).
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// `index.html`, with the page's security headers.
fn page(headers: &HeaderMap) -> Response {
    let mut response = send(headers, &ASSETS["index.html"]);
    let set = response.headers_mut();
    set.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    set.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    set.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// An asset by its versioned address (cached for good) or its plain one
/// (revalidated each time). An address of another version (a page from
/// before an upgrade) gets today's file, revalidated.
async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let (name, forever) = match path.split_once('/') {
        Some((version, name)) if looks_like_version(version) => (name, version == *VERSION),
        _ => (path.as_str(), false),
    };
    match ASSETS.get(name) {
        // The page is served at the client's routes, not as an asset.
        Some(asset) if name != "index.html" => {
            let mut response = send(&headers, asset);
            if forever {
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                );
            }
            response
        }
        _ => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

fn looks_like_version(segment: &str) -> bool {
    segment.len() == 16 && segment.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The asset, or `304` when the browser holds this version; compressed when
/// the browser takes gzip. Browsers revalidate each time (`no-cache`) unless
/// the caller marks the answer immutable.
fn send(headers: &HeaderMap, asset: &Asset) -> Response {
    let mut response = if matches_etag(headers, &asset.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match &asset.gzipped {
            Some(gzipped) if accepts_gzip(headers) => {
                let mut response = gzipped.clone().into_response();
                response
                    .headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                response
            }
            _ => asset.bytes.clone().into_response(),
        }
    };
    let set = response.headers_mut();
    set.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    set.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    set.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    set.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
        set.insert(header::ETAG, etag);
    }
    response
}

fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accepted| {
            accepted.split(',').any(|coding| {
                let mut parts = coding.split(';');
                let name = parts.next().unwrap_or("").trim();
                let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
                name.eq_ignore_ascii_case("gzip") && !refused
            })
        })
}

/// Names and sizes of the files a first load transfers (all but the lazy
/// modules).
pub fn sizes() -> Vec<(&'static str, usize, Option<usize>)> {
    let mut sizes: Vec<_> = ASSETS
        .iter()
        .filter(|(name, _)| !LAZY_MODULES.contains(name))
        .map(|(name, asset)| {
            (
                *name,
                asset.bytes.len(),
                asset.gzipped.as_ref().map(Vec::len),
            )
        })
        .collect();
    sizes.sort();
    sizes
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use serde_json::json;
    use tower::ServiceExt;

    use super::*;

    async fn get(path: &str, headers: &[(&str, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
        let router: Router = routes(json!({"service": "confab"}));
        let mut request = Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = router
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, headers, body)
    }

    const BROWSER: (&str, &str) = ("accept", "text/html,application/xhtml+xml,*/*;q=0.8");

    #[tokio::test]
    async fn browsers_get_the_client_and_programs_the_description() {
        let (status, headers, body) = get("/", &[BROWSER]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        assert!(String::from_utf8(body).unwrap().contains("/js/main.js"));
        let (status, headers, body) = get("/", &[("accept", "*/*")]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(body, br#"{"service":"confab"}"#);
    }

    #[tokio::test]
    async fn deep_links_answer_the_page() {
        for path in [
            "/login",
            "/w/abc",
            "/w/abc/c/def",
            "/invite/some-token",
            "/w/a/c/b/t/c",
        ] {
            let (status, headers, _) = get(path, &[BROWSER]).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(
                headers[header::CONTENT_SECURITY_POLICY],
                CONTENT_SECURITY_POLICY
            );
        }
    }

    #[tokio::test]
    async fn assets_revalidate_and_compress() {
        let (status, headers, plain) = get("/assets/js/main.js", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "application/javascript; charset=utf-8"
        );
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let etag = headers[header::ETAG].to_str().unwrap().to_owned();
        let (status, _, body) = get("/assets/js/main.js", &[("if-none-match", &etag)]).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
        let (status, headers, zipped) = get(
            "/assets/js/main.js",
            &[("accept-encoding", "br, gzip;q=0.8")],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(&zipped[..]),
            &mut unzipped,
        )
        .unwrap();
        assert_eq!(unzipped, plain);
        let (_, headers, _) = get("/assets/js/main.js", &[("accept-encoding", "gzip;q=0")]).await;
        assert!(headers.get(header::CONTENT_ENCODING).is_none());
    }

    #[tokio::test]
    async fn only_files_of_the_client_are_served() {
        for path in [
            "/assets/nothing.js",
            "/assets/../Cargo.toml",
            "/assets/index.html",
        ] {
            let (status, _, _) = get(path, &[]).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
    }

    #[test]
    fn lazy_modules_are_only_imported_lazily() {
        for lazy in LAZY_MODULES {
            let file = lazy.rsplit('/').next().unwrap();
            for (name, bytes) in FILES {
                let text = String::from_utf8_lossy(bytes);
                let statically = text.lines().any(|line| {
                    line.trim_start().starts_with("import ") && line.contains(&format!("/{file}'"))
                });
                assert!(!statically, "{name} imports {lazy} statically");
            }
            let imported = FILES.iter().any(|(_, bytes)| {
                String::from_utf8_lossy(bytes)
                    .lines()
                    .any(|line| line.contains("import('") && line.contains(&format!("/{file}')")))
            });
            assert!(imported, "nothing imports {lazy}");
        }
    }

    #[tokio::test]
    async fn the_page_preloads_every_module() {
        let (_, _, body) = get("/", &[BROWSER]).await;
        let page = String::from_utf8(body).unwrap();
        assert!(!page.contains("module preloads"), "{page}");
        let modules: Vec<&str> = FILES
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| name.ends_with(".js") && !LAZY_MODULES.contains(name))
            .collect();
        assert!(modules.len() > 10, "{modules:?}");
        for lazy in LAZY_MODULES {
            assert!(!page.contains(lazy), "{lazy} preloaded: {page}");
        }
        for module in modules {
            let link = format!(
                "<link rel=\"modulepreload\" href=\"/assets/{}/{module}\">",
                *VERSION
            );
            assert!(page.contains(&link), "{link} missing from {page}");
        }
    }

    #[tokio::test]
    async fn versioned_addresses_are_cached_for_good_and_plain_ones_revalidated() {
        let (_, _, body) = get("/", &[BROWSER]).await;
        let page = String::from_utf8(body).unwrap();
        let main = format!("/assets/{}/js/main.js", *VERSION);
        assert!(page.contains(&format!("src=\"{main}\"")), "{page}");
        assert!(!page.contains("\"/assets/js/"), "{page}");
        let (status, headers, versioned) = get(&main, &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        let (status, headers, plain) = get("/assets/js/main.js", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert_eq!(plain, versioned);
        // A page from an older build gets today's file, revalidated.
        let (status, headers, older) = get("/assets/0123456789abcdef/js/main.js", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
        assert_eq!(older, versioned);
        let (status, _, _) = get(&format!("/assets/{}/index.html", *VERSION), &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = get(&format!("/assets/{}/js/nothing.js", *VERSION), &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn the_first_load_stays_small() {
        let total: usize = sizes().iter().map(|(_, plain, _)| plain).sum();
        let compressed: usize = sizes()
            .iter()
            .map(|(_, plain, zipped)| zipped.unwrap_or(*plain))
            .sum();
        // The issue's budget: 150 KiB as sent, 50 KiB compressed.
        assert!(total <= 150 * 1024, "{total} bytes");
        assert!(compressed <= 50 * 1024, "{compressed} bytes compressed");
    }
}
