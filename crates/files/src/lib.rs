//! File bytes behind the blob port: a local directory or S3-compatible
//! object storage, both through `object_store`.
#![forbid(unsafe_code)]

mod blobs;

pub use blobs::{open_blob_store, ObjectBlobs, LOCAL_DIR};
