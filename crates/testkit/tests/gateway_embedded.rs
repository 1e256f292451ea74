//! Real time over real WebSockets on the embedded shape (SQLite, in process).
confab_testkit::gateway_conformance!(confab_testkit::app::with_embedded_app);
