//! Retention: threads past their channel's retention move into the archive
//! (a daily job, run by one node; or `confab retention run`), and workspace
//! admins read the archive of channels they may read. What moves and what
//! stays is in `confab_core::retention`.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use confab_core::id::{ChannelId, MessageId, WorkspaceId};
use confab_core::model::{Message, WorkspaceRole};
use confab_core::retention::{legal_hold, retention_days};
use confab_core::{time, Error, Result};
use tokio::sync::watch;

use crate::{Caller, Services};

/// Threads moved per transaction: short locks, and a crash loses at most
/// one batch's work (which the next run does again).
pub const RETENTION_BATCH: u32 = 100;
const JOB: &str = "retention";

/// What a retention run moved (or, dry, would move) from one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelRetention {
    pub workspace: WorkspaceId,
    pub channel: ChannelId,
    /// Messages older than this (with their threads) go.
    pub cutoff: DateTime<Utc>,
    pub threads: u64,
    pub messages: u64,
}

/// What a retention run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// The channels from which something moved (or would).
    pub channels: Vec<ChannelRetention>,
    /// Workspaces left alone because of a legal hold.
    pub held: Vec<WorkspaceId>,
}

impl RetentionReport {
    pub fn messages(&self) -> u64 {
        self.channels.iter().map(|c| c.messages).sum()
    }
}

impl Services {
    /// Archive every thread past its channel's retention as of `now`, in
    /// batches; with `dry_run`, only count them.
    pub async fn run_retention(
        &self,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<RetentionReport> {
        let mut report = RetentionReport::default();
        let mut after = None;
        loop {
            let workspaces = self.stores.workspaces.scan_workspaces(after, 100).await?;
            let Some(last) = workspaces.last() else {
                return Ok(report);
            };
            after = Some(last.id);
            for workspace in workspaces {
                if legal_hold(&workspace.settings) {
                    report.held.push(workspace.id);
                    continue;
                }
                let channels = self
                    .stores
                    .channels
                    .retention_policies(workspace.id)
                    .await?;
                for (channel, policy) in channels {
                    let Some(days) = retention_days(&workspace.settings, policy.as_ref()) else {
                        continue;
                    };
                    let cutoff = now - Duration::days(i64::from(days));
                    let done = match dry_run {
                        true => self.count_aged(channel, cutoff).await?,
                        false => {
                            self.archive_aged(workspace.id, channel, cutoff, now)
                                .await?
                        }
                    };
                    if done.0 > 0 {
                        report.channels.push(ChannelRetention {
                            workspace: workspace.id,
                            channel,
                            cutoff,
                            threads: done.0,
                            messages: done.1,
                        });
                    }
                }
            }
        }
    }

    async fn count_aged(&self, channel: ChannelId, cutoff: DateTime<Utc>) -> Result<(u64, u64)> {
        self.stores.messages.count_archivable(channel, cutoff).await
    }

    /// Move the aged threads of `channel` batch by batch; (threads,
    /// messages) moved.
    async fn archive_aged(
        &self,
        workspace: WorkspaceId,
        channel: ChannelId,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(u64, u64)> {
        let (mut threads, mut messages) = (0, 0);
        loop {
            let parents = self
                .stores
                .messages
                .archivable_threads(channel, cutoff, RETENTION_BATCH)
                .await?;
            if parents.is_empty() {
                break;
            }
            messages += self.stores.messages.archive_threads(&parents, now).await?;
            threads += parents.len() as u64;
        }
        if threads > 0 {
            self.after_archiving(workspace, channel).await;
        }
        Ok((threads, messages))
    }

    /// Archived messages leave the cached pages and counts.
    async fn after_archiving(&self, workspace: WorkspaceId, channel: ChannelId) {
        self.changed_for_search();
        let state = &self.realtime.state;
        if let Err(err) = state.forget_recent_messages(channel).await {
            tracing::warn!(error = %err, "cached pages of an archived channel lapse by themselves");
        }
        match self.channel_member_ids(channel).await {
            Ok(members) => {
                if let Err(err) = state.forget_unread_counts(workspace, &members).await {
                    tracing::warn!(error = %err, "cached counts lapse by themselves");
                }
            }
            Err(err) => tracing::warn!(error = %err, "cached counts lapse by themselves"),
        }
    }

    /// The daily run at `run_at` (UTC), by whichever node takes it first,
    /// until `stop`.
    pub async fn run_retention_job(&self, run_at: NaiveTime, mut stop: watch::Receiver<bool>) {
        loop {
            let now = time::now();
            let today = now.date_naive().and_time(run_at).and_utc();
            let next = if today > now {
                today
            } else {
                today + Duration::days(1)
            };
            let wait = (next - now).to_std().unwrap_or_default();
            tokio::select! {
                _ = stop.wait_for(|stopped| *stopped) => return,
                () = tokio::time::sleep(wait) => {}
            }
            let started = time::now();
            // The run of the day is taken once, whichever node comes first.
            let since = started - Duration::hours(12);
            match self.stores.admin.claim_job_run(JOB, since, started).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(err) => {
                    tracing::warn!(error = %err, "the retention run could not be claimed");
                    continue;
                }
            }
            let outcome = self.run_retention(started, false).await;
            crate::count_job_run(JOB, &outcome);
            match outcome {
                Ok(report) => tracing::info!(
                    messages = report.messages(),
                    channels = report.channels.len(),
                    held = report.held.len(),
                    "moved messages past their retention into the archive"
                ),
                Err(err) => {
                    tracing::error!(error = %err, "the retention run failed; the next run goes on")
                }
            }
        }
    }

    /// A page of the archive of `channel`, newest first, for the workspace's
    /// owners and admins who may read the channel (a private channel or a
    /// conversation only if they are in it).
    pub async fn archived_messages(
        &self,
        caller: &Caller,
        channel: ChannelId,
        before: Option<(DateTime<Utc>, MessageId)>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let access = self.readable_channel(caller, channel).await?;
        let role = access.workspace_member.role;
        if !matches!(role, WorkspaceRole::Owner | WorkspaceRole::Admin) {
            return Err(Error::Forbidden(
                "only the workspace's owners and admins read its archive".into(),
            ));
        }
        self.stores
            .messages
            .archived_messages(channel, before, limit.clamp(1, 200))
            .await
    }
}
