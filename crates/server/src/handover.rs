//! The server's side of rebuilding an embedded index while it runs (see
//! [`confab_search::handover`]): once a second it looks at the markers and
//! pauses writes, puts the rebuilt index in place, or takes writes again
//! when a rebuild was given up.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use confab_search::handover::{Handover, Step};
use confab_search::{IndexKind, TantivyIndex};
use tokio::sync::watch;

/// Look at the markers until `stop` turns true.
pub async fn run(index: Arc<TantivyIndex>, root: PathBuf, mut stop: watch::Receiver<bool>) {
    loop {
        let (index, root) = (index.clone(), root.clone());
        // Pausing waits for a write under way: off the async threads.
        let _ = tokio::task::spawn_blocking(move || look(&index, &root)).await;
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// One look at the markers of every index. Blocks.
pub fn look(index: &TantivyIndex, root: &std::path::Path) {
    for kind in IndexKind::ALL {
        step(index, &Handover::new(root, kind));
    }
}

fn step(index: &TantivyIndex, handover: &Handover) {
    let kind = handover.kind();
    let name = kind.dir_name();
    let paused = index.is_paused(kind);
    if paused && handover.has(Step::Ready) {
        let adopted = index.adopt(kind);
        // The rebuild reads the answer once `.ready` is gone.
        handover.clear();
        match adopted {
            Ok(()) => {
                if let Err(err) = handover.mark(Step::Adopted) {
                    tracing::warn!(error = %err, index = name, "cannot mark the rebuilt index as taken up");
                }
                tracing::info!(index = name, "answering from the rebuilt search index");
            }
            Err(err) => {
                index.resume(kind);
                tracing::warn!(error = %err, index = name, "cannot take up the rebuilt search index; keeping the old one");
            }
        }
    } else if !paused && handover.is_fresh(Step::Building) && !handover.has(Step::Ready) {
        index.pause(kind);
        match handover.mark(Step::Paused) {
            Ok(()) => tracing::info!(
                index = name,
                "a rebuild of the search index began; changes wait for it"
            ),
            Err(err) => {
                index.resume(kind);
                tracing::warn!(error = %err, index = name, "cannot answer a rebuild of the search index");
            }
        }
    } else if paused && !handover.is_fresh(Step::Building) {
        index.resume(kind);
        handover.clear();
        tracing::warn!(
            index = name,
            "a rebuild of the search index was given up; indexing again"
        );
    }
}
