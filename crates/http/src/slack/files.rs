//! Files through the Web API: Slack's files v2 upload (an upload URL that
//! takes the raw bytes, then a completion that shares them), and
//! `files.info`, `files.list`, `files.delete`.

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use confab_core::id::FileId;
use confab_core::model::File;
use confab_core::slack::{decode_as, encode, format_ts, SlackKind};
use confab_core::Error;
use confab_service::{FileQuery, PlannedUpload, PostMessage};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

use super::methods::Call;
use super::objects::{channel_id, parse_channel, user_id};
use super::{Answer, SlackError};
use crate::AppState;

/// Most files one `files.completeUploadExternal` shares.
const MAX_FILES_PER_COMPLETION: usize = 10;
/// Most files `files.list` counts through for its `paging`.
const MAX_LISTED_FILES: usize = 10_000;

/// A file object as Slack's clients read it.
pub(crate) fn file_object(file: &File, base: &str) -> Value {
    let extension = file
        .filename
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    json!({
        "id": encode(SlackKind::File, file.id.0),
        "created": file.created_at.timestamp(),
        "timestamp": file.created_at.timestamp(),
        "name": file.filename,
        "title": file.filename,
        "mimetype": file.mime_type,
        "filetype": extension,
        "pretty_type": extension.to_ascii_uppercase(),
        "user": user_id(file.uploader_id),
        "user_team": encode(SlackKind::Team, file.workspace_id.0),
        "size": file.file_size,
        "mode": "hosted",
        "is_external": false,
        "is_public": false,
        "url_private": format!("{base}/api/v1/files/{}/content", file.id),
        "url_private_download": format!("{base}/api/v1/files/{}/content", file.id),
        "permalink": format!("{base}/api/v1/files/{}", file.id),
    })
}

fn parse_file(text: &str) -> Result<FileId, SlackError> {
    decode_as(text.trim(), &[SlackKind::File])
        .map(FileId)
        .ok_or_else(|| SlackError::new("file_not_found"))
}

fn file_not_found(err: Error) -> SlackError {
    match err {
        Error::NotFound(_) => SlackError::new("file_not_found"),
        other => other.into(),
    }
}

impl Call<'_> {
    pub(super) async fn upload_url(&self) -> Answer {
        let filename = self.args.required("filename")?;
        let length = self
            .args
            .number("length")?
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                SlackError::invalid_arguments("length must be a whole number of bytes above 0")
            })?;
        let plan = PlannedUpload {
            filename,
            length: length as u64,
            claimed_type: None,
            expires_in: None,
        };
        let ticket = self
            .app
            .plan_capability_upload(self.caller, self.workspace(), plan)
            .await?;
        Ok(super::methods::answer(json!({
            "upload_url": format!("{}/api/uploads/{}", self.base, ticket.token),
            "file_id": encode(SlackKind::File, ticket.file_id.0),
        })))
    }

    pub(super) async fn complete_upload(&self) -> Answer {
        let listed = self
            .args
            .json("files")?
            .and_then(|v| v.as_array().cloned())
            .filter(|files| !files.is_empty() && files.len() <= MAX_FILES_PER_COMPLETION)
            .ok_or_else(|| {
                SlackError::invalid_arguments(
                    "files must be a JSON array of 1 to 10 {\"id\", \"title\"}",
                )
            })?;
        let mut files = Vec::new();
        for entry in &listed {
            let id = parse_file(entry["id"].as_str().unwrap_or_default())?;
            let file = self
                .app
                .readable_file(self.caller, id)
                .await
                .map_err(file_not_found)?;
            if file.uploader_id != self.caller.user.id {
                return Err(SlackError::new("file_not_found"));
            }
            files.push(file);
        }
        let channel = self
            .args
            .text("channel_id")
            .or_else(|| self.args.list("channels").into_iter().next());
        let mut shared_in = Vec::new();
        if let Some(channel) = channel {
            let id = parse_channel(&channel)?;
            let access = self.app.channel_access(self.caller, id).await?;
            let parent = match self.args.text("thread_ts") {
                Some(_) => Some(self.message_at(id, "thread_ts").await?),
                None => None,
            };
            let post = PostMessage {
                content: self.args.text("initial_comment").unwrap_or_default(),
                file_ids: files.iter().map(|f| f.id).collect(),
                thread_id: parent.map(|p| p.thread_id.unwrap_or(p.id)),
                ..Default::default()
            };
            let posted = self.app.post_message(self.caller, id, post).await?;
            shared_in.push((channel_id(&access.channel), posted.inserted.message.ts));
        }
        let objects: Vec<Value> = files
            .iter()
            .map(|f| {
                let mut object = file_object(f, self.base);
                if let Some((channel, ts)) = shared_in.first() {
                    object["channels"] = json!([channel]);
                    object["shares"] = json!({"public": {channel: [{"ts": format_ts(*ts)}]}});
                }
                object
            })
            .collect();
        Ok(super::methods::answer(json!({"files": objects})))
    }

    pub(super) async fn file_info(&self) -> Answer {
        let id = parse_file(&self.args.text("file").unwrap_or_default())?;
        let file = self
            .app
            .readable_file(self.caller, id)
            .await
            .map_err(file_not_found)?;
        Ok(super::methods::answer(json!({
            "file": file_object(&file, self.base),
            "comments": [],
            "response_metadata": {"next_cursor": ""},
        })))
    }

    pub(super) async fn delete_file(&self) -> Answer {
        let id = parse_file(&self.args.text("file").unwrap_or_default())?;
        self.app
            .delete_file(self.caller, id)
            .await
            .map_err(|e| match e {
                Error::Forbidden(_) => SlackError::new("cant_delete_file"),
                other => file_not_found(other),
            })?;
        Ok(Map::new())
    }

    /// Slack pages `files.list` by number: the files are walked in pages of
    /// `count` (newest first) up to the one asked for, and counted on to
    /// [`MAX_LISTED_FILES`] for the totals.
    pub(super) async fn list_files(&self) -> Answer {
        let count = self.args.number("count")?.unwrap_or(100).clamp(1, 200) as u32;
        let page = self.args.number("page")?.unwrap_or(1).max(1) as usize;
        let channel = match self.args.text("channel") {
            Some(text) => Some(parse_channel(&text)?),
            None => None,
        };
        let uploader = match self.args.text("user") {
            Some(text) => Some(super::objects::parse_user(&text)?),
            None => None,
        };
        let mut all: Vec<File> = Vec::new();
        let mut before = None;
        loop {
            let query = FileQuery {
                channel,
                uploader,
                before,
                limit: 200,
            };
            let found = self
                .app
                .list_files(self.caller, self.workspace(), query)
                .await?;
            all.extend(found.files);
            match found.next {
                Some(next) if all.len() < MAX_LISTED_FILES => before = Some(next),
                _ => break,
            }
        }
        let total = all.len();
        let pages = total.div_ceil(count as usize).max(1);
        let shown: Vec<Value> = all
            .iter()
            .skip((page - 1) * count as usize)
            .take(count as usize)
            .map(|f| file_object(f, self.base))
            .collect();
        Ok(super::methods::answer(json!({
            "files": shown,
            "paging": {"count": count, "total": total, "page": page, "pages": pages},
        })))
    }
}

