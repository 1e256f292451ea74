//! One embedded index that a rebuild can replace while the server runs:
//! writes pause while the rebuild reads the database (their outbox entries
//! wait, and go to the rebuilt index), then the rebuilt index takes its
//! place.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use confab_core::{Error, Result};
use tantivy::IndexWriter;

use crate::{handover, index_err};

/// An index opened from a directory, with its one writer.
pub(crate) trait Opened: Sized + Send + Sync + 'static {
    fn open(dir: &Path) -> Result<Self>;
    fn writer(&self) -> &Mutex<IndexWriter>;
}

/// The index in use, and whether its writes are paused.
pub(crate) struct Slot<I> {
    current: RwLock<Arc<I>>,
    paused: AtomicBool,
}

impl<I: Opened> Slot<I> {
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        Ok(Self {
            current: RwLock::new(Arc::new(I::open(dir)?)),
            paused: AtomicBool::new(false),
        })
    }

    /// The index in use now.
    pub(crate) fn get(&self) -> Arc<I> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Write with the index's writer, unless writes are paused (checked
    /// with the writer held, so none starts after [`Slot::pause`]
    /// returns).
    pub(crate) fn write(
        &self,
        work: impl FnOnce(&I, &mut IndexWriter) -> Result<()>,
    ) -> Result<()> {
        let index = self.get();
        let mut writer = index
            .writer()
            .lock()
            .map_err(|_| index_err("writer lock poisoned"))?;
        if self.paused.load(Ordering::SeqCst) {
            return Err(Error::Unavailable(
                "the search index is being rebuilt; changes wait for the rebuilt index".into(),
            ));
        }
        work(&index, &mut writer)
    }

    /// Refuse writes from now on; returns once no write is under way.
    pub(crate) fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
        let index = self.get();
        drop(index.writer().lock());
    }

    pub(crate) fn resume(&self) {
        self.paused.store(false, Ordering::SeqCst);
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// Put the index built in `fresh` in the place of the one in `live`,
    /// and take writes again. On failure the old index stays in use.
    pub(crate) fn replace(&self, live: &Path, fresh: &Path) -> Result<()> {
        let moved = |err: std::io::Error| {
            Error::Unavailable(format!(
                "cannot put {} in the place of {}: {err}",
                fresh.display(),
                live.display()
            ))
        };
        let old = handover::put_in_place(live, fresh).map_err(moved)?;
        let opened = match I::open(live) {
            Ok(opened) => opened,
            Err(err) => {
                handover::take_back(live, fresh, &old).map_err(moved)?;
                return Err(err);
            }
        };
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(opened);
        self.resume();
        // Searches under way may still read the old files: Unix keeps them
        // until they let go.
        if let Err(err) = std::fs::remove_dir_all(&old) {
            tracing::warn!(error = %err, dir = %old.display(), "cannot remove the replaced search index");
        }
        Ok(())
    }
}
