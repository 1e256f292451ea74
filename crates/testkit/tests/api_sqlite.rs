//! The API suite over HTTP, on SQLite.
confab_testkit::api_conformance!(confab_testkit::app::with_app_sqlite);
