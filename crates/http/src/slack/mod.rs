//! The Slack-compatible Web API at `/api/<method>`: a thin adapter that
//! reads Slack's arguments, authenticates `xoxb-`/`xoxp-` tokens, checks
//! scopes, calls the same service methods as REST v1, and answers in
//! Slack's shapes (`{"ok": true, …}`, or HTTP 200 with `"ok": false` and
//! Slack's error code; HTTP 429 with `Retry-After` when rate limited).

mod args;
mod files;
mod hooks;
mod methods;
mod objects;
mod search;

use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use confab_core::Error;
use confab_service::{Caller, TokenRefusal};
use serde_json::{json, Map, Value};

use crate::AppState;
pub(crate) use args::Args;

/// The Web API's routes.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/{method}", any(call))
        .route("/api/uploads/{token}", axum::routing::post(files::receive))
        .route("/hooks/{id}/{secret}", axum::routing::post(hooks::receive))
        .route(
            "/commands/respond/{token}",
            axum::routing::post(hooks::respond),
        )
}

/// A Slack error: its code, and any fields that go with it.
#[derive(Debug)]
pub(crate) struct SlackError {
    pub code: String,
    extra: Map<String, Value>,
    retry_after: Option<Duration>,
}

impl SlackError {
    pub(crate) fn new(code: &str) -> Self {
        Self {
            code: code.to_owned(),
            extra: Map::new(),
            retry_after: None,
        }
    }

    /// `invalid_arguments`, with what was wrong as a warning.
    pub(crate) fn invalid_arguments(detail: impl Into<String>) -> Self {
        let mut err = Self::new("invalid_arguments");
        err.extra.insert(
            "response_metadata".into(),
            json!({"messages": [format!("[ERROR] {}", detail.into())]}),
        );
        err
    }

    fn missing_scope(needed: &str, provided: &[String]) -> Self {
        let mut err = Self::new("missing_scope");
        err.extra.insert("needed".into(), json!(needed));
        err.extra
            .insert("provided".into(), json!(provided.join(",")));
        err
    }

    /// The Slack code for a service error: `not_found` kinds become
    /// `<thing>_not_found`, and the codes each method documents.
    pub(crate) fn from_core(err: Error) -> Self {
        let code = match &err {
            Error::NotFound("thread") => "thread_not_found",
            Error::NotFound(thing) => return Self::new(&format!("{thing}_not_found")),
            Error::Forbidden(text) if text.contains("join the channel") => "not_in_channel",
            Error::Forbidden(text) if text.contains("author or an admin") => "cant_delete_message",
            Error::Forbidden(_) => "restricted_action",
            Error::Unauthenticated => "invalid_auth",
            Error::Conflict { message, .. } if message.contains("archived") => "is_archived",
            Error::Conflict { field, .. } if field == "name" => "name_taken",
            Error::Conflict { message, .. } if message.contains("pinned messages") => {
                "too_many_pins"
            }
            Error::Conflict { message, .. } if message.contains("reactions") => {
                "too_many_reactions"
            }
            Error::Invalid { field, .. } if field == "content" => "no_text",
            Error::Invalid { field, .. } if field == "name" => "invalid_name",
            Error::Invalid { field, .. } if field == "formatted_content" => "invalid_blocks",
            Error::Invalid { field, .. } if field == "emoji" => "invalid_name",
            Error::TooLarge { what, .. } if what == "content" => "msg_too_long",
            Error::RateLimited { retry_after } => {
                let mut limited = Self::new("ratelimited");
                limited.retry_after = Some(*retry_after);
                return limited;
            }
            Error::Invalid { message, .. } => return Self::invalid_arguments(message.clone()),
            Error::Conflict { message, .. } => return Self::invalid_arguments(message.clone()),
            Error::TooLarge { .. } => "too_large",
            Error::TimedOut(_) => "request_timeout",
            Error::Unavailable(_) | Error::Internal(_) => {
                tracing::error!(error = %err, "a Web API call failed");
                "internal_error"
            }
        };
        Self::new(code)
    }
}

impl From<Error> for SlackError {
    fn from(err: Error) -> Self {
        Self::from_core(err)
    }
}

impl IntoResponse for SlackError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("ok".into(), json!(false));
        body.insert("error".into(), json!(self.code));
        body.extend(self.extra);
        match self.retry_after {
            Some(delay) => crate::error::with_retry_after(
                (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response(),
                delay,
            ),
            None => Json(body).into_response(),
        }
    }
}

/// What one method answers: the fields beside `"ok": true`.
pub(crate) type Answer = Result<Map<String, Value>, SlackError>;

/// One call: read, authenticate, check the scope, run, answer.
async fn call(
    State(app): State<AppState>,
    Path(method): Path<String>,
    request: Request,
) -> Response {
    let is_get = request.method() == Method::GET;
    let headers = request.headers().clone();
    let outcome = async {
        let spec = methods::find(&method).ok_or_else(|| SlackError::new("unknown_method"))?;
        if is_get && !spec.read_only {
            return Err(SlackError::invalid_arguments(format!(
                "{method} changes things: send it with POST"
            )));
        }
        let args = Args::read(request).await?;
        if method == "api.test" {
            return methods::api_test(&args);
        }
        let caller = authenticate(&app, &headers, &args).await?;
        if let Some(scope) = spec.scope {
            require_scope(&caller, scope)?;
        }
        let base = base_url(&app, &headers);
        methods::run(&app, &caller, &method, &args, &base).await
    }
    .await;
    match outcome {
        Ok(mut fields) => {
            let mut body = Map::new();
            body.insert("ok".into(), json!(true));
            body.append(&mut fields);
            Json(body).into_response()
        }
        Err(err) => err.into_response(),
    }
}

/// The server's address for links: `server.public_url`, or the host the
/// request was sent to.
pub(crate) fn base_url(app: &AppState, headers: &HeaderMap) -> String {
    if let Some(public) = &app.options.public_url {
        return public.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// The token of a call: `Authorization: Bearer`, or the `token` argument.
async fn authenticate(
    app: &AppState,
    headers: &HeaderMap,
    args: &Args,
) -> Result<Caller, SlackError> {
    let token = crate::extract::session_token(headers)
        .filter(|t| !t.is_empty())
        .or_else(|| args.text("token"))
        .ok_or_else(|| SlackError::new("not_authed"))?;
    match app.authenticate_api_token(&token).await? {
        Ok(caller) => Ok(caller),
        Err(TokenRefusal::Invalid) => Err(SlackError::new("invalid_auth")),
        Err(TokenRefusal::Revoked) => Err(SlackError::new("token_revoked")),
        Err(TokenRefusal::Inactive) => Err(SlackError::new("account_inactive")),
    }
}

/// `missing_scope` unless the caller's token carries `scope`.
pub(crate) fn require_scope(caller: &Caller, scope: &str) -> Result<(), SlackError> {
    if caller.has_scope(scope) {
        return Ok(());
    }
    let provided = caller
        .token
        .as_ref()
        .map(|t| t.scopes.clone())
        .unwrap_or_default();
    Err(SlackError::missing_scope(scope, &provided))
}
