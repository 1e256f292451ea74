//! `confab admin`: accounts and workspaces from the command line, for the
//! operator of the server (the first administrator of a fresh install, a
//! locked-out owner, a departing employee's sessions).

use std::io::Read;

use clap::Subcommand;
use confab_core::config::Config;
use confab_core::id::WorkspaceId;
use confab_service::Services;

use crate::backends;

/// A user is named by username, e-mail address or id.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make an account. Without --password-stdin a password is made and
    /// printed once. The address counts as verified.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print a single-use link (valid for 24 hours) that sets a new password
    /// for the user; using it ends their sessions.
    ResetPassword { user: String },
    /// Deactivate an account: it cannot log in, and its sessions end.
    Deactivate { user: String },
    /// Let a deactivated account log in again.
    Reactivate { user: String },
    /// List a user's live sessions (by handle, never by token).
    Sessions { user: String },
    /// End every session of a user.
    RevokeSessions { user: String },
    /// List the workspaces, or those of one user.
    Workspaces {
        #[arg(long)]
        user: Option<String>,
    },
    /// Make a member of a workspace one of its owners.
    MakeOwner {
        user: String,
        #[arg(long)]
        workspace: String,
    },
}

pub async fn run(config: Config, command: AdminCommand) -> anyhow::Result<()> {
    let (stores, services) = backends::command_services(&config).await?;
    let outcome = execute(&services, command).await;
    stores.admin.close().await;
    for line in outcome? {
        println!("{line}");
    }
    Ok(())
}

/// Do it; the lines to print.
async fn execute(services: &Services, command: AdminCommand) -> anyhow::Result<Vec<String>> {
    Ok(match command {
        AdminCommand::CreateUser {
            username,
            email,
            display_name,
            password_stdin,
        } => {
            let password = match password_stdin {
                true => Some(read_password()?),
                false => None,
            };
            let made = services
                .admin_create_user(&username, &email, display_name.as_deref(), password)
                .await?;
            let mut lines = vec![format!(
                "Created {} <{}> ({}).",
                made.user.username, made.user.email, made.user.id
            )];
            if let Some(password) = made.generated_password {
                lines.push(format!("Password (shown once): {password}"));
            }
            lines
        }
        AdminCommand::ResetPassword { user } => {
            let issued = services.admin_password_reset(&user).await?;
            let link = issued.link.unwrap_or_else(|| {
                format!(
                    "/reset-password?token={} (on the server's address: set server.public_url for a whole link)",
                    issued.token
                )
            });
            vec![
                format!(
                    "A password reset for {} <{}>, to use once before {}:",
                    issued.user.username,
                    issued.user.email,
                    issued.expires_at.format("%Y-%m-%d %H:%M UTC")
                ),
                format!("  {link}"),
            ]
        }
        AdminCommand::Deactivate { user } => {
            let user = services.admin_set_user_active(&user, false).await?;
            vec![format!(
                "{} is deactivated; their sessions have ended.",
                user.username
            )]
        }
        AdminCommand::Reactivate { user } => {
            let user = services.admin_set_user_active(&user, true).await?;
            vec![format!("{} is active again.", user.username)]
        }
        AdminCommand::Sessions { user } => {
            let (user, sessions) = services.admin_sessions(&user).await?;
            let mut lines: Vec<String> = sessions
                .iter()
                .map(|s| {
                    format!(
                        "{}  {}  from {}  since {}  last active {}  {}",
                        s.handle,
                        s.device_type,
                        s.ip_address.as_deref().unwrap_or("-"),
                        s.created_at.format("%Y-%m-%d %H:%M"),
                        s.last_activity_at.format("%Y-%m-%d %H:%M"),
                        s.user_agent.as_deref().unwrap_or("")
                    )
                })
                .collect();
            lines.push(format!(
                "{} live sessions of {}.",
                sessions.len(),
                user.username
            ));
            lines
        }
        AdminCommand::RevokeSessions { user } => {
            let (user, ended) = services.admin_revoke_sessions(&user).await?;
            vec![format!("Ended {ended} sessions of {}.", user.username)]
        }
        AdminCommand::Workspaces { user } => {
            let workspaces = services.admin_workspaces(user.as_deref()).await?;
            let mut lines: Vec<String> = workspaces
                .iter()
                .map(|w| {
                    format!(
                        "{}  {}  {}",
                        w.id,
                        w.name,
                        w.domain.as_deref().unwrap_or("-")
                    )
                })
                .collect();
            lines.push(format!("{} workspaces.", workspaces.len()));
            lines
        }
        AdminCommand::MakeOwner { user, workspace } => {
            let id: WorkspaceId = workspace
                .trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("{workspace:?} is not a workspace id"))?;
            let member = services.admin_make_owner(&user, id).await?;
            vec![format!(
                "{} is now an owner of workspace {}.",
                user, member.workspace_id
            )]
        }
    })
}

/// One line of standard input, without its line end.
fn read_password() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let line = text.lines().next().unwrap_or_default().to_owned();
    anyhow::ensure!(!line.is_empty(), "no password on standard input");
    Ok(line)
}
