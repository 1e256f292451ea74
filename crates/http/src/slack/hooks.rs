//! Slack-compatible incoming webhooks: `POST /hooks/{id}/{secret}` with a
//! JSON body or a `payload=` form posts into the hook's channel as its bot.
//! Answers the plain text `ok`, or Slack's plain-text errors.

use axum::body::Bytes;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use confab_core::id::IntegrationId;
use confab_core::slack::parse_ts;
use confab_core::Error;
use confab_service::PostMessage;
use serde_json::{Map, Value};

use crate::AppState;

fn answer(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}

/// The payload of a hook call: a JSON body, or a form with `payload`.
async fn payload(request: Request) -> Option<Map<String, Value>> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    // The server's body limit applies: a larger body is refused here.
    let body = Bytes::from_request(request, &()).await.ok()?;
    let json = if is_form {
        form_urlencoded::parse(&body)
            .find(|(name, _)| name == "payload")
            .map(|(_, value)| value.into_owned())?
    } else {
        String::from_utf8(body.to_vec()).ok()?
    };
    match serde_json::from_str(&json).ok()? {
        Value::Object(fields) => Some(fields),
        _ => None,
    }
}

/// `POST /hooks/{id}/{secret}`.
pub(crate) async fn receive(
    State(app): State<AppState>,
    Path((id, secret)): Path<(String, String)>,
    request: Request,
) -> Response {
    let Ok(id) = id.parse::<IntegrationId>() else {
        return answer(StatusCode::NOT_FOUND, "no_service");
    };
    let Some(fields) = payload(request).await else {
        return answer(StatusCode::BAD_REQUEST, "invalid_payload");
    };
    let text = fields
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut formatted = Map::new();
    for key in [
        "blocks",
        "attachments",
        "username",
        "icon_emoji",
        "icon_url",
    ] {
        if let Some(value) = fields.get(key).filter(|v| !v.is_null()) {
            formatted.insert(key.into(), value.clone());
        }
    }
    let content = match text.trim().is_empty() {
        true => super::methods::fallback_text(&formatted).unwrap_or_default(),
        false => text,
    };
    if content.trim().is_empty() {
        return answer(StatusCode::BAD_REQUEST, "no_text");
    }
    let thread_ts = match fields.get("thread_ts").and_then(Value::as_str) {
        Some(text) => match parse_ts(text) {
            Ok(ts) => Some(ts),
            Err(_) => return answer(StatusCode::BAD_REQUEST, "invalid_thread_ts"),
        },
        None => None,
    };
    let post = PostMessage {
        content,
        formatted_content: (!formatted.is_empty()).then_some(Value::Object(formatted)),
        ..Default::default()
    };
    match app.post_by_webhook(id, &secret, thread_ts, post).await {
        Ok(_) => answer(StatusCode::OK, "ok"),
        Err(Error::NotFound("service")) => answer(StatusCode::NOT_FOUND, "no_service"),
        Err(Error::NotFound("thread")) => answer(StatusCode::BAD_REQUEST, "invalid_thread_ts"),
        Err(Error::NotFound(_) | Error::Forbidden(_)) => {
            answer(StatusCode::NOT_FOUND, "channel_not_found")
        }
        Err(Error::Conflict { message, .. }) if message.contains("archived") => {
            answer(StatusCode::GONE, "channel_is_archived")
        }
        Err(Error::Invalid { field, .. }) if field == "content" => {
            answer(StatusCode::BAD_REQUEST, "no_text")
        }
        Err(Error::Invalid { .. }) => answer(StatusCode::BAD_REQUEST, "invalid_payload"),
        Err(Error::TooLarge { .. }) => answer(StatusCode::BAD_REQUEST, "msg_too_long"),
        Err(Error::RateLimited { retry_after }) => crate::error::with_retry_after(
            answer(StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            retry_after,
        ),
        Err(other) => crate::ApiError(other).into_response(),
    }
}

/// `POST /commands/respond/{token}`: a slash command's `response_url`, for
/// 30 minutes. Answers `{"ok": true}`, or `{"ok": false, "error"}` with 404
/// for an unknown or expired URL and 400 for a body without text.
pub(crate) async fn respond(
    State(app): State<AppState>,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body);
    let refused = |status: StatusCode, code: &str| {
        (
            status,
            axum::Json(serde_json::json!({"ok": false, "error": code})),
        )
            .into_response()
    };
    match app.respond_to_command(&token, &text).await {
        Ok(_) => axum::Json(serde_json::json!({"ok": true})).into_response(),
        Err(Error::NotFound(_)) => refused(StatusCode::NOT_FOUND, "expired_url"),
        Err(Error::Invalid { .. }) => refused(StatusCode::BAD_REQUEST, "no_text"),
        Err(Error::Conflict { message, .. }) if message.contains("archived") => {
            refused(StatusCode::GONE, "channel_is_archived")
        }
        Err(other) => crate::ApiError(other).into_response(),
    }
}
