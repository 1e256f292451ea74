//! Confab core: identifiers, domain types, errors, configuration types and the
//! port traits that the storage adapters implement.
//!
//! Nothing in this crate performs I/O; it is the vocabulary shared by every
//! other crate of the workspace.
#![forbid(unsafe_code)]

pub mod backup;
pub mod blobs;
pub mod columns;
pub mod config;
pub mod error;
pub mod file_sql;
pub mod filenames;
pub mod id;
pub mod media;
pub mod model;
pub mod page;
pub mod permissions;
pub mod ports;
pub mod realtime;
pub mod retention;
pub mod search;
pub mod slack;
pub mod sniff;
pub mod time;

pub use error::{Error, Result};
