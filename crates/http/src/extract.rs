//! Request extractors that answer in Confab's error format: JSON bodies,
//! the authenticated caller, and where a request comes from.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Json;
use confab_core::model::{ClientInfo, Session};
use confab_core::Error;
use confab_service::Caller;
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "confab_session";

/// A JSON body. Malformed JSON, unknown or missing fields, a wrong content
/// type and an oversized body each get a clear 4xx.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Every body is a JSON object: serde would also fill a struct from
        // an array of its fields in order, which nobody means to send.
        let object = match Json::<serde_json::Map<String, serde_json::Value>>::from_request(
            req, state,
        )
        .await
        {
            Ok(Json(object)) => object,
            Err(rejection) => return Err(ApiError(json_error(&rejection))),
        };
        serde_json::from_value(serde_json::Value::Object(object))
            .map(Self)
            .map_err(|e| ApiError(Error::invalid("body", e.to_string())))
    }
}

fn json_error(rejection: &JsonRejection) -> Error {
    if body_timed_out(rejection) {
        return Error::TimedOut("the request body did not arrive in time".into());
    }
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return Error::TooLarge {
            what: "request body".into(),
            limit: crate::MAX_BODY_BYTES as u64,
        };
    }
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            Error::invalid("content-type", "send the body as application/json")
        }
        JsonRejection::JsonDataError(e) => Error::invalid("body", e.body_text()),
        JsonRejection::JsonSyntaxError(e) => Error::invalid("body", e.body_text()),
        other => Error::invalid("body", other.body_text()),
    }
}

/// A query string, refused in Confab's error format (`400`, field `query`)
/// when it does not parse.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError(Error::invalid("query", rejection.body_text()))),
        }
    }
}

/// Whether reading the body failed because it did not arrive within the
/// server's body timeout.
fn body_timed_out(rejection: &JsonRejection) -> bool {
    let mut cause: Option<&dyn std::error::Error> = Some(rejection);
    while let Some(err) = cause {
        if err.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = err.source();
    }
    false
}

/// The caller of an authenticated route, from `Authorization: Bearer` or
/// the session cookie. A cookie is sent by the browser on its own, so a
/// request that changes something on the strength of a cookie must come
/// from this server's own pages (`Origin`, or `Sec-Fetch-Site`), whatever
/// `SameSite` says: a sibling subdomain is "same site". A cookie whose
/// session slid its expiry is renewed on the response.
pub struct Authed(pub Caller);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, source) =
            session_credential(&parts.headers).ok_or(ApiError(Error::Unauthenticated))?;
        let by_cookie = source == Credential::Cookie;
        if by_cookie && !parts.method.is_safe() {
            check_same_origin(&parts.headers, state.options.public_url.as_deref())?;
        }
        let caller = state.authenticate(&token).await?;
        if by_cookie && caller.renewed {
            if let Some(slot) = parts.extensions.get::<RenewedCookie>() {
                let _ = slot.0.set(session_cookie(state, &token, &caller.session));
            }
        }
        Ok(Self(caller))
    }
}

/// The caller of a download: as [`Authed`], or through a Web API token
/// (`xoxb-`/`xoxp-`) with `files:read`, so that bots fetch `url_private`
/// as Slack's do.
pub struct AuthedOrToken(pub Caller);

impl FromRequestParts<AppState> for AuthedOrToken {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = session_credential(&parts.headers)
            .filter(|(token, source)| {
                *source == Credential::Bearer
                    && (token.starts_with("xoxb-") || token.starts_with("xoxp-"))
            })
            .map(|(token, _)| token);
        let Some(token) = bearer else {
            return Authed::from_request_parts(parts, state)
                .await
                .map(|Authed(caller)| Self(caller));
        };
        let caller = state
            .authenticate_api_token(&token)
            .await?
            .map_err(|_| ApiError(Error::Unauthenticated))?;
        if !caller.has_scope("files:read") {
            return Err(ApiError(Error::Forbidden(
                "this token lacks the files:read scope".into(),
            )));
        }
        Ok(Self(caller))
    }
}

