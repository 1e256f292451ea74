//! Rebuilding an embedded index while a server holds it. `confab reindex`
//! and the server take turns through marker files beside the indexes:
//!
//! 1. the rebuild writes `.{kind}.building` (and touches it while it works);
//! 2. the server pauses writes to that index (changes wait in the outbox)
//!    and answers `.{kind}.paused`;
//! 3. the rebuild reads the database into [`rebuild_root`] and writes
//!    `.{kind}.ready`;
//! 4. the server puts the rebuilt index in place, takes writes again (the
//!    waiting changes go to the rebuilt index) and answers `.{kind}.adopted`.
//!
//! A rebuild that stops touching its marker for [`STALE`] is given up: the
//! server takes writes again. Searches are answered from the old index
//! throughout.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::IndexKind;

/// How long a rebuild may go without touching its marker.
pub const STALE: Duration = Duration::from_secs(60);

/// Where indexes are rebuilt, beside the live `root`.
pub fn rebuild_root(root: &Path) -> PathBuf {
    root.with_extension("new")
}

/// Put the index directory `fresh` in the place of `live`, whose directory
/// is moved aside (to `live.old`, an older one there removed); the path it
/// was moved to, for the caller to remove once nothing reads it. On failure
/// `live` is as it was.
pub fn put_in_place(live: &Path, fresh: &Path) -> std::io::Result<PathBuf> {
    let old = live.with_extension("old");
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    if live.exists() {
        std::fs::rename(live, &old)?;
    }
    if let Err(err) = std::fs::rename(fresh, live) {
        if old.exists() {
            std::fs::rename(&old, live)?;
        }
        return Err(err);
    }
    Ok(old)
}

/// Undo [`put_in_place`]: `live` back to `fresh`, `old` back to `live`.
pub fn take_back(live: &Path, fresh: &Path, old: &Path) -> std::io::Result<()> {
    std::fs::rename(live, fresh)?;
    if old.exists() {
        std::fs::rename(old, live)?;
    }
    Ok(())
}

/// A step of the hand-over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Building,
    Paused,
    Ready,
    Adopted,
}

impl Step {
    const ALL: [Step; 4] = [Step::Building, Step::Paused, Step::Ready, Step::Adopted];

    fn name(self) -> &'static str {
        match self {
            Step::Building => "building",
            Step::Paused => "paused",
            Step::Ready => "ready",
            Step::Adopted => "adopted",
        }
    }
}

/// The markers of the rebuild of one index under `root`.
#[derive(Clone, Debug)]
pub struct Handover {
    root: PathBuf,
    kind: IndexKind,
}

impl Handover {
    pub fn new(root: &Path, kind: IndexKind) -> Self {
        Self {
            root: root.to_owned(),
            kind,
        }
    }

    pub fn kind(&self) -> IndexKind {
        self.kind
    }

    fn path(&self, step: Step) -> PathBuf {
        self.root
            .join(format!(".{}.{}", self.kind.dir_name(), step.name()))
    }

    /// Write (or touch) the marker of `step`.
    pub fn mark(&self, step: Step) -> std::io::Result<()> {
        std::fs::write(self.path(step), b"")
    }

    /// Whether the marker of `step` is there.
    pub fn has(&self, step: Step) -> bool {
        self.path(step).exists()
    }

    /// Whether the marker of `step` is there and was touched within
    /// [`STALE`].
    pub fn is_fresh(&self, step: Step) -> bool {
        std::fs::metadata(self.path(step))
            .and_then(|m| m.modified())
            .is_ok_and(|at| {
                SystemTime::now()
                    .duration_since(at)
                    .map_or(true, |age| age < STALE)
            })
    }

    /// Remove every marker.
    pub fn clear(&self) {
        for step in Step::ALL {
            let _ = std::fs::remove_file(self.path(step));
        }
    }

    /// Wait up to `limit` for the marker of `step`.
    pub async fn wait_for(&self, step: Step, limit: Duration) -> bool {
        self.wait_until(limit, || self.has(step)).await
    }

    /// Wait up to `limit` for the marker of `step` to go.
    pub async fn wait_for_gone(&self, step: Step, limit: Duration) -> bool {
        self.wait_until(limit, || !self.has(step)).await
    }

    async fn wait_until(&self, limit: Duration, done: impl Fn() -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !done() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_written_seen_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let handover = Handover::new(dir.path(), IndexKind::Files);
        assert!(!handover.has(Step::Building));
        handover.mark(Step::Building).unwrap();
        assert!(dir.path().join(".files.building").exists());
        assert!(handover.is_fresh(Step::Building));
        assert!(!handover.is_fresh(Step::Ready));
        handover.mark(Step::Ready).unwrap();
        handover.clear();
        assert!(!handover.has(Step::Building) && !handover.has(Step::Ready));
        assert_eq!(
            rebuild_root(&dir.path().join("search")),
            dir.path().join("search.new")
        );
    }
}
