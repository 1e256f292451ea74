//! The store conformance suite on SQLite.
confab_testkit::store_conformance!(confab_testkit::harness::with_sqlite);
