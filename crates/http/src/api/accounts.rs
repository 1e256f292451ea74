//! Accounts: sign-up, login (with MFA), logout, profile, password, sessions.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use confab_core::model::ProfileUpdate;
use confab_service::{IssuedSession, LoginOutcome, SignUp};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::extract::{ApiJson, Authed, Client, SESSION_COOKIE};
use crate::wire::{double_option, SessionView, UserView};
use crate::{ApiError, AppState};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/signup", post(sign_up))
        .route("/auth/login", post(log_in))
        .route("/auth/login/mfa", post(log_in_with_code))
        .route("/auth/logout", post(log_out))
        .route("/auth/logout-all", post(log_out_everywhere))
        .route("/me", get(me).patch(update_me).delete(deactivate_me))
        .route("/me/password", post(change_password))
        .route("/me/sessions", get(sessions))
        .route("/me/mfa/enroll", post(mfa_enroll))
        .route("/me/mfa/confirm", post(mfa_confirm))
        .route("/me/mfa/disable", post(mfa_disable))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignUpBody {
    email: String,
    username: String,
    display_name: String,
    password: String,
}

/// Always `202 Accepted` for a well-formed request, whether or not the
/// address already has an account; then log in.
async fn sign_up(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<SignUpBody>,
) -> Result<Response, ApiError> {
    app.sign_up(SignUp {
        email: body.email,
        username: body.username,
        display_name: body.display_name,
        password: body.password,
    })
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"status": "accepted", "next": "log in with this e-mail address and password"})),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

fn session_response(issued: IssuedSession) -> Response {
    let max_age = (issued.session.expires_at - issued.session.created_at).num_seconds();
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}",
        issued.token
    );
    let body = json!({
        "token": issued.token,
        "expires_at": issued.session.expires_at,
        "user": UserView::from(issued.user),
    });
    let mut response = Json(body).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

async fn log_in(
    State(app): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    match app.log_in(&body.email, &body.password, client).await? {
        LoginOutcome::Session(issued) => Ok(session_response(*issued)),
        LoginOutcome::MfaRequired {
            challenge_token,
            expires_at,
        } => Ok(Json(json!({
            "mfa_required": true,
            "challenge_token": challenge_token,
            "expires_at": expires_at,
        }))
        .into_response()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MfaLoginBody {
    challenge_token: String,
    code: String,
}

async fn log_in_with_code(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<MfaLoginBody>,
) -> Result<Response, ApiError> {
    let issued = app
        .log_in_with_code(&body.challenge_token, &body.code)
        .await?;
    Ok(session_response(issued))
}

fn clear_cookie() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        HeaderValue::from_static("confab_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    headers
}

async fn log_out(
    State(app): State<AppState>,
    Authed(caller): Authed,
) -> Result<Response, ApiError> {
    app.log_out(&caller).await?;
    Ok((StatusCode::NO_CONTENT, clear_cookie()).into_response())
}

async fn log_out_everywhere(
    State(app): State<AppState>,
    Authed(caller): Authed,
) -> Result<Response, ApiError> {
    app.log_out_everywhere(&caller).await?;
    Ok((StatusCode::NO_CONTENT, clear_cookie()).into_response())
}

async fn me(
    State(app): State<AppState>,
    Authed(caller): Authed,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(app.current_user(&caller).await?.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileBody {
    display_name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    avatar_url: Option<Option<String>>,
    timezone: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    title: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    bio: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pronouns: Option<Option<String>>,
    notification_settings: Option<Value>,
    theme_preferences: Option<Value>,
    language: Option<String>,
}

async fn update_me(
    State(app): State<AppState>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<ProfileBody>,
) -> Result<Json<UserView>, ApiError> {
    let update = ProfileUpdate {
        display_name: body.display_name,
        avatar_url: body.avatar_url,
        timezone: body.timezone,
        title: body.title,
        phone: body.phone,
        bio: body.bio,
        pronouns: body.pronouns,
        notification_settings: body.notification_settings,
        theme_preferences: body.theme_preferences,
        language: body.language,
    };
    Ok(Json(app.update_profile(&caller, update).await?.into()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    password: String,
}

async fn deactivate_me(
    State(app): State<AppState>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Response, ApiError> {
    app.deactivate_account(&caller, &body.password).await?;
    Ok((StatusCode::NO_CONTENT, clear_cookie()).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangePasswordBody {
    current_password: String,
    new_password: String,
}

async fn change_password(
    State(app): State<AppState>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<ChangePasswordBody>,
) -> Result<StatusCode, ApiError> {
    app.change_password(&caller, &body.current_password, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn sessions(
    State(app): State<AppState>,
    Authed(caller): Authed,
) -> Result<Json<Value>, ApiError> {
    let sessions: Vec<SessionView> = app
        .sessions(&caller)
        .await?
        .into_iter()
        .map(|s| SessionView::new(s, &caller.session.id))
        .collect();
    Ok(Json(json!({ "sessions": sessions })))
}

async fn mfa_enroll(
    State(app): State<AppState>,
    Authed(caller): Authed,
) -> Result<Json<Value>, ApiError> {
    let enrollment = app.mfa_enroll(&caller).await?;
    Ok(Json(json!({
        "secret": enrollment.secret,
        "otpauth_uri": enrollment.otpauth_uri,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
}

async fn mfa_confirm(
    State(app): State<AppState>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Value>, ApiError> {
    app.mfa_confirm(&caller, &body.code).await?;
    Ok(Json(json!({"mfa_enabled": true})))
}

async fn mfa_disable(
    State(app): State<AppState>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<Value>, ApiError> {
    app.mfa_disable(&caller, &body.code).await?;
    Ok(Json(json!({"mfa_enabled": false})))
}
