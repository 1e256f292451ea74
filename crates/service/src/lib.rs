//! Confab's use cases. This is the only layer that checks permissions and
//! orchestrates the ports; the HTTP layer calls one method per request.
#![forbid(unsafe_code)]

mod accounts;
mod admin;
mod channels;
mod commands;
mod email;
mod events;
mod files;
mod gateway;
mod integrations;
mod messages;
mod mfa;
mod operations;
mod password_reset;
mod passwords;
mod realtime;
mod retention;
mod sealing;
mod search;
mod tokens;
pub mod validate;
mod workspaces;

use std::sync::Arc;
use std::time::Duration;

use confab_core::ports::{Realtime, Stores};
use confab_core::Result;

pub use accounts::{Caller, IssuedSession, LoginOutcome, SignUp};
pub use admin::{CreatedUser, SessionSummary};
pub use channels::{ChannelAccess, NewChannelRequest, MAX_GROUP_MEMBERS};
pub use commands::{check_command, CommandOutcome, RESPONSE_URL_LIFETIME};
pub use email::EMAIL_VERIFICATION_TTL;
pub use events::{slack_signature, EventPolicy, EVENT_TYPES};
pub use files::{
    entity_tag, Download, DownloadRequest, FilePage, FilePolicy, FileQuery, PlannedSend,
    PlannedUpload, PublicLink, RangeRequest, TierMove, Upload, UploadTicket, THUMBNAIL_SIZES,
};
pub use gateway::{
    ClientCommand, CloseReason, Delivery, Hub, Outgoing, Socket, SocketStep, MAX_SOCKETS_PER_USER,
};
pub use integrations::{InstallRequest, Installed, TokenRefusal, MAX_USER_TOKENS};
pub use messages::{
    check_emoji, HistoryPage, HistoryQuery, PostMessage, Posted, ReactedPage, MAX_MESSAGE_CHARS,
};
pub use mfa::{same as secrets_match, MfaEnrollment};
pub use operations::{count_job_run, OperationalFigures};
pub use password_reset::{IssuedReset, ADMIN_RESET_TTL, MAILED_RESET_TTL};
pub use realtime::{
    PresenceUpdate, Replay, Subscriptions, MAX_PRESENCE_CHANGES_PER_MINUTE,
    MAX_TYPING_SIGNALS_PER_MINUTE, NODE_UPKEEP, REPLAY_OVERLAP,
};
pub use retention::{ChannelRetention, RetentionReport, RETENTION_BATCH};
pub use sealing::SecretKey;
pub use search::{
    FileResults, FoundFile, FoundMessage, FoundPeople, SearchRequest, SearchResults,
    MAX_SEARCH_RESULTS,
};
pub use tokens::{hash_token, session_handle};
pub use workspaces::{CreatedWorkspace, IssuedInvitation, NewWorkspaceRequest};

