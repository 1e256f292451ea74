//! Request extractors that answer in Confab's error format: JSON bodies,
//! the authenticated caller, and where a request comes from.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use confab_core::model::ClientInfo;
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
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError(json_error(&rejection))),
        }
    }
}

fn json_error(rejection: &JsonRejection) -> Error {
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

/// The caller of an authenticated route, from `Authorization: Bearer` or
/// the session cookie.
pub struct Authed(pub Caller);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = session_token(&parts.headers).ok_or(ApiError(Error::Unauthenticated))?;
        Ok(Self(state.authenticate(&token).await?))
    }
}

/// The bearer token or session cookie of a request, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?;
        return Some(token.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// Where a request comes from: the peer address, the user agent, and the
/// device type the client names in `X-Confab-Device`.
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
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
            ip_address: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.ip().to_string()),
            user_agent: header_text("user-agent", 500),
        }))
    }
}
