//! `confab`: the Confab chat server binary.
#![forbid(unsafe_code)]

mod admin_cli;
mod backends;
mod backup;
mod config;
mod doctor;
mod files_cli;
mod handover;
mod logging;
mod metrics;
mod progress;
mod reindex;
mod retention_cli;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Confab, a self-hosted team chat server.
#[derive(Debug, Parser)]
#[command(name = "confab", version, about)]
struct Cli {
    /// A TOML configuration file; CONFAB_* environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server (migrating the database first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the effective configuration as TOML and exit.
    PrintConfig,
    /// Rebuild a search index from the database (with the server stopped).
    Reindex {
        #[arg(value_enum, default_value = "all")]
        what: reindex::Target,
    },
    /// Manage stored files.
    Files {
        #[command(subcommand)]
        command: FilesCommand,
    },
    /// Back up the database, the stored files and the secret key into a new
    /// directory under DIR, while the server runs.
    Backup {
        dir: PathBuf,
        /// Then keep only the newest N backups in DIR.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        keep: Option<u16>,
    },
    /// Restore a backup (a directory made by `confab backup`) into an empty
    /// database, file store and data directory.
    Restore {
        backup: PathBuf,
        /// Replace what the database and file store already hold.
        #[arg(long)]
        force: bool,
    },
    /// Check the configuration and everything it names (database, Redis,
    /// files, disk, clocks) and say what is wrong; changes nothing.
    Doctor,
    /// Move messages past their retention into the archive.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Manage accounts and workspaces (users are named by username,
    /// e-mail address or id).
    Admin {
        #[command(subcommand)]
        command: admin_cli::AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
enum RetentionCommand {
    /// Run the daily retention run now (with servers running or not).
    Run {
        /// Print what would move, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum FilesCommand {
    /// Move file bytes unread for long to lower storage tiers now.
    Tier {
        /// List what would move, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = config::load(cli.config.as_deref()).and_then(|config| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(run(cli.command, config))
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, the whole chain of causes.
            eprintln!("confab: error: {}", format!("{err:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: confab_core::config::Config) -> anyhow::Result<()> {
    match command {
        Command::PrintConfig => {
            let mut shown = config;
            // The key is a secret: say that it is set, not what it is.
            if shown.secrets.key.is_some() {
                shown.secrets.key = Some("(set)".into());
            }
            if shown.metrics.token.is_some() {
                shown.metrics.token = Some("(set)".into());
            }
            if shown.mail.smtp_url.is_some() {
                shown.mail.smtp_url = Some("(set)".into());
            }
            print!("{}", toml::to_string_pretty(&shown)?);
            Ok(())
        }
        Command::Migrate => {
            logging::init(&config.log)?;
            let stores = backends::open_stores(&config).await?;
            println!("Database ({}) is up to date.", stores.admin.backend());
            stores.admin.close().await;
            Ok(())
        }
        Command::Serve => {
            logging::init(&config.log)?;
            serve::serve(config).await
        }
        Command::Reindex { what } => {
            logging::init(&config.log)?;
            reindex::reindex(config, what).await
        }
        Command::Files {
            command: FilesCommand::Tier { dry_run },
        } => {
            logging::init(&config.log)?;
            files_cli::tier(config, dry_run).await
        }
        Command::Backup { dir, keep } => {
            logging::init(&config.log)?;
            backup::backup(config, dir, keep.map(usize::from)).await
        }
        Command::Restore { backup, force } => {
            logging::init(&config.log)?;
            backup::restore(config, backup, force).await
        }
        Command::Doctor => doctor::doctor(config).await,
        Command::Retention {
            command: RetentionCommand::Run { dry_run },
        } => {
            logging::init(&config.log)?;
            retention_cli::run(config, dry_run).await
        }
        Command::Admin { command } => {
            logging::init(&config.log)?;
            admin_cli::run(config, command).await
        }
    }
}