/// Limits and lifetimes of the account rules.
#[derive(Clone, Debug)]
pub struct Policy {
    /// A session expires after this long without use.
    pub session_ttl: Duration,
    /// Activity is recorded at most this often per session.
    pub session_touch_interval: Duration,
    /// Time allowed between the password step and the TOTP step.
    pub mfa_challenge_ttl: Duration,
    /// Failed TOTP codes allowed per account in `mfa_failure_window`.
    pub mfa_max_failures: i32,
    pub mfa_failure_window: Duration,
    /// How long an account is refused TOTP attempts after too many failures.
    pub mfa_lockout: Duration,
    /// Login attempts allowed per account, and per client address, per minute.
    pub login_attempts_per_account: u64,
    pub login_attempts_per_ip: u64,
    /// Messages one user may post to one channel per minute.
    pub messages_per_minute: u64,
    /// Sign-ups allowed per client address per hour, and from everywhere
    /// together per minute.
    pub signups_per_ip_per_hour: u64,
    pub signups_per_minute: u64,
    /// Channels one person may create per hour, and direct or group
    /// conversations one person may start per hour.
    pub channels_per_hour: u64,
    pub conversations_per_hour: u64,
    /// Workspaces one person may create per hour.
    pub workspaces_per_hour: u64,
    /// Password hashes (sign-up, login, password checks) computed at once,
    /// and how long a request waits for its turn before a 429.
    pub concurrent_password_hashes: usize,
    pub password_hash_wait: Duration,
    /// Live sessions one person may hold; a new login ends the oldest.
    pub max_sessions_per_user: usize,
    /// Seals secrets kept at rest (TOTP seeds). The default is random, so
    /// a server must be given its lasting key.
    pub secret_key: SecretKey,
    /// Where people open the server (`https://chat.example.com`): the base
    /// of links in mail. Without it, mail carries the bare token.
    pub public_url: Option<String>,
    /// How events are delivered to bots.
    pub events: EventPolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(86_400),
            session_touch_interval: Duration::from_secs(60),
            mfa_challenge_ttl: Duration::from_secs(300),
            mfa_max_failures: 5,
            mfa_failure_window: Duration::from_secs(900),
            mfa_lockout: Duration::from_secs(900),
            login_attempts_per_account: 10,
            login_attempts_per_ip: 50,
            messages_per_minute: 120,
            signups_per_ip_per_hour: 20,
            signups_per_minute: 60,
            channels_per_hour: 20,
            conversations_per_hour: 100,
            workspaces_per_hour: 10,
            concurrent_password_hashes: std::thread::available_parallelism().map_or(2, |n| n.get()),
            password_hash_wait: Duration::from_secs(10),
            max_sessions_per_user: 100,
            secret_key: SecretKey::default(),
            public_url: None,
            events: EventPolicy::default(),
        }
    }
}

/// Every use case of the server, over the ports it was given.
#[derive(Clone)]
pub struct Services {
    stores: Stores,
    realtime: Realtime,
    policy: Policy,
    mailer: Arc<dyn confab_core::ports::Mailer>,
    passwords: passwords::PasswordWork,
    /// This process among the nodes sharing the ephemeral state.
    node_id: Arc<str>,
    /// The search engine, when there is one.
    search: Option<search::Search>,
    /// Blob storage for files, when there is one.
    files: Option<files::FilesPart>,
    /// Where events for bots go out, when they do.
    events: Option<events::EventsPart>,
}

impl Services {
    /// Services over the given ports.
    pub fn new(stores: Stores, realtime: Realtime, policy: Policy) -> Self {
        Self {
            stores,
            realtime,
            passwords: passwords::PasswordWork::new(
                policy.concurrent_password_hashes,
                policy.password_hash_wait,
            ),
            policy,
            mailer: Arc::new(email::NoMailer),
            node_id: Arc::from(confab_core::id::random_hex_id()),
            search: None,
            files: None,
            events: None,
        }
    }

    /// These services, sending mail through `mailer` (without one, nothing
    /// that needs mail works).
    pub fn with_mailer(mut self, mailer: Arc<dyn confab_core::ports::Mailer>) -> Self {
        self.mailer = mailer;
        self
    }

    /// This node's subscription to the event bus (one per node; the gateway
    /// fans it out to sockets).
    pub fn subscribe_events(&self) -> confab_core::ports::BusStream {
        self.realtime.bus.subscribe()
    }

    /// Whether the ephemeral state answers (it may be down while the server
    /// keeps serving).
    pub async fn realtime_health(&self) -> Result<()> {
        self.realtime.state.ping().await
    }

    /// The names of the bus and state backends in use.
    pub fn realtime_backends(&self) -> (&'static str, &'static str) {
        (self.realtime.bus.backend(), self.realtime.state.backend())
    }

    /// Whether the server can serve requests: its database answers.
    pub async fn readiness(&self) -> Result<()> {
        self.stores.admin.ping().await
    }

    /// The name of the storage backend in use.
    pub fn storage_backend(&self) -> &'static str {
        self.stores.admin.backend()
    }
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}
