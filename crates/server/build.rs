// The same switches as the test kit: the PostgreSQL and Redis suites run
// when their servers are configured, and are reported as ignored otherwise.
include!("../testkit/build.rs");
