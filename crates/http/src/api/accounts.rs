//! Accounts: sign-up, login (with MFA), logout, profile, password, sessions.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use confab_core::model::ProfileUpdate;
use confab_service::{IssuedSession, LoginOutcome, SignUp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{cookie_attributes, session_cookie, ApiJson, Authed, Client, SESSION_COOKIE};
use crate::wire::{double_option, ErrorBody, SessionView, UserView};
use crate::{ApiError, AppState};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_up))
        .routes(routes!(log_in))
        .routes(routes!(log_in_with_code))
        .routes(routes!(log_out))
        .routes(routes!(log_out_everywhere))
        .routes(routes!(me, update_me, deactivate_me))
        .routes(routes!(change_password))
        .routes(routes!(sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(mfa_enroll))
        .routes(routes!(mfa_confirm))
        .routes(routes!(mfa_disable))
        .routes(routes!(verify_email))
        .routes(routes!(request_email_verification))
        .routes(routes!(request_password_reset))
        .routes(routes!(reset_password))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordResetRequestBody {
    email: String,
}

/// Mail a single-use link that sets a new password (valid for an hour) to
/// the address, if an active account has it. Always `202` for a well-formed
/// address, so nobody learns which addresses have accounts.
#[utoipa::path(post, path = "/auth/password-reset/request", tag = "accounts", security(()),
    request_body = PasswordResetRequestBody,
    responses((status = 202, body = MailSent), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn request_password_reset(
    State(app): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<PasswordResetRequestBody>,
) -> Result<(StatusCode, Json<MailSent>), ApiError> {
    app.request_password_reset(&body.email, &client).await?;
    Ok((StatusCode::ACCEPTED, Json(MailSent { status: "sent" })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordResetBody {
    /// The token of the link (mailed, or made with `confab admin reset-password`).
    token: String,
    /// The new password: 8 to 256 characters.
    #[schema(min_length = 8, max_length = 256)]
    password: String,
}

/// Set a new password with a reset token; every session of the account ends
/// (log in again).
#[utoipa::path(post, path = "/auth/password-reset", tag = "accounts", security(()),
    request_body = PasswordResetBody,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody),
        (status = 404, description = "Unknown, used or expired token", body = ErrorBody)))]
async fn reset_password(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<PasswordResetBody>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(
        app.reset_password(&body.token, &body.password)
            .await?
            .into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct VerifyEmailBody {
    /// The token of the link mailed at sign-up (or on request).
    token: String,
}

/// Confirm an address with the token mailed to it; no session needed (the
/// token is the proof).
#[utoipa::path(post, path = "/auth/verify-email", tag = "accounts", security(()), request_body = VerifyEmailBody,
    responses((status = 200, body = UserView), (status = 404, description = "Unknown, used or expired token", body = ErrorBody)))]
async fn verify_email(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<VerifyEmailBody>,
) -> Result<Json<UserView>, ApiError> {
    Ok(Json(app.verify_email(&body.token).await?.into()))
}

/// The answer to a request for a verification mail.
#[derive(Serialize, ToSchema)]
struct MailSent {
    status: &'static str,
}

/// Mail the caller a new verification link.
#[utoipa::path(post, path = "/me/email/verification", tag = "accounts",
    responses((status = 202, body = MailSent), (status = 409, description = "Already verified", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn request_email_verification(
    State(app): State<AppState>,
    Authed(caller): Authed,
) -> Result<(StatusCode, Json<MailSent>), ApiError> {
    app.request_email_verification(&caller).await?;
    Ok((StatusCode::ACCEPTED, Json(MailSent { status: "sent" })))
}

/// The answer to a sign-up.
#[derive(Serialize, ToSchema)]
struct SignUpAccepted {
    status: &'static str,
    next: &'static str,
}

/// The answer to a login step: a session, or the demand for a TOTP code.
#[derive(Serialize, ToSchema, Default)]
struct LoginAnswer {
    /// The bearer token (also set as the `confab_session` cookie).
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<UserView>,
    /// True when the account uses MFA: send a code to `/auth/login/mfa`.
    #[serde(skip_serializing_if = "Option::is_none")]
    mfa_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    challenge_token: Option<String>,
    /// When the session (or the challenge) expires.
    expires_at: Option<DateTime<Utc>>,
}

/// The caller's live sessions.
#[derive(Serialize, ToSchema)]
struct SessionList {
    sessions: Vec<SessionView>,
}

/// A TOTP secret to load into an authenticator app.
#[derive(Serialize, ToSchema)]
struct MfaEnrollmentView {
    secret: String,
    otpauth_uri: String,
}

/// Whether MFA is in force.
#[derive(Serialize, ToSchema)]
struct MfaState {
    mfa_enabled: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SignUpBody {
    email: String,
    username: String,
    display_name: String,
    /// 8 to 256 characters, kept exactly as given.
    #[schema(min_length = 8, max_length = 256)]
    password: String,
}

/// Always `202 Accepted` for a well-formed request, whether or not the
/// address already has an account; then log in.
#[utoipa::path(post, path = "/auth/signup", tag = "accounts", security(()), request_body = SignUpBody,
    responses((status = 202, body = SignUpAccepted), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn sign_up(
    State(app): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<SignUpBody>,
) -> Result<Response, ApiError> {
    let request = SignUp {
        email: body.email,
        username: body.username,
        display_name: body.display_name,
        password: body.password,
    };
    app.sign_up(request, &client).await?;
    let answer = SignUpAccepted {
        status: "accepted",
        next: "log in with this e-mail address and password",
    };
    Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

fn session_response(app: &AppState, issued: IssuedSession) -> Response {
    let cookie = session_cookie(app, &issued.token, &issued.session);
    let body = LoginAnswer {
        token: Some(issued.token),
        user: Some(issued.user.into()),
        expires_at: Some(issued.session.expires_at),
        ..Default::default()
    };
    let mut response = Json(body).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[utoipa::path(post, path = "/auth/login", tag = "accounts", security(()), request_body = LoginBody,
    responses((status = 200, body = LoginAnswer), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn log_in(
    State(app): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    match app.log_in(&body.email, &body.password, client).await? {
        LoginOutcome::Session(issued) => Ok(session_response(&app, *issued)),
        LoginOutcome::MfaRequired {
            challenge_token,
            expires_at,
        } => Ok(Json(LoginAnswer {
            mfa_required: Some(true),
            challenge_token: Some(challenge_token),
            expires_at: Some(expires_at),
            ..Default::default()
        })
        .into_response()),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MfaLoginBody {
    challenge_token: String,
    code: String,
}

#[utoipa::path(post, path = "/auth/login/mfa", tag = "accounts", security(()), request_body = MfaLoginBody,
    responses((status = 200, body = LoginAnswer), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn log_in_with_code(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<MfaLoginBody>,
) -> Result<Response, ApiError> {
    let issued = app
        .log_in_with_code(&body.challenge_token, &body.code)
        .await?;
    Ok(session_response(&app, issued))
}

fn clear_cookie(app: &AppState) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let cookie = format!("{SESSION_COOKIE}=; {}; Max-Age=0", cookie_attributes(app));
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, value);
    }
    headers
}

#[utoipa::path(post, path = "/auth/logout", tag = "accounts", responses((status = 204), (status = 401, body = ErrorBody)))]
async fn log_out(
    State(app): State<AppState>,
    Authed(caller): Authed,
) -> Result<Response, ApiError> {
    app.log_out(&caller).await?;
    Ok((StatusCode::NO_CONTENT, clear_cookie(&app)).into_response())
}

#[utoipa::path(post, path = "/auth/logout-all", tag = "accounts", responses((status = 204), (status = 401, body = ErrorBody)))]
async fn log_out_everywhere(
    State(app): State<AppState>,
    Authed(caller): Authed,
) -> Result<Response, ApiError> {
    app.log_out_everywhere(&caller).await?;
    Ok((StatusCode::NO_CONTENT, clear_cookie(&app)).into_response())
}

#[utoipa::path(get, path = "/me", tag = "accounts", responses((status = 200, body = UserView), (status = 401, body = ErrorBody)))]
async fn me(Authed(caller): Authed) -> Json<UserView> {
    Json(caller.user.into())
}

#[derive(Deserialize, ToSchema)]
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
    #[schema(value_type = Option<Object>)]
    notification_settings: Option<Value>,
    #[schema(value_type = Option<Object>)]
    theme_preferences: Option<Value>,
    language: Option<String>,
}

#[utoipa::path(patch, path = "/me", tag = "accounts", request_body = ProfileBody,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
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

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    password: String,
}

#[utoipa::path(delete, path = "/me", tag = "accounts", request_body = PasswordBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn deactivate_me(
    State(app): State<AppState>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Response, ApiError> {
    app.deactivate_account(&caller, &body.password).await?;
    Ok((StatusCode::NO_CONTENT, clear_cookie(&app)).into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ChangePasswordBody {
    current_password: String,
    /// 8 to 256 characters, kept exactly as given.
    #[schema(min_length = 8, max_length = 256)]
    new_password: String,
}

#[utoipa::path(post, path = "/me/password", tag = "accounts", request_body = ChangePasswordBody,
    responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn change_password(
    State(app): State<AppState>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<ChangePasswordBody>,
) -> Result<StatusCode, ApiError> {
    app.change_password(&caller, &body.current_password, &body.new_password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/me/sessions", tag = "accounts", responses((status = 200, body = SessionList), (status = 401, body = ErrorBody)))]
async fn sessions(
    State(app): State<AppState>,
    Authed(caller): Authed,
) -> Result<Json<SessionList>, ApiError> {
    let sessions: Vec<SessionView> = app
        .sessions(&caller)
        .await?
        .into_iter()
        .map(|s| SessionView::new(s, &caller.session.id))
        .collect();
    Ok(Json(SessionList { sessions }))
}

/// End one of the caller's sessions (this one too, which logs out).
#[utoipa::path(delete, path = "/me/sessions/{session}", tag = "accounts",
    params(("session" = String, Path, description = "The `id` of a session from `GET /me/sessions`")),
    responses((status = 204, description = "Revoked"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_session(
    State(app): State<AppState>,
    Authed(caller): Authed,
    Path(session): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.revoke_session(&caller, &session).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/me/mfa/enroll", tag = "accounts", request_body = PasswordBody,
    responses((status = 200, body = MfaEnrollmentView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn mfa_enroll(
    State(app): State<AppState>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Json<MfaEnrollmentView>, ApiError> {
    let enrollment = app.mfa_enroll(&caller, &body.password).await?;
    Ok(Json(MfaEnrollmentView {
        secret: enrollment.secret,
        otpauth_uri: enrollment.otpauth_uri,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CodeBody {
    code: String,
}

#[utoipa::path(post, path = "/me/mfa/confirm", tag = "accounts", request_body = CodeBody,
    responses((status = 200, body = MfaState), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn mfa_confirm(
    State(app): State<AppState>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<MfaState>, ApiError> {
    app.mfa_confirm(&caller, &body.code).await?;
    Ok(Json(MfaState { mfa_enabled: true }))
}

#[utoipa::path(post, path = "/me/mfa/disable", tag = "accounts", request_body = CodeBody,
    responses((status = 200, body = MfaState), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn mfa_disable(
    State(app): State<AppState>,
    Authed(caller): Authed,
    ApiJson(body): ApiJson<CodeBody>,
) -> Result<Json<MfaState>, ApiError> {
    app.mfa_disable(&caller, &body.code).await?;
    Ok(Json(MfaState { mfa_enabled: false }))
}
