//! Test support for Confab: harnesses that give each test a database of its
//! own, fixtures, and the conformance suites that every implementation of a
//! port must pass.
#![forbid(unsafe_code)]

pub mod api_suite;
pub mod app;
pub mod fixtures;
pub mod gateway_suite;
pub mod harness;
pub mod realtime_harness;
pub mod realtime_suite;
pub mod store_suite;
pub mod ws_client;
