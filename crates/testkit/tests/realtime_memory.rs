//! The realtime conformance suite on the in-process implementations.
confab_testkit::realtime_conformance!(confab_testkit::realtime_harness::with_memory_realtime);
