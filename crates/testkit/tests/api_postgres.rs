//! The API suite over HTTP, on PostgreSQL (when `CONFAB_TEST_POSTGRES_URL` is set).
#[cfg(confab_postgres)]
confab_testkit::api_conformance!(confab_testkit::app::with_app_postgres);

#[cfg(not(confab_postgres))]
confab_testkit::api_conformance!(
    confab_testkit::app::with_app_postgres,
    #[ignore = "set CONFAB_TEST_POSTGRES_URL to run the PostgreSQL suite"]
);
