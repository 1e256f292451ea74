//! The store conformance suite on PostgreSQL. Runs when
//! `CONFAB_TEST_POSTGRES_URL` is set (each test in a database of its own);
//! reported as ignored otherwise.
#[cfg(confab_postgres)]
confab_testkit::store_conformance!(confab_testkit::harness::with_postgres);

#[cfg(not(confab_postgres))]
confab_testkit::store_conformance!(
    confab_testkit::harness::with_postgres,
    #[ignore = "set CONFAB_TEST_POSTGRES_URL to run the PostgreSQL suite"]
);
