//! Login attempts are limited per client address as well as per account.

use confab_service::Policy;
use confab_testkit::app::TestApp;
use confab_testkit::harness::with_sqlite;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn one_address_trying_many_accounts_is_limited() {
    with_sqlite(|stores| async move {
        let policy = Policy {
            login_attempts_per_ip: 3,
            ..Policy::default()
        };
        let app = TestApp::start_with(stores, policy).await;
        let mut statuses = Vec::new();
        for i in 0..5 {
            let reply = app
                .post(
                    "/api/v1/auth/login",
                    None,
                    json!({"email": format!("user{i}@example.test"), "password": "whatever-1"}),
                )
                .await;
            statuses.push(reply.status);
        }
        assert_eq!(
            statuses,
            [
                StatusCode::UNAUTHORIZED,
                StatusCode::UNAUTHORIZED,
                StatusCode::UNAUTHORIZED,
                StatusCode::TOO_MANY_REQUESTS,
                StatusCode::TOO_MANY_REQUESTS,
            ]
        );
        app.stop().await;
    })
    .await;
}
