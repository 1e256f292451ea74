//! `confab retention run [--dry-run]`: the daily retention run, now.

use confab_core::config::Config;
use confab_service::RetentionReport;

use crate::backends;

pub async fn run(config: Config, dry_run: bool) -> anyhow::Result<()> {
    let (stores, services) = backends::command_services(&config).await?;
    let report = services
        .run_retention(confab_core::time::now(), dry_run)
        .await;
    stores.admin.close().await;
    print!("{}", describe(&report?, dry_run));
    Ok(())
}

/// The report in words: a line per channel, then the total.
fn describe(report: &RetentionReport, dry_run: bool) -> String {
    let mut text = String::new();
    for held in &report.held {
        text.push_str(&format!("workspace {held}: under legal hold, left alone\n"));
    }
    for channel in &report.channels {
        text.push_str(&format!(
            "workspace {} channel {}: {} threads, {} messages before {}\n",
            channel.workspace,
            channel.channel,
            channel.threads,
            channel.messages,
            channel.cutoff.format("%Y-%m-%d %H:%M UTC")
        ));
    }
    let verb = if dry_run { "would move" } else { "moved" };
    text.push_str(&format!(
        "{} messages in {} channels {verb} to the archive{}.\n",
        report.messages(),
        report.channels.len(),
        if dry_run { "; nothing was changed" } else { "" }
    ));
    text
}
