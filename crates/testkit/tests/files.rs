//! Files end to end: on SQLite and PostgreSQL with a local store, and on
//! S3-compatible storage when `CONFAB_TEST_S3_URL` is set.

mod sqlite {
    confab_testkit::files_conformance!(confab_testkit::app::with_app_files_sqlite);
}

mod postgres {
    confab_testkit::files_conformance!(
        confab_testkit::app::with_app_files_postgres,
        #[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run the PostgreSQL suite")]
    );
}

mod s3 {
    confab_testkit::files_conformance!(
        confab_testkit::app::with_app_files_s3,
        #[cfg_attr(not(confab_s3), ignore = "set CONFAB_TEST_S3_URL to run the S3 suite")]
    );
}
