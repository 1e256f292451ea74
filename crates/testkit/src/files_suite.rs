//! Files over HTTP, end to end: uploads streamed, hashed, sniffed and
//! limited; downloads with ranges, entity tags and safe headers; who may
//! read a file; bytes kept once and removed with their last file; and
//! uploads that fail leaving nothing behind. Run for every database and
//! blob store through [`files_conformance!`].

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::app::{FileBackend, Reply, TestApp};
use crate::ws_client::WsClient;

/// The file cases, one test each, run through `$harness`, whose app must
/// use [`test_file_policy`].
#[macro_export]
macro_rules! files_conformance {
    ($harness:path $(, #[$attr:meta])*) => {
        $crate::__conformance_cases!(files_suite, 2, $harness, [$(#[$attr])*],
            uploads_are_hashed_sniffed_and_served_safely,
            ranges_and_entity_tags_are_honoured,
            bad_uploads_are_refused_and_leave_nothing,
            a_client_that_goes_away_mid_upload_leaves_nothing,
            who_may_read_a_file,
            files_travel_with_messages_and_are_listed,
            same_bytes_are_kept_once_until_the_last_file_goes,
            quotas_and_downloads_are_counted,
            public_links_work_until_revoked_expired_or_deleted,
            files_with_an_expiry_are_removed_by_the_job,
            images_get_thumbnails_and_bad_images_fail_alone,
            file_events_reach_those_who_may_see_the_file,
            large_files_go_in_two_steps,
            unread_bytes_move_down_the_tiers,
        );
    };
}

/// The upload limit of the suite's apps.
pub const TEST_MAX_UPLOAD: u64 = 256 * 1024;
/// The per-person quota of the suite's apps.
pub const TEST_QUOTA: u64 = 600 * 1024;

/// Upload rules of the suite: small limits, executables refused.
pub fn test_file_policy() -> confab_service::FilePolicy {
    confab_service::FilePolicy {
        max_upload_bytes: TEST_MAX_UPLOAD,
        user_quota_bytes: TEST_QUOTA,
        denied_types: vec!["application/x-executable".into()],
        ..confab_service::FilePolicy::default()
    }
}

/// A local file backend with the suite's rules.
pub fn local_test_files() -> FileBackend {
    FileBackend::local(test_file_policy())
}

/// A PNG of `width` x `height` pixels.
pub fn png_image(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::DynamicImage::new_rgb8(width, height)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

/// The first bytes of a PNG: enough for a type to be sniffed.
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
    0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

const BOUNDARY: &str = "confab-test-boundary-7d1f";

/// One part of a multipart form: name, file name, content type, bytes.
pub struct Part<'a> {
    pub name: &'a str,
    pub filename: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub bytes: &'a [u8],
}

/// A `multipart/form-data` body of `parts`.
pub fn form(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", part.name);
        if let Some(name) = part.filename {
            disposition += &format!("; filename=\"{name}\"");
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(kind) = part.content_type {
            body.extend_from_slice(format!("Content-Type: {kind}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(part.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// Post a multipart `body` to the workspace's files.
pub async fn upload_form(app: &TestApp, token: &str, ws: &str, body: Vec<u8>) -> Reply {
    let response = app
        .http
        .post(format!("{}/api/v1/workspaces/{ws}/files", app.base))
        .bearer_auth(token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload");
    TestApp::reply(response).await
}

/// Upload `bytes` as `name` (claiming `claimed`); the reply.
pub async fn upload(
    app: &TestApp,
    token: &str,
    ws: &str,
    name: &str,
    claimed: &str,
    bytes: &[u8],
) -> Reply {
    let part = Part {
        name: "file",
        filename: Some(name),
        content_type: Some(claimed),
        bytes,
    };
    upload_form(app, token, ws, form(&[part])).await
}

/// Upload and expect it stored; the file.
async fn stored(app: &TestApp, token: &str, ws: &str, name: &str, bytes: &[u8]) -> Value {
    let reply = upload(app, token, ws, name, "application/octet-stream", bytes).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body
}

/// `GET` a file's bytes with extra headers: status, headers, bytes.
async fn download(
    app: &TestApp,
    token: &str,
    file: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = app
        .http
        .get(format!("{}/api/v1/files/{file}/content", app.base))
        .bearer_auth(token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("download");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("bytes").to_vec();
    (status, headers, bytes)
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_default()
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

/// Every key the app's blob store holds.
async fn blob_keys(app: &TestApp) -> Vec<String> {
    app.files.blobs.list("").await.expect("list blobs")
}

/// Wait (at most 5 s) until the blob store is empty and no removal is due.
async fn nothing_left(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let keys = blob_keys(app).await;
        let far = confab_core::time::now() + chrono::Duration::days(400);
        let queued = app.stores.files.due_blob_cleanups(far, 10).await.unwrap();
        let staged = staging_files(app);
        if keys.is_empty() && queued.is_empty() && staged.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "left behind: blobs {keys:?}, queued {queued:?}, staging files {staged:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Files on disk under a local store (staging files included).
fn staging_files(app: &TestApp) -> Vec<std::path::PathBuf> {
    let Some(root) = app.files.dir() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

async fn post_files(
    app: &TestApp,
    token: &str,
    channel: &str,
    text: &str,
    files: &[&str],
) -> Reply {
    app.post(
        &format!("/api/v1/channels/{channel}/messages"),
        Some(token),
        json!({ "content": text, "file_ids": files }),
    )
    .await
}

/// A new channel of the workspace; its id.
async fn new_channel(app: &TestApp, token: &str, ws: &str, name: &str, private: bool) -> String {
    crate::api_suite::new_channel(app, token, ws, json!({ "name": name, "private": private })).await
}

/// `DELETE` a file; the status.
async fn delete_file(app: &TestApp, token: &str, file: &str) -> StatusCode {
    let path = format!("/api/v1/files/{file}");
    app.call(reqwest::Method::DELETE, &path, Some(token), None)
        .await
        .status
}

/// Run the server's file cleanup now.
async fn clean_up(app: &TestApp) {
    let services = app.services.as_ref().expect("an in-process server");
    services.clean_up_files().await.expect("file cleanup");
}

pub async fn uploads_are_hashed_sniffed_and_served_safely(app: TestApp) {
    let ann = app.user("ann").await;
    let ws = app.workspace(&ann, "Files").await;
    // A name with a path, a NUL and a right-to-left override, sent as the
    // form's `filename` part (a NUL cannot travel in a part's header).
    let parts = [
        Part {
            name: "filename",
            filename: None,
            content_type: None,
            bytes: "../../etc/cat\u{202E}gnp.exe\0".as_bytes(),
        },
        Part {
            name: "file",
            filename: Some("ignored.txt"),
            content_type: Some("text/plain"),
            bytes: PNG,
        },
    ];
    let reply = upload_form(&app, &ann, &ws, form(&parts)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let file = reply.body;
    assert_eq!(
        file["name"], "catgnp.exe",
        "paths, NULs and overrides are gone"
    );
    assert_eq!(
        file["mime_type"], "image/png",
        "the bytes decide, not the claim"
    );
    assert_eq!(file["size"], PNG.len());
    let sha = format!("{:x}", Sha256::digest(PNG));
    assert_eq!(file["sha256"], sha.as_str());
    let (status, headers, bytes) = download(&app, &ann, &id(&file), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, PNG);
    assert_eq!(header(&headers, "content-type"), "image/png");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert!(header(&headers, "content-security-policy").starts_with("sandbox"));
    assert_eq!(
        header(&headers, "content-disposition"),
        "inline; filename=\"catgnp.exe\"; filename*=UTF-8''catgnp.exe"
    );
    assert_eq!(header(&headers, "etag"), format!("\"{sha}\""));
    let read = app.get(&format!("/api/v1/files/{}", id(&file)), &ann).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(
        read.body["url_private"],
        format!("/api/v1/files/{}/content", id(&file))
    );

    // Active content is never shown inline, whatever it claims to be.
    let page = b"<!DOCTYPE html><script>alert(1)</script>";
    let html = upload(&app, &ann, &ws, "photo.png", "image/png", page).await;
    assert_eq!(html.body["mime_type"], "text/html");
    let (_, headers, _) = download(&app, &ann, &id(&html.body), &[]).await;
    assert!(header(&headers, "content-disposition").starts_with("attachment;"));
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    let svg = upload(
        &app,
        &ann,
        &ws,
        "logo.svg",
        "image/svg+xml",
        b"<svg onload='x()'/>",
    )
    .await;
    assert_eq!(svg.body["mime_type"], "image/svg+xml");
    let (_, headers, _) = download(&app, &ann, &id(&svg.body), &[]).await;
    assert!(header(&headers, "content-disposition").starts_with("attachment;"));
}

pub async fn ranges_and_entity_tags_are_honoured(app: TestApp) {
    let ann = app.user("ann").await;
    let ws = app.workspace(&ann, "Ranges").await;
    let bytes: Vec<u8> = (0..1000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let file = id(&stored(&app, &ann, &ws, "letters.txt", &bytes).await);
    let (status, headers, body) = download(&app, &ann, &file, &[("range", "bytes=10-19")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, &bytes[10..20]);
    assert_eq!(header(&headers, "content-range"), "bytes 10-19/1000");
    let (status, _, body) = download(&app, &ann, &file, &[("range", "bytes=-5")]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, &bytes[995..]);
    let (status, headers, _) = download(&app, &ann, &file, &[("range", "bytes=1000-")]).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(header(&headers, "content-range"), "bytes */1000");
    let (status, _, body) = download(&app, &ann, &file, &[("range", "bytes=0-1,5-6")]).await;
    assert_eq!(status, StatusCode::OK, "several ranges: the whole file");
    assert_eq!(body, bytes);

    let (_, headers, _) = download(&app, &ann, &file, &[]).await;
    let tag = header(&headers, "etag").to_owned();
    let (status, _, body) = download(&app, &ann, &file, &[("if-none-match", &tag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    let (status, _, _) = download(&app, &ann, &file, &[("if-none-match", "\"other\"")]).await;
    assert_eq!(status, StatusCode::OK);
}

pub async fn bad_uploads_are_refused_and_leave_nothing(app: TestApp) {
    let ann = app.user("ann").await;
    let ws = app.workspace(&ann, "Refusals").await;
    let empty = upload(&app, &ann, &ws, "empty.txt", "text/plain", b"").await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{empty:?}");
    assert_eq!(empty.body["error"]["field"], "file");

    let over = vec![b'x'; TEST_MAX_UPLOAD as usize + 1];
    let reply = upload(&app, &ann, &ws, "big.txt", "text/plain", &over).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{reply:?}");
    let exact = stored(&app, &ann, &ws, "exact.txt", &over[1..]).await;
    assert_eq!(exact["size"], TEST_MAX_UPLOAD);
    let exact_id = id(&exact);

    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.resize(64, 0);
    let reply = upload(&app, &ann, &ws, "tool", "text/plain", &elf).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert!(reply.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("application/x-executable"));

    let no_file = form(&[Part {
        name: "filename",
        filename: None,
        content_type: None,
        bytes: b"a.txt",
    }]);
    let reply = upload_form(&app, &ann, &ws, no_file).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    let garbage = upload_form(&app, &ann, &ws, b"--nonsense\r\n\r\n".to_vec()).await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST, "{garbage:?}");
    let nul_in_header = upload(&app, &ann, &ws, "a\0b.txt", "text/plain", b"hi").await;
    assert_eq!(
        nul_in_header.status,
        StatusCode::BAD_REQUEST,
        "{nul_in_header:?}"
    );

    let stranger = app.user("stranger").await;
    let reply = upload(&app, &stranger, &ws, "a.txt", "text/plain", b"hi").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "not a member");

    // Only the accepted file is stored.
    let listed = app
        .get(&format!("/api/v1/workspaces/{ws}/files"), &ann)
        .await;
    let ids: Vec<&str> = listed.body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [exact_id.as_str()]);
    assert_eq!(blob_keys(&app).await.len(), 1);
    assert_eq!(
        delete_file(&app, &ann, &exact_id).await,
        StatusCode::NO_CONTENT
    );
    clean_up(&app).await;
    nothing_left(&app).await;
}

pub async fn a_client_that_goes_away_mid_upload_leaves_nothing(app: TestApp) {
    let ann = app.user("ann").await;
    let ws = app.workspace(&ann, "Cut").await;
    let body = form(&[Part {
        name: "file",
        filename: Some("half.bin"),
        content_type: None,
        bytes: &vec![7u8; 200 * 1024],
    }]);
    let address = app.base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /api/v1/workspaces/{ws}/files HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {ann}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&body[..120 * 1024]).await.unwrap();
    socket.flush().await.unwrap();
    // Give the server time to start storing, then go away.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(socket);
    nothing_left(&app).await;
    let listed = app
        .get(&format!("/api/v1/workspaces/{ws}/files"), &ann)
        .await;
    assert_eq!(listed.body["files"], json!([]));
}

pub async fn who_may_read_a_file(app: TestApp) {
    let owner = app.user("owner").await;
    let ws = app.workspace(&owner, "Access").await;
    let member = app.user("member").await;
    let leaver = app.user("leaver").await;
    let guest = app.user("guest").await;
    for (token, role) in [(&member, "member"), (&leaver, "member"), (&guest, "guest")] {
        app.join(&owner, &ws, token, role).await;
    }
    let outsider = app.user("outsider").await;
    let foreign_ws = app.workspace(&outsider, "Elsewhere").await;
    let private = new_channel(&app, &owner, &ws, "private", true).await;
    let public = new_channel(&app, &owner, &ws, "public", false).await;
    app.add_to_channel(&owner, &private, &app.user_id(&member).await)
        .await;
    app.add_to_channel(&owner, &private, &app.user_id(&leaver).await)
        .await;

    let secret = id(&stored(&app, &owner, &ws, "secret.txt", b"private words").await);
    let open = id(&stored(&app, &owner, &ws, "open.txt", b"public words").await);
    let unshared = id(&stored(&app, &owner, &ws, "mine.txt", b"only mine").await);
    assert_eq!(
        post_files(&app, &owner, &private, "", &[&secret])
            .await
            .status,
        StatusCode::CREATED
    );
    let shared = post_files(&app, &owner, &public, "see", &[&open]).await;
    assert_eq!(shared.status, StatusCode::CREATED);

    let leave = app
        .post(
            &format!("/api/v1/channels/{private}/leave"),
            Some(&leaver),
            json!({}),
        )
        .await;
    assert!(leave.status.is_success(), "{leave:?}");

    let can_read = |token: &String, file: &String| {
        let (app, token, file) = (&app, token.clone(), file.clone());
        async move {
            let meta = app
                .get(&format!("/api/v1/files/{file}"), &token)
                .await
                .status;
            let (bytes, _, _) = download(app, &token, &file, &[]).await;
            assert_eq!(meta, bytes, "metadata and bytes answer alike");
            meta == StatusCode::OK
        }
    };
    let matrix = [
        ("owner", &owner, [true, true, true]),
        ("member", &member, [true, true, false]),
        ("leaver", &leaver, [false, true, false]),
        ("guest", &guest, [false, false, false]),
        ("outsider", &outsider, [false, false, false]),
    ];
    for (who, token, expected) in &matrix {
        let seen = [
            can_read(token, &secret).await,
            can_read(token, &open).await,
            can_read(token, &unshared).await,
        ];
        assert_eq!(&seen, expected, "{who}: secret, open, unshared");
    }
    // Another workspace's member cannot share it either.
    let foreign_general = app.general_channel(&outsider, &foreign_ws).await;
    let reply = post_files(&app, &outsider, &foreign_general, "mine now", &[&open]).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{reply:?}");

    // Deleting the message unshares; deleting the file hides it from all.
    let message = id(&shared.body);
    let deleted = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/messages/{message}"),
            Some(&owner),
            None,
        )
        .await;
    assert!(deleted.status.is_success(), "{deleted:?}");
    assert!(!can_read(&member, &open).await);
    assert!(can_read(&owner, &open).await);
    assert_eq!(
        delete_file(&app, &member, &secret).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        delete_file(&app, &owner, &secret).await,
        StatusCode::NO_CONTENT
    );
    assert!(!can_read(&owner, &secret).await);
    assert!(!can_read(&member, &secret).await);
}

pub async fn files_travel_with_messages_and_are_listed(app: TestApp) {
    let ann = app.user("ann").await;
    let ws = app.workspace(&ann, "Sharing").await;
    let general = app.general_channel(&ann, &ws).await;
    let other = new_channel(&app, &ann, &ws, "other", false).await;
    let a = id(&stored(&app, &ann, &ws, "a.txt", b"first").await);
    let b = id(&stored(&app, &ann, &ws, "b.txt", b"second").await);
    let posted = post_files(&app, &ann, &general, "two files", &[&a, &b]).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{posted:?}");
    assert_eq!(posted.body["message_type"], "file");
    let names: Vec<&str> = posted.body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a.txt", "b.txt"]);
    let only_file = post_files(&app, &ann, &other, "", &[&a]).await;
    assert_eq!(
        only_file.status,
        StatusCode::CREATED,
        "shared again, without text"
    );

    let history = app
        .get(&format!("/api/v1/channels/{general}/messages"), &ann)
        .await;
    let first = &history.body["messages"][0];
    assert_eq!(first["files"].as_array().unwrap().len(), 2, "{history:?}");

    // A reply carries files too, and its thread lists them.
    let parent = id(&posted.body);
    let reply = app
        .post(
            &format!("/api/v1/channels/{general}/messages"),
            Some(&ann),
            json!({ "content": "", "thread_id": parent, "file_ids": [&b] }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    let thread = app
        .get(&format!("/api/v1/messages/{parent}/replies"), &ann)
        .await;
    assert_eq!(
        thread.body["messages"][0]["files"][0]["id"],
        b.as_str(),
        "{thread:?}"
    );

    let in_other = app
        .get(
            &format!("/api/v1/workspaces/{ws}/files?channel={other}"),
            &ann,
        )
        .await;
    let listed: Vec<&str> = in_other.body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [a.as_str()]);
    let page = app
        .get(&format!("/api/v1/workspaces/{ws}/files?limit=1"), &ann)
        .await;
    assert_eq!(page.body["files"][0]["id"], b.as_str());
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let next = app
        .get(
            &format!("/api/v1/workspaces/{ws}/files?limit=1&cursor={cursor}"),
            &ann,
        )
        .await;
    assert_eq!(next.body["files"][0]["id"], a.as_str());
    let bad = app
        .get(
            &format!("/api/v1/workspaces/{ws}/files?cursor=nonsense"),
            &ann,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let too_many: Vec<String> = (0..11).map(|_| a.clone()).collect();
    let refs: Vec<&str> = too_many.iter().map(String::as_str).collect();
    let reply = post_files(&app, &ann, &general, "many", &refs).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{reply:?}");
    let unknown = uuid::Uuid::now_v7().to_string();
    let reply = post_files(&app, &ann, &general, "ghost", &[&unknown]).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{reply:?}");
}

pub async fn same_bytes_are_kept_once_until_the_last_file_goes(app: TestApp) {
    let ann = app.user("ann").await;
    let ws = app.workspace(&ann, "Dedup").await;
    let first = id(&stored(&app, &ann, &ws, "one.txt", b"the same bytes").await);
    let second = id(&stored(&app, &ann, &ws, "two.txt", b"the same bytes").await);
    assert_ne!(first, second);
    assert_eq!(blob_keys(&app).await.len(), 1, "one copy of the bytes");
    assert_eq!(
        delete_file(&app, &ann, &first).await,
        StatusCode::NO_CONTENT
    );
    clean_up(&app).await;
    let (status, _, bytes) = download(&app, &ann, &second, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, b"the same bytes");
    assert_eq!(
        delete_file(&app, &ann, &second).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        delete_file(&app, &ann, &first).await,
        StatusCode::NOT_FOUND,
        "a deleted file is gone"
    );
    clean_up(&app).await;
    nothing_left(&app).await;
}

pub async fn quotas_and_downloads_are_counted(app: TestApp) {
    let ann = app.user("ann").await;
    let ws = app.workspace(&ann, "Quota").await;
    let chunk = |fill: u8| vec![fill; 250 * 1024];
    let a = id(&stored(&app, &ann, &ws, "a.bin", &chunk(1)).await);
    stored(&app, &ann, &ws, "b.bin", &chunk(2)).await;
    let reply = upload(
        &app,
        &ann,
        &ws,
        "c.bin",
        "application/octet-stream",
        &chunk(3),
    )
    .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{reply:?}");
    assert!(reply.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("quota"));

    for range in [None, Some("bytes=0-9"), Some("bytes=100-199"), None] {
        let headers: Vec<(&str, &str)> = range.iter().map(|r| ("range", *r)).collect();
        let (status, _, _) = download(&app, &ann, &a, &headers).await;
        assert!(status.is_success());
    }
    app.services
        .as_ref()
        .unwrap()
        .flush_downloads()
        .await
        .unwrap();
    let read = app.get(&format!("/api/v1/files/{a}"), &ann).await;
    assert_eq!(
        read.body["download_count"], 3,
        "whole downloads and first ranges count"
    );
}

/// `GET` a public link without credentials: status and bytes.
async fn open_link(app: &TestApp, url: &str) -> (StatusCode, Vec<u8>) {
    let response = app
        .http
        .get(format!("{}{url}", app.base))
        .send()
        .await
        .expect("open link");
    let status = response.status();
    (status, response.bytes().await.expect("bytes").to_vec())
}

async fn make_link(app: &TestApp, token: &str, file: &str, body: Value) -> Reply {
    app.post(
        &format!("/api/v1/files/{file}/public-link"),
        Some(token),
        body,
    )
    .await
}

pub async fn public_links_work_until_revoked_expired_or_deleted(app: TestApp) {
    let ann = app.user("ann").await;
    let ws = app.workspace(&ann, "Links").await;
    let general = app.general_channel(&ann, &ws).await;
    let bob = app.user("bob").await;
    app.join(&ann, &ws, &bob, "member").await;
    let file = id(&stored(&app, &ann, &ws, "report.txt", b"quarterly numbers").await);
    assert_eq!(
        post_files(&app, &ann, &general, "report", &[&file])
            .await
            .status,
        StatusCode::CREATED
    );

    let first = make_link(&app, &ann, &file, json!({})).await;
    assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
    let first_url = first.body["url"].as_str().unwrap().to_owned();
    assert!(
        first_url.len() > "/api/v1/public/files/".len() + 40,
        "a long random token"
    );
    assert_eq!(
        open_link(&app, &first_url).await,
        (StatusCode::OK, b"quarterly numbers".to_vec())
    );
    let refused = make_link(&app, &bob, &file, json!({})).await;
    assert_eq!(
        refused.status,
        StatusCode::FORBIDDEN,
        "readers may not publish: {refused:?}"
    );
    for bad in [0, 366 * 86_400] {
        let reply = make_link(&app, &ann, &file, json!({ "expires_in_secs": bad })).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}: {reply:?}");
    }

    // A new link replaces the old one; revoking ends it.
    let second = make_link(&app, &ann, &file, json!({})).await;
    let second_url = second.body["url"].as_str().unwrap().to_owned();
    assert_eq!(open_link(&app, &first_url).await.0, StatusCode::NOT_FOUND);
    assert_eq!(open_link(&app, &second_url).await.0, StatusCode::OK);
    let revoked = app
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/files/{file}/public-link"),
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(open_link(&app, &second_url).await.0, StatusCode::NOT_FOUND);

    // An expired link opens nothing.
    let short = make_link(&app, &ann, &file, json!({ "expires_in_secs": 1 })).await;
    let short_url = short.body["url"].as_str().unwrap().to_owned();
    assert_eq!(open_link(&app, &short_url).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(open_link(&app, &short_url).await.0, StatusCode::NOT_FOUND);

    // The link dies with its file.
    let last = make_link(&app, &ann, &file, json!({})).await;
    let last_url = last.body["url"].as_str().unwrap().to_owned();
    assert_eq!(delete_file(&app, &ann, &file).await, StatusCode::NO_CONTENT);
    assert_eq!(open_link(&app, &last_url).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        open_link(&app, "/api/v1/public/files/forged").await.0,
        StatusCode::NOT_FOUND
    );
}

pub async fn files_with_an_expiry_are_removed_by_the_job(app: TestApp) {
    let ann = app.user("ann").await;
    let ws = app.workspace(&ann, "Expiry").await;
    let parts = |secs: &'static [u8]| {
        form(&[
            Part {
                name: "expires_in_secs",
                filename: None,
                content_type: None,
                bytes: secs,
            },
            Part {
                name: "file",
                filename: Some("brief.txt"),
                content_type: None,
                bytes: b"for a moment",
            },
        ])
    };
    let bad = upload_form(&app, &ann, &ws, parts(b"soon")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{bad:?}");
    let too_long = upload_form(&app, &ann, &ws, parts(b"99999999999")).await;
    assert_eq!(too_long.status, StatusCode::BAD_REQUEST, "{too_long:?}");
    let brief = upload_form(&app, &ann, &ws, parts(b"1")).await;
    assert_eq!(brief.status, StatusCode::CREATED, "{brief:?}");
    let kept = id(&stored(&app, &ann, &ws, "kept.txt", b"for good").await);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    clean_up(&app).await;
    let read = app
        .get(&format!("/api/v1/files/{}", id(&brief.body)), &ann)
        .await;
    assert_eq!(read.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("/api/v1/files/{kept}"), &ann).await.status,
        StatusCode::OK
    );
    assert_eq!(
        blob_keys(&app).await.len(),
        1,
        "only the kept file's bytes remain"
    );
}

/// Wait (at most 10 s) until the file's processing ended; the file.
pub async fn processed(app: &TestApp, token: &str, file: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = app.get(&format!("/api/v1/files/{file}"), token).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
        let status = reply.body["processing_status"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if status != "pending" && status != "processing" {
            return reply.body;
        }
        assert!(tokio::time::Instant::now() < deadline, "still {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A one-page PDF whose page says `text` (ASCII, no parentheses), in
/// Helvetica.
pub fn pdf_with_text(text: &str) -> Vec<u8> {
    let content = format!("BT /F1 24 Tf 72 700 Td ({text}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (n, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", n + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A well-formed PNG header claiming `width` x `height` pixels, with a
/// tiny compressed body: what a decompression bomb looks like to a decoder.
pub fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = PNG[..8].to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut header = width.to_be_bytes().to_vec();
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(b"IHDR", &header);
    // A zlib stream of a few zero bytes.
    chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01],
    );
    chunk(b"IEND", &[]);
    png
}

/// A JPEG of `width` x `height` whose EXIF says to turn it a quarter
/// (orientation 6) and carries a GPS position.
pub fn jpeg_with_exif(width: u32, height: u32) -> Vec<u8> {
    let image = image::DynamicImage::new_rgb8(width, height);
    let mut plain = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut plain),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    // TIFF, little-endian: IFD0 with Orientation and the GPS IFD's offset,
    // then a GPS IFD with GPSLatitudeRef "N".
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]);
    tiff.extend_from_slice(&[0x25, 0x88, 4, 0, 1, 0, 0, 0, 38, 0, 0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&[0x01, 0x00, 2, 0, 2, 0, 0, 0, b'N', 0, 0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1];
    jpeg.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    jpeg.extend_from_slice(&app1);
    jpeg.extend_from_slice(&plain[2..]);
    jpeg
}

pub async fn images_get_thumbnails_and_bad_images_fail_alone(app: TestApp) {
    let ann = app.user("ann").await;
    let ws = app.workspace(&ann, "Pictures").await;
    let photo = id(&stored(&app, &ann, &ws, "photo.jpg", &jpeg_with_exif(200, 100)).await);
    let bomb = id(&stored(&app, &ann, &ws, "bomb.png", &png_claiming(10_000, 10_000)).await);
    let whole = jpeg_with_exif(300, 300);
    let cut = id(&stored(&app, &ann, &ws, "cut.jpg", &whole[..whole.len() / 2]).await);
    let notes = id(&stored(&app, &ann, &ws, "notes.md", b"# Plan\nship the parser").await);
    let report = pdf_with_text("Quarterly plan for the harbour");
    let report = id(&stored(&app, &ann, &ws, "report.pdf", &report).await);
    let broken_pdf = id(&stored(&app, &ann, &ws, "broken.pdf", b"%PDF-1.7\nnot really").await);

    let done = processed(&app, &ann, &photo).await;
    assert_eq!(done["processing_status"], "done");
    assert_eq!(
        done["virus_scan_status"], "skipped",
        "no scanner is configured"
    );
    let thumbs: Vec<(u64, u64, u64)> = done["thumbnails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["size"].as_u64().unwrap(),
                t["width"].as_u64().unwrap(),
                t["height"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        thumbs,
        [(64, 32, 64), (360, 100, 200)],
        "turned upright, never enlarged"
    );
    let url = done["thumbnails"][1]["url"].as_str().unwrap();
    let response = app
        .http
        .get(format!("{}{url}", app.base))
        .bearer_auth(&ann)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(response.headers(), "content-type"), "image/jpeg");
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8]));
    assert!(
        !bytes.windows(4).any(|w| w == b"Exif"),
        "the thumbnail carries no EXIF (and so no GPS)"
    );
    let stranger = app.user("stranger").await;
    let peek = app
        .http
        .get(format!("{}{url}", app.base))
        .bearer_auth(&stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(peek.status(), StatusCode::NOT_FOUND);

    for broken in [&bomb, &cut] {
        let failed = processed(&app, &ann, broken).await;
        assert_eq!(failed["processing_status"], "failed", "{failed}");
        assert_eq!(failed["thumbnails"], json!([]));
        let (status, _, _) = download(&app, &ann, broken, &[]).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "a file that failed processing stays downloadable"
        );
    }
    assert_eq!(
        processed(&app, &ann, &notes).await["processing_status"],
        "done"
    );
    let notes_id: confab_core::id::FileId = notes.parse().unwrap();
    let stored_notes = app.stores.files.get_file(notes_id).await.unwrap().unwrap();
    assert_eq!(
        stored_notes.extracted_text.as_deref(),
        Some("# Plan\nship the parser")
    );
    assert_eq!(
        processed(&app, &ann, &report).await["processing_status"],
        "done"
    );
    let report_id: confab_core::id::FileId = report.parse().unwrap();
    let stored_report = app.stores.files.get_file(report_id).await.unwrap().unwrap();
    assert_eq!(
        stored_report.extracted_text.as_deref().map(str::trim),
        Some("Quarterly plan for the harbour")
    );
    assert_eq!(
        processed(&app, &ann, &broken_pdf).await["processing_status"],
        "failed"
    );

    // Deleting the file removes its thumbnails with its bytes.
    assert_eq!(
        delete_file(&app, &ann, &photo).await,
        StatusCode::NO_CONTENT
    );
    clean_up(&app).await;
    let keys = blob_keys(&app).await;
    assert!(!keys.iter().any(|k| k.contains(&photo)), "{keys:?}");
    assert_eq!(keys.len(), 5, "the five other files' bytes: {keys:?}");
}

pub async fn file_events_reach_those_who_may_see_the_file(app: TestApp) {
    let ann = app.user("ann").await;
    let ws = app.workspace(&ann, "Events").await;
    let bob = app.user("bob").await;
    let carol = app.user("carol").await;
    app.join(&ann, &ws, &bob, "member").await;
    app.join(&ann, &ws, &carol, "member").await;
    let design = new_channel(&app, &ann, &ws, "design", true).await;
    app.add_to_channel(&ann, &design, &app.user_id(&bob).await)
        .await;
    let mut ann_socket = WsClient::connect(&app.base, &ann).await;
    let mut bob_socket = WsClient::connect(&app.base, &bob).await;
    let mut carol_socket = WsClient::connect(&app.base, &carol).await;
    let before_post = bob_socket.hello["cursor"].as_str().unwrap().to_owned();

    // The uploader hears that processing ended, before the file is shared.
    let photo = id(&stored(&app, &ann, &ws, "photo.png", &png_image(80, 40)).await);
    let done = ann_socket
        .expect_where("file_processed", |e| e["file"]["id"] == photo.as_str())
        .await;
    assert_eq!(done["file"]["processing_status"], "done");
    assert_eq!(done["file"]["thumbnails"].as_array().unwrap().len(), 2);
    for private in ["storage_key", "extracted_text", "share_token"] {
        assert!(done["file"].get(private).is_none(), "{private} in {done}");
    }

    // Sharing it tells the channel, after the message itself.
    let posted = post_files(&app, &ann, &design, "the mock-up", &[&photo]).await;
    assert_eq!(posted.status, StatusCode::CREATED, "{posted:?}");
    let message = id(&posted.body);
    let seen = bob_socket.until("file_shared", |_| true).await;
    assert!(
        seen.iter()
            .any(|e| e["type"] == "message_created" && e["message"]["id"] == message.as_str()),
        "{seen:?}"
    );
    let shared = seen.last().unwrap();
    assert_eq!(shared["channel_id"], design.as_str());
    assert_eq!(shared["message_id"], message.as_str());
    assert_eq!(shared["file"]["id"], photo.as_str());
    assert_eq!(
        shared["file"]["url_private"],
        format!("/api/v1/files/{photo}/content")
    );
    assert_eq!(shared["file"]["thumbnails"][0]["size"], 64);

    // A socket catching up is sent the files with the message.
    let mut back = WsClient::connect_query(&app.base, &bob, &format!("cursor={before_post}")).await;
    let replayed = back
        .expect_where("file_shared", |e| e["message_id"] == message.as_str())
        .await;
    assert_eq!(replayed["file"]["id"], photo.as_str());
    back.close().await;

    // Processing again tells the channels it is shared in.
    let photo_id: confab_core::id::FileId = photo.parse().unwrap();
    let again = confab_core::model::FileProcessingUpdate {
        processing_status: Some("pending".into()),
        ..Default::default()
    };
    app.stores
        .files
        .update_file_processing(photo_id, &again)
        .await
        .unwrap();
    let services = app.services.as_ref().expect("an in-process server");
    services.process_pending_files().await.unwrap();
    let reprocessed = bob_socket
        .expect_where("file_processed", |e| e["file"]["id"] == photo.as_str())
        .await;
    assert_eq!(reprocessed["file"]["processing_status"], "done");

    // Deleting it tells the channel, and the uploader on her own topic.
    assert_eq!(
        delete_file(&app, &ann, &photo).await,
        StatusCode::NO_CONTENT
    );
    let gone = bob_socket.expect("file_deleted").await;
    assert_eq!(gone["file_id"], photo.as_str());
    assert_eq!(gone["channel_id"], design.as_str());
    ann_socket
        .expect_where("file_deleted", |e| {
            e["file_id"] == photo.as_str() && e["channel_id"].is_null()
        })
        .await;

    // Carol, outside the channel, heard none of it: everything before a
    // message in a channel she is in.
    let general = app.general_channel(&ann, &ws).await;
    let marker = app
        .post(
            &format!("/api/v1/channels/{general}/messages"),
            Some(&ann),
            json!({ "content": "marker" }),
        )
        .await;
    let marker = id(&marker.body);
    let heard = carol_socket
        .until("message_created", |e| e["message"]["id"] == marker.as_str())
        .await;
    let about_files: Vec<&Value> = heard
        .iter()
        .filter(|e| e["type"].as_str().unwrap().starts_with("file_"))
        .collect();
    assert!(about_files.is_empty(), "{about_files:?}");
}

/// `PUT` `body` to a planned upload's URL, with its `Content-Length` when
/// `sized`, else streamed without one.
async fn put_bytes(app: &TestApp, token: &str, url: &str, body: Vec<u8>, sized: bool) -> Reply {
    let body = match sized {
        true => reqwest::Body::from(body),
        false => reqwest::Body::wrap_stream(futures::stream::iter(
            body.chunks(1000)
                .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
                .collect::<Vec<_>>(),
        )),
    };
    let response = app
        .http
        .put(format!("{}{url}", app.base))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

pub async fn large_files_go_in_two_steps(app: TestApp) {
    let ann = app.user("ann").await;
    let ws = app.workspace(&ann, "Big files").await;
    let bob = app.user("bob").await;
    app.join(&ann, &ws, &bob, "member").await;
    let bytes: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let plan = |length: u64| {
        let (app, ann, ws) = (&app, ann.clone(), ws.clone());
        async move {
            let body = json!({ "filename": "../big.bin", "length": length, "content_type": "application/zip" });
            app.post(
                &format!("/api/v1/workspaces/{ws}/uploads"),
                Some(&ann),
                body,
            )
            .await
        }
    };

    // Limits are checked before a byte is sent.
    assert_eq!(plan(0).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        plan(TEST_MAX_UPLOAD + 1).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let stranger = app.user("stranger").await;
    let foreign = app
        .post(
            &format!("/api/v1/workspaces/{ws}/uploads"),
            Some(&stranger),
            json!({ "filename": "x", "length": 1 }),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);

    let planned = plan(bytes.len() as u64).await;
    assert_eq!(planned.status, StatusCode::CREATED, "{planned:?}");
    let url = planned.body["upload_url"].as_str().unwrap().to_owned();
    let upload = planned.body["upload_id"].as_str().unwrap().to_owned();
    let file_id = planned.body["file_id"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("/api/v1/uploads/{upload}"));
    let complete = format!("/api/v1/uploads/{upload}/complete");
    assert_eq!(
        app.post(&complete, Some(&ann), json!({})).await.status,
        StatusCode::CONFLICT,
        "nothing was sent yet"
    );

    // Only its planner may send the bytes, and only as many as planned.
    let by_bob = put_bytes(&app, &bob, &url, bytes.clone(), true).await;
    assert_eq!(by_bob.status, StatusCode::NOT_FOUND, "{by_bob:?}");
    let short = put_bytes(&app, &ann, &url, bytes[1..].to_vec(), true).await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST, "{short:?}");
    let mut longer = bytes.clone();
    longer.push(0);
    let long = put_bytes(&app, &ann, &url, longer, false).await;
    assert_eq!(long.status, StatusCode::BAD_REQUEST, "{long:?}");
    let cut = put_bytes(&app, &ann, &url, bytes[..40_000].to_vec(), false).await;
    assert_eq!(cut.status, StatusCode::BAD_REQUEST, "{cut:?}");
    let mut forged = upload.clone().into_bytes();
    forged[20] = if forged[20] == b'A' { b'B' } else { b'A' };
    let forged = format!("/api/v1/uploads/{}", String::from_utf8(forged).unwrap());
    let forged = put_bytes(&app, &ann, &forged, bytes.clone(), true).await;
    assert_eq!(forged.status, StatusCode::NOT_FOUND, "{forged:?}");
    nothing_left(&app).await;

    // The bytes, whole: the planned file, once.
    let sent = put_bytes(&app, &ann, &url, bytes.clone(), false).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{sent:?}");
    assert_eq!(sent.body["id"], file_id.as_str());
    assert_eq!(sent.body["name"], "big.bin");
    assert_eq!(sent.body["size"], bytes.len());
    assert_eq!(
        sent.body["sha256"],
        format!("{:x}", Sha256::digest(&bytes)).as_str()
    );
    let again = put_bytes(&app, &ann, &url, bytes.clone(), true).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{again:?}");
    let done = app.post(&complete, Some(&ann), json!({})).await;
    assert_eq!(done.status, StatusCode::OK, "{done:?}");
    assert_eq!(done.body["id"], file_id.as_str());
    assert_eq!(
        app.post(&complete, Some(&bob), json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    let (status, _, downloaded) = download(&app, &ann, &file_id, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(downloaded, bytes);
    assert_eq!(blob_keys(&app).await.len(), 1);

    // Sent twice at once: one attempt makes the file, the other is refused
    // and removes only its own bytes.
    let other: Vec<u8> = bytes.iter().map(|b| b.wrapping_add(1)).collect();
    let planned = plan(other.len() as u64).await;
    let url = planned.body["upload_url"].as_str().unwrap().to_owned();
    let twice = planned.body["file_id"].as_str().unwrap().to_owned();
    let (first, second) = tokio::join!(
        put_bytes(&app, &ann, &url, other.clone(), false),
        put_bytes(&app, &ann, &url, other.clone(), false)
    );
    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{first:?} {second:?}"
    );
    let (status, _, downloaded) = download(&app, &ann, &twice, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(downloaded, other);
    clean_up(&app).await;
    assert_eq!(blob_keys(&app).await.len(), 2);
}

pub async fn unread_bytes_move_down_the_tiers(app: TestApp) {
    use confab_core::model::{FileDownloads, StorageClass};
    let ann = app.user("ann").await;
    let ws = app.workspace(&ann, "Cold storage").await;
    // Two files share the first bytes; the second is read more recently.
    let shared_old = id(&stored(&app, &ann, &ws, "minutes.txt", b"old minutes").await);
    let shared_recent = id(&stored(&app, &ann, &ws, "copy.txt", b"old minutes").await);
    let ancient = id(&stored(&app, &ann, &ws, "ancient.txt", b"ancient plan").await);
    let fresh = id(&stored(&app, &ann, &ws, "fresh.txt", b"fresh idea").await);
    let days_ago = |days: i64| confab_core::time::now() - chrono::Duration::days(days);
    let read_at = |file: &str, at| FileDownloads {
        file_id: file.parse().unwrap(),
        count: 1,
        last_accessed_at: at,
    };
    app.stores
        .files
        .record_downloads(&[
            read_at(&shared_old, days_ago(400)),
            read_at(&shared_recent, days_ago(100)),
            read_at(&ancient, days_ago(400)),
        ])
        .await
        .unwrap();
    let key_of = |file: &str| {
        let (app, file) = (&app, file.to_owned());
        async move {
            let file = app.stores.files.get_file(file.parse().unwrap()).await;
            file.unwrap().unwrap().storage_key
        }
    };
    let class_of = |file: &str| {
        let (app, file) = (&app, file.to_owned());
        async move {
            let file = app.stores.files.get_file(file.parse().unwrap()).await;
            file.unwrap().unwrap().storage_class
        }
    };
    let services = app.services.as_ref().expect("an in-process server");
    let planned: Vec<(String, StorageClass, String)> = services
        .tier_files(false)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.storage_key, m.to, m.from))
        .collect();
    let expected = vec![
        (
            key_of(&ancient).await,
            StorageClass::Archive,
            "STANDARD".to_owned(),
        ),
        (
            key_of(&shared_old).await,
            StorageClass::InfrequentAccess,
            "STANDARD".to_owned(),
        ),
    ];
    assert_eq!(
        planned, expected,
        "the archive first, then infrequent access"
    );
    assert_eq!(
        class_of(&ancient).await,
        "STANDARD",
        "a dry run moves nothing"
    );

    let moved: Vec<(String, StorageClass)> = services
        .tier_files(true)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.storage_key, m.to))
        .collect();
    assert_eq!(
        moved,
        expected
            .iter()
            .map(|(k, c, _)| (k.clone(), *c))
            .collect::<Vec<_>>()
    );
    let classes = [
        class_of(&shared_old).await,
        class_of(&shared_recent).await,
        class_of(&ancient).await,
        class_of(&fresh).await,
    ];
    assert_eq!(
        classes,
        ["STANDARD_IA", "STANDARD_IA", "GLACIER", "STANDARD"]
    );
    assert!(
        services.tier_files(true).await.unwrap().is_empty(),
        "nothing moves twice"
    );

    // Archived bytes are served as before, and new copies of them are
    // recorded where the bytes are.
    let (status, _, bytes) = download(&app, &ann, &ancient, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, b"ancient plan");
    let again = id(&stored(&app, &ann, &ws, "again.txt", b"ancient plan").await);
    assert_eq!(class_of(&again).await, "GLACIER");
    assert_eq!(key_of(&again).await, key_of(&ancient).await);

    // Deleting archived files removes their bytes from the archive too.
    for file in [&ancient, &again, &shared_old, &shared_recent, &fresh] {
        assert_eq!(delete_file(&app, &ann, file).await, StatusCode::NO_CONTENT);
    }
    clean_up(&app).await;
    nothing_left(&app).await;
}