/// `POST /api/uploads/{token}`: the bytes of a files v2 upload, with no
/// credentials but the token in the URL (as Slack's upload URLs): the raw
/// bytes as the body, or the first file of a multipart form (as Slack's
/// Node SDK sends them). Answers 200 with `OK - <size>`, or a plain-text
/// error.
pub(crate) async fn receive(
    State(app): State<AppState>,
    Path(token): Path<String>,
    request: Request,
) -> Response {
    let outcome = async {
        let caller = app.upload_capability(&token).await?;
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
        if !is_form {
            let declared = request
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let planned = app.check_planned_upload(&caller, &token, declared).await?;
            let stream = request
                .into_body()
                .into_data_stream()
                .map(|chunk| chunk.map_err(|e| Error::invalid("body", e.to_string())));
            return app
                .send_planned_upload(&caller, planned, Box::pin(stream))
                .await;
        }
        let planned = app.check_planned_upload(&caller, &token, None).await?;
        let mut form = Multipart::from_request(request, &())
            .await
            .map_err(|e| Error::invalid("body", e.body_text()))?;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| Error::invalid("body", e.body_text()))?
        {
            if field.file_name().is_none() {
                continue;
            }
            let stream =
                field.map(|chunk| chunk.map_err(|e| Error::invalid("body", e.body_text())));
            return app
                .send_planned_upload(&caller, planned, Box::pin(stream))
                .await;
        }
        Err(Error::invalid("body", "the form holds no file"))
    }
    .await;
    match outcome {
        Ok(file) => (StatusCode::OK, format!("OK - {}", file.file_size)).into_response(),
        Err(Error::NotFound(_)) => (StatusCode::NOT_FOUND, "upload_not_found").into_response(),
        Err(Error::TooLarge { .. }) => {
            (StatusCode::PAYLOAD_TOO_LARGE, "file_too_large").into_response()
        }
        Err(Error::Conflict { .. }) => (StatusCode::CONFLICT, "already_uploaded").into_response(),
        Err(Error::Invalid { message, .. }) => (StatusCode::BAD_REQUEST, message).into_response(),
        Err(other) => crate::ApiError(other).into_response(),
    }
}
