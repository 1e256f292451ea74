//! Files over REST: streaming uploads, downloads that check access every
//! time, listings, deletion.

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use confab_core::filenames::content_disposition;
use confab_core::id::{ChannelId, FileId, UserId, WorkspaceId};
use confab_core::model::File;
use confab_core::page::page_size;
use confab_core::sniff::is_inline_safe;
use confab_core::Error;
use confab_service::{
    entity_tag, Download, DownloadRequest, FileQuery, PlannedUpload, RangeRequest, Upload,
};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::parse_id;
use crate::extract::{ApiJson, ApiQuery, Authed, AuthedOrToken};
use crate::wire::{cursor, ErrorBody, FileView};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    // Uploads are bounded by the file limits, counted as they stream.
    let uploads = OpenApiRouter::new()
        .routes(routes!(upload))
        .routes(routes!(send_upload))
        .layer(axum::extract::DefaultBodyLimit::disable());
    OpenApiRouter::new()
        .merge(uploads)
        .routes(routes!(list))
        .routes(routes!(plan_upload))
        .routes(routes!(complete_upload))
        .routes(routes!(read_one, delete_one))
        .routes(routes!(content))
        .routes(routes!(thumbnail))
        .routes(routes!(make_link, revoke_link))
        .routes(routes!(public_content))
}

/// The multipart form of an upload.
#[derive(ToSchema)]
#[allow(dead_code)]
struct UploadForm {
    /// The file. Its part's `filename` names it and its `Content-Type` is
    /// recorded as claimed; the server sniffs the real type from the bytes.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// Before `file`: a name to use instead of the part's.
    filename: Option<String>,
    /// Before `file`: delete the file this many seconds after the upload
    /// (1 to 31,536,000).
    expires_in_secs: Option<u64>,
}

/// Longest text of a form field other than the file.
const MAX_FIELD_BYTES: usize = 1024;

#[utoipa::path(post, path = "/workspaces/{workspace}/files", operation_id = "upload_file", tag = "files",
    params(("workspace" = String, Path, description = "Workspace id")),
    request_body(content = UploadForm, content_type = "multipart/form-data",
        description = "One part named `file`, streamed to storage; `filename` and `expires_in_secs` parts may come before it."),
    responses((status = 201, body = FileView),
        (status = 400, description = "No file, an empty file, a type not allowed, or a malformed form", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 413, description = "Over `files.max_upload_bytes`, the workspace's `max_file_size` or the uploader's quota", body = ErrorBody)))]
async fn upload(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    headers: HeaderMap,
    form: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<FileView>), ApiError> {
    let workspace: WorkspaceId = parse_id(&workspace, "workspace")?;
    let mut form = match form {
        Ok(form) => form,
        Err(rejection) => {
            // Who may not upload here learns nothing from a bad request.
            app.workspace_for(&caller, workspace).await?;
            return Err(Error::invalid("form", rejection.body_text()).into());
        }
    };
    let mut name_override: Option<String> = None;
    let mut expires_in: Option<std::time::Duration> = None;
    // The whole request's length bounds the file's: a request announced
    // as too large is refused before a byte is stored.
    let declared_size = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|total| total.saturating_sub(64 * 1024));
    while let Some(mut field) = form.next_field().await.map_err(bad_form)? {
        match field.name() {
            Some("file") => {
                let upload = Upload {
                    filename: name_override
                        .take()
                        .or_else(|| field.file_name().map(str::to_owned))
                        .unwrap_or_default(),
                    claimed_type: field.content_type().map(str::to_owned),
                    declared_size,
                    expires_in,
                };
                let body = field.map(|chunk| chunk.map_err(bad_form));
                let file = app
                    .upload_file(&caller, workspace, upload, Box::pin(body))
                    .await?;
                return Ok((StatusCode::CREATED, Json(FileView::from(file))));
            }
            Some("filename") => name_override = Some(small_field(&mut field, "filename").await?),
            Some("expires_in_secs") => {
                let text = small_field(&mut field, "expires_in_secs").await?;
                let secs: u64 = text
                    .trim()
                    .parse()
                    .map_err(|_| Error::invalid("expires_in_secs", "is not a number of seconds"))?;
                expires_in = Some(std::time::Duration::from_secs(secs));
            }
            other => {
                return Err(Error::invalid(
                    "form",
                    format!("unexpected part {:?}; send `file`", other.unwrap_or("")),
                )
                .into())
            }
        }
    }
    Err(Error::invalid("file", "the form has no part named `file`").into())
}

