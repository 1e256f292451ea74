//! Real time over real WebSockets on PostgreSQL + Redis. Runs when both
//! `CONFAB_TEST_POSTGRES_URL` and `CONFAB_TEST_REDIS_URL` are set; reported
//! as ignored otherwise.
#[cfg(all(confab_postgres, confab_redis))]
confab_testkit::gateway_conformance!(confab_testkit::app::with_scaled_app);

#[cfg(not(all(confab_postgres, confab_redis)))]
confab_testkit::gateway_conformance!(
    confab_testkit::app::with_scaled_app,
    #[ignore = "set CONFAB_TEST_POSTGRES_URL and CONFAB_TEST_REDIS_URL to run the scale-out suite"]
);
