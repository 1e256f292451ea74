//! File bytes and what Confab learns from them: the blob port over a local
//! directory or S3-compatible object storage, content sniffing, and file
//! names made safe to show and to send in headers.
#![forbid(unsafe_code)]

mod blobs;
pub mod names;
pub mod sniff;

pub use blobs::{open_blob_store, ObjectBlobs, LOCAL_DIR};
