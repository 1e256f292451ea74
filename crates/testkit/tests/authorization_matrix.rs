//! Every route of the API, called by every kind of caller on its own
//! workspace's private resources and on another workspace's: see
//! `confab_testkit::authz_matrix`.

use std::time::Duration;

use confab_service::Policy;
use confab_testkit::app::TestApp;
use confab_testkit::authz_matrix::every_route_checks_who_may_call_it;
use confab_testkit::harness::{with_postgres, with_sqlite};

/// The matrix makes two workspaces and a channel per route, and signs a few
/// people up at once: the creation limits are raised for it.
fn roomy_policy() -> Policy {
    Policy {
        channels_per_hour: 1_000,
        conversations_per_hour: 1_000,
        workspaces_per_hour: 1_000,
        messages_per_minute: 1_000,
        session_touch_interval: Duration::from_secs(3600),
        ..Policy::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_checks_who_may_call_it_on_sqlite() {
    with_sqlite(|stores| async move {
        every_route_checks_who_may_call_it(TestApp::start_with(stores, roomy_policy()).await).await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_checks_who_may_call_it_on_postgres() {
    with_postgres(|stores| async move {
        every_route_checks_who_may_call_it(TestApp::start_with(stores, roomy_policy()).await).await
    })
    .await;
}
