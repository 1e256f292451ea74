//! Resuming a socket misses nothing, even a change that waited for a lock
//! longer than the replay overlap (PostgreSQL, where writers wait on rows).

use confab_testkit::app::TestApp;
use confab_testkit::gateway_suite::a_change_that_waited_for_a_lock_is_replayed;
use confab_testkit::harness::with_postgres_at;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_held_by_a_row_lock_is_replayed_on_postgres() {
    with_postgres_at(|stores, url| async move {
        a_change_that_waited_for_a_lock_is_replayed(TestApp::start(stores).await, url).await
    })
    .await;
}
