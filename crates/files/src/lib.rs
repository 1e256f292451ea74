//! File bytes behind the blob port (a local directory or S3-compatible
//! object storage, both through `object_store`), and what Confab learns
//! from them: thumbnails, text, and ClamAV's verdict.
#![forbid(unsafe_code)]

mod blobs;
mod clamd;
mod inspect;

pub use blobs::{open_blob_store, ObjectBlobs, LOCAL_DIR};
pub use clamd::Clamd;
pub use inspect::Inspector;
