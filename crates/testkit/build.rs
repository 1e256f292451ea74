// Turns the PostgreSQL, Redis, Elasticsearch, S3, browser and Slack SDK suites on when their servers (or
// the browser driver) are configured, so that `cargo test` reports them as
// ignored, not as passed, otherwise.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(confab_postgres)");
    println!("cargo::rustc-check-cfg=cfg(confab_redis)");
    println!("cargo::rerun-if-env-changed=CONFAB_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CONFAB_TEST_REDIS_URL");
    println!("cargo::rustc-check-cfg=cfg(confab_elasticsearch)");
    println!("cargo::rerun-if-env-changed=CONFAB_TEST_ELASTICSEARCH_URL");
    if std::env::var_os("CONFAB_TEST_ELASTICSEARCH_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=confab_elasticsearch");
    }
    println!("cargo::rustc-check-cfg=cfg(confab_s3)");
    println!("cargo::rerun-if-env-changed=CONFAB_TEST_S3_URL");
    if std::env::var_os("CONFAB_TEST_S3_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=confab_s3");
    }
    println!("cargo::rustc-check-cfg=cfg(confab_clamd)");
    println!("cargo::rerun-if-env-changed=CONFAB_TEST_CLAMD");
    if std::env::var_os("CONFAB_TEST_CLAMD").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=confab_clamd");
    }
    println!("cargo::rustc-check-cfg=cfg(confab_browser)");
    println!("cargo::rerun-if-env-changed=CONFAB_TEST_CHROMEDRIVER");
    if std::env::var_os("CONFAB_TEST_CHROMEDRIVER").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=confab_browser");
    }
    println!("cargo::rustc-check-cfg=cfg(confab_slack_python)");
    println!("cargo::rerun-if-env-changed=CONFAB_TEST_SLACK_PYTHON");
    if std::env::var_os("CONFAB_TEST_SLACK_PYTHON").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=confab_slack_python");
    }
    println!("cargo::rustc-check-cfg=cfg(confab_slack_node)");
    println!("cargo::rerun-if-env-changed=CONFAB_TEST_SLACK_NODE_MODULES");
    if std::env::var_os("CONFAB_TEST_SLACK_NODE_MODULES").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=confab_slack_node");
    }
    if std::env::var_os("CONFAB_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=confab_postgres");
    }
    if std::env::var_os("CONFAB_TEST_REDIS_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=confab_redis");
    }
}
