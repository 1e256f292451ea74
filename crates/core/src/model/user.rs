use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::text_enum;
use crate::id::UserId;

text_enum!(
    /// Whether an account may be used.
    UserStatus {
        Active = "active",
        Deactivated = "deactivated",
    }
);

/// A user account (the `users` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub username: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
    pub timezone: String,
    pub status: UserStatus,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub bio: Option<String>,
    pub pronouns: Option<String>,
    pub notification_settings: Value,
    pub theme_preferences: Value,
    pub language: String,
    pub password_hash: Option<String>,
    pub mfa_enabled: bool,
    pub mfa_secret: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
    /// When the account proved it receives mail at `email`.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// A bot user of an integration: it has no password and acts only
    /// through its token.
    #[serde(default)]
    pub is_bot: bool,
}

/// What is needed to create a user; everything else takes its default.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub id: UserId,
    pub email: String,
    pub username: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A partial update of a user's profile. `None` leaves a field unchanged;
/// `Some(None)` clears an optional field.
#[derive(Clone, Debug, Default)]
pub struct ProfileUpdate {
    pub display_name: Option<String>,
    pub avatar_url: Option<Option<String>>,
    pub timezone: Option<String>,
    pub title: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub bio: Option<Option<String>>,
    pub pronouns: Option<Option<String>>,
    pub notification_settings: Option<Value>,
    pub theme_preferences: Option<Value>,
    pub language: Option<String>,
}
