// Turns the PostgreSQL and Redis suites on when their servers are configured,
// so that `cargo test` reports them as ignored, not as passed, otherwise.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(confab_postgres)");
    println!("cargo::rustc-check-cfg=cfg(confab_redis)");
    println!("cargo::rerun-if-env-changed=CONFAB_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CONFAB_TEST_REDIS_URL");
    if std::env::var_os("CONFAB_TEST_POSTGRES_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=confab_postgres");
    }
    if std::env::var_os("CONFAB_TEST_REDIS_URL").is_some_and(|v| !v.is_empty()) {
        println!("cargo::rustc-cfg=confab_redis");
    }
}
