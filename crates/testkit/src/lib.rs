//! Test support for Confab: harnesses that give each test a database of its
//! own, fixtures, and the conformance suites that every implementation of a
//! port must pass.
#![forbid(unsafe_code)]

pub mod api_suite;
pub mod app;
pub mod authz_matrix;
pub mod blob_suite;
pub mod files_suite;
pub mod fixtures;
pub mod gateway_suite;
pub mod harness;
pub mod ledger;
pub mod measure;
pub mod process;
pub mod proxy;
pub mod realtime_harness;
pub mod realtime_suite;
pub mod receiver;
pub mod search_index_suite;
pub mod search_suite;
pub mod slack_suite;
pub mod store_suite;
pub mod ws_client;

/// The tests of one conformance suite: one `#[tokio::test]` per case of
/// module `$suite`, each running the case through `$harness`, with the extra
/// attributes on each. Used by the suites' own macros.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($suite:ident, $threads:literal, $harness:path, $attrs:tt, $($case:ident),+ $(,)?) => {
        $( $crate::__conformance_case!($suite, $threads, $attrs, $harness, $case); )+
    };
}

/// One test of [`__conformance_cases!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_case {
    ($suite:ident, $threads:literal, [$(#[$attr:meta])*], $harness:path, $case:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
        $(#[$attr])*
        async fn $case() {
            $harness($crate::$suite::$case).await;
        }
    };
}