/// Where a request's session token came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Credential {
    Bearer,
    Cookie,
}

/// The bearer token or session cookie of a request, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    session_credential(headers).map(|(token, _)| token)
}

fn session_credential(headers: &HeaderMap) -> Option<(String, Credential)> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?;
        return Some((token.trim().to_owned(), Credential::Bearer));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| (value.to_owned(), Credential::Cookie))
}

/// A browser's `Origin` must be this server: the configured public URL, or
/// the host the request was sent to. Clients without one (not browsers) pass.
pub fn check_origin(headers: &HeaderMap, public_url: Option<&str>) -> Result<(), Error> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default().trim_end_matches('/');
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let public = public_url.map(|u| u.trim_end_matches('/'));
    if (!host.is_empty() && origin_host.eq_ignore_ascii_case(host)) || public == Some(origin) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "requests from {origin} are not accepted here"
        )))
    }
}

/// A cookie-authenticated change must name its origin: an `Origin` of this
/// server, or failing that `Sec-Fetch-Site: same-origin`. A request with
/// neither cannot be told apart from a forged one and is refused.
fn check_same_origin(headers: &HeaderMap, public_url: Option<&str>) -> Result<(), Error> {
    if headers.contains_key(header::ORIGIN) {
        return check_origin(headers, public_url);
    }
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if fetch_site == Some("same-origin") {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "a change made with the session cookie must come from this server's pages \
             (send Origin), or use Authorization: Bearer"
                .into(),
        ))
    }
}

/// The session cookie's attributes; `Secure` when served over https.
pub fn cookie_attributes(app: &AppState) -> &'static str {
    if app.options.secure_cookies {
        "Path=/; HttpOnly; SameSite=Strict; Secure"
    } else {
        "Path=/; HttpOnly; SameSite=Strict"
    }
}

/// The session cookie for `token`, living as long as its session.
pub fn session_cookie(app: &AppState, token: &str, session: &Session) -> String {
    let max_age = (session.expires_at - confab_core::time::now())
        .num_seconds()
        .max(0);
    format!(
        "{SESSION_COOKIE}={token}; {}; Max-Age={max_age}",
        cookie_attributes(app)
    )
}

/// Where [`Authed`] leaves a renewed session cookie for the response; set
/// up per request by [`renew_cookie`].
#[derive(Clone, Default)]
struct RenewedCookie(Arc<OnceLock<String>>);

/// Middleware: a cookie renewed while handling the request goes out with
/// its response (unless the handler set the cookie itself).
pub async fn renew_cookie(mut request: Request, next: axum::middleware::Next) -> Response {
    let slot = RenewedCookie::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    if let Some(cookie) = slot.0.get() {
        if !response.headers().contains_key(header::SET_COOKIE) {
            if let Ok(value) = HeaderValue::from_str(cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
        }
    }
    response
}

/// Where a request comes from: the client's address (the peer, or behind a
/// trusted proxy the address it names), the user agent, and the
/// device type the client names in `X-Confab-Device`.
pub struct Client(pub ClientInfo);

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header_text = |name: &str, max: usize| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(max).collect::<String>())
        };
        let device_type = header_text("x-confab-device", 20)
            .filter(|d| matches!(d.as_str(), "desktop" | "mobile" | "web" | "bot" | "cli"))
            .unwrap_or_else(|| "unknown".into());
        Ok(Self(ClientInfo {
            device_type,
            ip_address: parts.extensions.get::<ConnectInfo<SocketAddr>>().map(
                |ConnectInfo(peer)| {
                    crate::forwarded::client_ip(
                        peer.ip(),
                        &parts.headers,
                        &state.options.trusted_proxies,
                    )
                    .to_string()
                },
            ),
            user_agent: header_text("user-agent", 500),
        }))
    }
}