/// The first step of a two-step upload.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    /// The file's name.
    filename: String,
    /// The file's size in bytes: exactly this many must be sent.
    #[schema(minimum = 1)]
    length: i64,
    /// The type the client believes the file has (recorded; the server
    /// sniffs the real one).
    content_type: Option<String>,
    /// Delete the file this many seconds after the upload (1 to 31,536,000).
    expires_in_secs: Option<u64>,
}

/// Where to send a planned upload's bytes.
#[derive(Serialize, ToSchema)]
struct PlannedView {
    /// Names the upload in the next two steps.
    upload_id: String,
    /// `PUT` the bytes here (with the caller's credentials).
    upload_url: String,
    /// The id the file will have.
    #[schema(value_type = String, format = Uuid)]
    file_id: FileId,
    /// The bytes must arrive before this.
    expires_at: chrono::DateTime<chrono::Utc>,
}

#[utoipa::path(post, path = "/workspaces/{workspace}/uploads", operation_id = "plan_upload", tag = "files",
    params(("workspace" = String, Path, description = "Workspace id")), request_body = PlanBody,
    responses((status = 201, body = PlannedView, description = "Send the bytes to `upload_url`"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, description = "Over `files.max_upload_bytes`, the workspace's `max_file_size` or the uploader's quota", body = ErrorBody)))]
async fn plan_upload(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiJson(body): ApiJson<PlanBody>,
) -> Result<(StatusCode, Json<PlannedView>), ApiError> {
    let workspace: WorkspaceId = parse_id(&workspace, "workspace")?;
    let plan = PlannedUpload {
        filename: body.filename,
        // Zero and less are refused with the service's own words.
        length: u64::try_from(body.length).unwrap_or(0),
        claimed_type: body.content_type,
        expires_in: body.expires_in_secs.map(std::time::Duration::from_secs),
    };
    let ticket = app.plan_upload(&caller, workspace, plan).await?;
    let view = PlannedView {
        upload_url: format!("/api/v1/uploads/{}", ticket.token),
        upload_id: ticket.token,
        file_id: ticket.file_id,
        expires_at: ticket.expires_at,
    };
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(put, path = "/uploads/{upload}", operation_id = "send_upload", tag = "files",
    params(("upload" = String, Path, description = "The `upload_id` of the plan")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "The file's bytes, exactly as many as planned, streamed to storage"),
    responses((status = 201, body = FileView, description = "The file, stored"),
        (status = 400, description = "Fewer or more bytes than planned, an expired upload, or a type not allowed", body = ErrorBody),
        (status = 404, description = "No upload of the caller's has this id", body = ErrorBody),
        (status = 409, description = "The bytes were already sent", body = ErrorBody),
        (status = 413, body = ErrorBody)))]
async fn send_upload(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(upload): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<FileView>), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let planned = match app.check_planned_upload(&caller, &upload, declared).await {
        Ok(planned) => planned,
        Err(refused) => {
            drain(body).await;
            return Err(refused.into());
        }
    };
    let stream = body
        .into_data_stream()
        .map(|chunk| chunk.map_err(|e| Error::invalid("body", e.to_string())));
    let file = app
        .send_planned_upload(&caller, planned, Box::pin(stream))
        .await?;
    Ok((StatusCode::CREATED, Json(file.into())))
}

/// Bytes of a refused request read and dropped, so that its client, still
/// sending, hears the answer instead of a reset connection; a larger body
/// has its connection closed.
const MAX_DRAINED_BYTES: usize = 4 << 20;

