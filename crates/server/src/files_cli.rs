//! `confab files tier`: move file bytes unread for long to lower storage
//! tiers now (the server's daily job does the same), or with `--dry-run`
//! list what would move.

use confab_core::config::Config;
use confab_service::TierMove;

use crate::backends;

pub async fn tier(config: Config, dry_run: bool) -> anyhow::Result<()> {
    let (stores, services) = backends::command_services(&config).await?;
    let blobs = backends::open_blobs(&config).await?;
    let services = services.with_files(blobs, backends::file_policy(&config));
    let outcome = services.tier_files(!dry_run).await;
    stores.admin.close().await;
    let moves = outcome?;
    for line in report(&moves, dry_run) {
        println!("{line}");
    }
    Ok(())
}

/// One line per move, then the totals.
fn report(moves: &[TierMove], dry_run: bool) -> Vec<String> {
    let mut lines: Vec<String> = moves
        .iter()
        .map(|m| {
            format!(
                "{}  {} bytes  last used {}  {} -> {}",
                m.storage_key,
                m.bytes,
                m.last_used.format("%Y-%m-%d"),
                m.from,
                m.to
            )
        })
        .collect();
    let bytes: i64 = moves.iter().map(|m| m.bytes).sum();
    let verb = if dry_run { "would move" } else { "moved" };
    lines.push(format!(
        "{} stored files ({bytes} bytes) {verb} to lower tiers{}.",
        moves.len(),
        if dry_run { "; nothing was changed" } else { "" }
    ));
    lines
}
