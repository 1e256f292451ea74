//! The realtime conformance suite on Redis. Runs when `CONFAB_TEST_REDIS_URL`
//! is set (each test under a key prefix of its own); reported as ignored
//! otherwise.
#[cfg(confab_redis)]
confab_testkit::realtime_conformance!(confab_testkit::realtime_harness::with_redis_realtime);

#[cfg(not(confab_redis))]
confab_testkit::realtime_conformance!(
    confab_testkit::realtime_harness::with_redis_realtime,
    #[ignore = "set CONFAB_TEST_REDIS_URL to run the Redis suite"]
);