async fn drain(body: Body) {
    let mut stream = body.into_data_stream();
    let mut drained = 0;
    let reading = async {
        while let Some(Ok(chunk)) = stream.next().await {
            drained += chunk.len();
            if drained > MAX_DRAINED_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), reading).await;
}

#[utoipa::path(post, path = "/uploads/{upload}/complete", operation_id = "complete_upload", tag = "files",
    params(("upload" = String, Path, description = "The `upload_id` of the plan")),
    responses((status = 200, body = FileView, description = "The file the upload made; share it by posting a message with its id in `file_ids`"),
        (status = 404, body = ErrorBody),
        (status = 409, description = "No bytes were sent yet", body = ErrorBody)))]
async fn complete_upload(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(upload): Path<String>,
) -> Result<Json<FileView>, ApiError> {
    Ok(Json(app.finished_upload(&caller, &upload).await?.into()))
}

/// The text of a small form part.
async fn small_field(
    field: &mut axum::extract::multipart::Field<'_>,
    name: &str,
) -> Result<String, ApiError> {
    let mut text = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
        text.extend_from_slice(&chunk);
        if text.len() > MAX_FIELD_BYTES {
            return Err(Error::TooLarge {
                what: name.into(),
                limit: MAX_FIELD_BYTES as u64,
            }
            .into());
        }
    }
    Ok(String::from_utf8_lossy(&text).into_owned())
}

fn bad_form(err: axum::extract::multipart::MultipartError) -> Error {
    Error::invalid("form", err.body_text())
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListParams {
    /// Only files shared in this channel.
    channel: Option<String>,
    /// Only files this person uploaded.
    user: Option<String>,
    /// Files per page (default 50); values outside 1 to 200 are taken as
    /// the nearest of the two.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A page of files, newest first.
#[derive(Serialize, ToSchema)]
struct FileList {
    files: Vec<FileView>,
    /// Pass as `cursor` for the next page; absent on the last.
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/workspaces/{workspace}/files", operation_id = "list_files", tag = "files",
    params(("workspace" = String, Path, description = "Workspace id"), ListParams),
    responses((status = 200, body = FileList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(workspace): Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<FileList>, ApiError> {
    let workspace: WorkspaceId = parse_id(&workspace, "workspace")?;
    let channel: Option<ChannelId> = params
        .channel
        .as_deref()
        .map(|c| parse_id(c, "channel"))
        .transpose()?;
    let uploader: Option<UserId> = params
        .user
        .as_deref()
        .map(|u| {
            u.parse()
                .map_err(|_| Error::invalid("user", "is not a user id"))
        })
        .transpose()?;
    let before = params
        .cursor
        .as_deref()
        .map(cursor::decode_time_id)
        .transpose()?;
    let query = FileQuery {
        channel,
        uploader,
        before,
        limit: page_size(params.limit, 50),
    };
    let page = app.list_files(&caller, workspace, query).await?;
    Ok(Json(FileList {
        files: page.files.into_iter().map(FileView::from).collect(),
        next_cursor: page.next.map(|(at, id)| cursor::encode_time_id(at, id)),
    }))
}

#[utoipa::path(get, path = "/files/{file}", operation_id = "get_file", tag = "files",
    params(("file" = String, Path, description = "File id")),
    responses((status = 200, body = FileView), (status = 404, body = ErrorBody)))]
async fn read_one(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(file): Path<String>,
) -> Result<Json<FileView>, ApiError> {
    let id: FileId = parse_id(&file, "file")?;
    Ok(Json(app.readable_file(&caller, id).await?.into()))
}

#[utoipa::path(delete, path = "/files/{file}", operation_id = "delete_file", tag = "files",
    params(("file" = String, Path, description = "File id")),
    responses((status = 204, description = "Deleted"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_one(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(file): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: FileId = parse_id(&file, "file")?;
    app.delete_file(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n`; anything else (several ranges,
/// other units) is ignored and the whole file is sent, as RFC 9110 allows.
fn parse_range(value: &str) -> Option<RangeRequest> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.trim().split_once('-')?;
    match (start.trim(), end.trim()) {
        ("", last) => last.parse().ok().map(RangeRequest::Last),
        (start, "") => Some(RangeRequest::From {
            start: start.parse().ok()?,
            end: None,
        }),
        (start, end) => Some(RangeRequest::From {
            start: start.parse().ok()?,
            end: Some(end.parse().ok()?),
        }),
    }
}

/// What a browser may do with a downloaded file: nothing active, ever.
const CONTENT_POLICY: &str =
    "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'";

fn content_headers(file: &File) -> Vec<(header::HeaderName, String)> {
    let disposition = if is_inline_safe(&file.mime_type) {
        "inline"
    } else {
        "attachment"
    };
    let content_type = if file.mime_type.starts_with("text/") {
        format!("{}; charset=utf-8", file.mime_type)
    } else {
        file.mime_type.clone()
    };
    vec![
        (header::ETAG, entity_tag(file)),
        (header::CACHE_CONTROL, "private, no-cache".into()),
        (header::ACCEPT_RANGES, "bytes".into()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
        (header::CONTENT_SECURITY_POLICY, CONTENT_POLICY.into()),
        (header::CONTENT_TYPE, content_type),
        (
            header::CONTENT_DISPOSITION,
            content_disposition(disposition, &file.filename),
        ),
    ]
}

#[utoipa::path(get, path = "/files/{file}/content", operation_id = "download_file", tag = "files",
    params(("file" = String, Path, description = "File id"),
        ("Range" = Option<String>, Header, description = "One range: `bytes=a-b`, `bytes=a-` or `bytes=-n`"),
        ("If-None-Match" = Option<String>, Header, description = "Entity tags the client holds")),
    responses((status = 200, description = "The bytes, as the sniffed type; active types (HTML, SVG, ...) as attachments"),
        (status = 206, description = "The range asked for"), (status = 304, description = "The client's copy is current"),
        (status = 403, description = "A Web API token without `files:read`", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 416, description = "The range lies outside the file")))]
async fn content(
    State(app): State<AppState>,
    AuthedOrToken(caller): AuthedOrToken,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id: FileId = parse_id(&file, "file")?;
    let download = app
        .download_file(&caller, id, download_request(&headers))
        .await?;
    Ok(download_response(download))
}

fn download_request(headers: &HeaderMap) -> DownloadRequest {
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    DownloadRequest {
        range: text(header::RANGE).as_deref().and_then(parse_range),
        if_none_match: text(header::IF_NONE_MATCH),
    }
}

fn download_response(download: Download) -> Response {
    let mut response = match download {
        Download::NotModified(file) => {
            let mut r = StatusCode::NOT_MODIFIED.into_response();
            set_headers(&mut r, &content_headers(&file)[..4]);
            r
        }
        Download::RangeNotSatisfiable(file) => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            set_headers(
                &mut r,
                &[(header::CONTENT_RANGE, format!("bytes */{}", file.file_size))],
            );
            r
        }
        Download::Content { file, range, body } => {
            let mut r = Body::from_stream(body).into_response();
            set_headers(&mut r, &content_headers(&file));
            let length = match range {
                Some(range) => {
                    *r.status_mut() = StatusCode::PARTIAL_CONTENT;
                    set_headers(
                        &mut r,
                        &[(
                            header::CONTENT_RANGE,
                            format!("bytes {}-{}/{}", range.start, range.end - 1, file.file_size),
                        )],
                    );
                    range.end - range.start
                }
                None => file.file_size as u64,
            };
            set_headers(&mut r, &[(header::CONTENT_LENGTH, length.to_string())]);
            r
        }
    };
    response.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("Cookie, Authorization"),
    );
    response
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ThumbnailParams {
    /// Which thumbnail: 64 or 360 (default).
    size: Option<u32>,
}

#[utoipa::path(get, path = "/files/{file}/thumbnail", operation_id = "file_thumbnail", tag = "files",
    params(("file" = String, Path, description = "File id"), ThumbnailParams),
    responses((status = 200, description = "The thumbnail (JPEG, or PNG for images with transparency)"),
        (status = 404, body = ErrorBody, description = "No such file, or it has no thumbnail of that size")))]
async fn thumbnail(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(file): Path<String>,
    ApiQuery(params): ApiQuery<ThumbnailParams>,
) -> Result<Response, ApiError> {
    let id: FileId = parse_id(&file, "file")?;
    let size = params.size.unwrap_or(360);
    let (file, mime, body) = app.download_thumbnail(&caller, id, size).await?;
    let mut response = Body::from_stream(body).into_response();
    set_headers(
        &mut response,
        &[
            (header::CONTENT_TYPE, mime),
            (
                header::ETAG,
                format!("\"{}-{size}\"", file.file_hash.unwrap_or_default()),
            ),
            (header::CACHE_CONTROL, "private, no-cache".into()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
            (header::CONTENT_SECURITY_POLICY, CONTENT_POLICY.into()),
        ],
    );
    Ok(response)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    /// How long the link works, in seconds (default a week, at most a year).
    expires_in_secs: Option<u64>,
}

/// A public link, shown once: anyone with `url` can download the file
/// until `expires_at`, the link is revoked or the file is deleted.
#[derive(Serialize, ToSchema)]
struct LinkView {
    url: String,
    expires_at: chrono::DateTime<chrono::Utc>,
}

#[utoipa::path(post, path = "/files/{file}/public-link", operation_id = "create_public_link", tag = "files",
    params(("file" = String, Path, description = "File id")), request_body = LinkBody,
    responses((status = 201, body = LinkView, description = "A new link; an earlier one stops working"),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn make_link(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(file): Path<String>,
    ApiJson(body): ApiJson<LinkBody>,
) -> Result<(StatusCode, Json<LinkView>), ApiError> {
    let id: FileId = parse_id(&file, "file")?;
    let lifetime = body.expires_in_secs.map(std::time::Duration::from_secs);
    let link = app.create_public_link(&caller, id, lifetime).await?;
    let view = LinkView {
        url: format!("/api/v1/public/files/{}", link.token),
        expires_at: link.expires_at,
    };
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(delete, path = "/files/{file}/public-link", operation_id = "revoke_public_link", tag = "files",
    params(("file" = String, Path, description = "File id")),
    responses((status = 204, description = "The link no longer works"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_link(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(file): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: FileId = parse_id(&file, "file")?;
    app.revoke_public_link(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/public/files/{token}", operation_id = "download_public_file", tag = "files", security(()),
    params(("token" = String, Path, description = "The token of a public link")),
    responses((status = 200, description = "The bytes, served as by `GET /files/{file}/content`"),
        (status = 206, description = "The range asked for"), (status = 304, description = "The client's copy is current"),
        (status = 404, body = ErrorBody, description = "No such link, or it expired, was revoked or its file deleted"),
        (status = 416, description = "The range lies outside the file")))]
async fn public_content(
    State(app): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let download = app
        .download_public(&token, download_request(&headers))
        .await?;
    Ok(download_response(download))
}

fn set_headers(response: &mut Response, headers: &[(header::HeaderName, String)]) {
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            response.headers_mut().insert(name.clone(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_in_their_three_forms() {
        assert_eq!(
            parse_range("bytes=0-99"),
            Some(RangeRequest::From {
                start: 0,
                end: Some(99)
            })
        );
        assert_eq!(
            parse_range("bytes=100-"),
            Some(RangeRequest::From {
                start: 100,
                end: None
            })
        );
        assert_eq!(parse_range("bytes=-5"), Some(RangeRequest::Last(5)));
        assert_eq!(parse_range("bytes=0-1,5-6"), None);
        assert_eq!(parse_range("items=0-1"), None);
        assert_eq!(parse_range("bytes=a-b"), None);
    }
}
