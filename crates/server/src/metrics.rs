//! The process's Prometheus recorder, made when `metrics.*` turns metrics
//! on, and what `/metrics` says about each series.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::bail;
use confab_core::config::Config;
use confab_http::MetricsOptions;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Buckets of every `…_seconds` histogram: half a millisecond to ten seconds.
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of the group-commit batch sizes.
const BATCH_SIZES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
/// How often histograms are folded (so memory stays bounded unscraped).
const UPKEEP: Duration = Duration::from_secs(5);

/// The options of `/metrics`, or `None` when metrics are off.
pub fn options(config: &Config) -> anyhow::Result<Option<MetricsOptions>> {
    let metrics = &config.metrics;
    if metrics.listen.is_none() && metrics.token.is_none() {
        return Ok(None);
    }
    if metrics.token.as_deref().is_some_and(|t| t.len() < 16) {
        bail!("metrics.token must be at least 16 characters");
    }
    let handle = recorder()?;
    let upkept = handle.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(UPKEEP);
        loop {
            ticks.tick().await;
            upkept.run_upkeep();
        }
    });
    Ok(Some(MetricsOptions {
        render: Arc::new(move || handle.render()),
        token: metrics.token.clone(),
    }))
}

/// The recorder, installed for the whole process the first time.
fn recorder() -> anyhow::Result<PrometheusHandle> {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)?
        .set_buckets_for_metric(
            Matcher::Full("confab_db_group_commit_batch_size".into()),
            BATCH_SIZES,
        )?
        .install_recorder()?;
    describe();
    Ok(HANDLE.get_or_init(|| handle).clone())
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "confab_http_requests_total",
        "HTTP requests answered, by method, route pattern and status"
    );
    describe_histogram!(
        "confab_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by method and route pattern"
    );
    describe_gauge!(
        "confab_websocket_connections",
        "WebSockets open on this node"
    );
    describe_counter!(
        "confab_events_fanned_out_total",
        "Events handed to this node's sockets"
    );
    describe_histogram!(
        "confab_bus_lag_seconds",
        Unit::Seconds,
        "Time from a change to its event reaching this node"
    );
    describe_gauge!("confab_database_up", "1 when the database answers");
    describe_gauge!(
        "confab_database_ping_seconds",
        Unit::Seconds,
        "Time the database took to answer a trivial query, at the scrape"
    );
    describe_gauge!(
        "confab_database_connections",
        "Database connections open, by state (idle, busy)"
    );
    describe_gauge!(
        "confab_database_connections_max",
        "Most database connections this node may open"
    );
    describe_histogram!(
        "confab_db_group_commit_batch_size",
        "Writes committed together (SQLite)"
    );
    describe_histogram!(
        "confab_db_group_commit_seconds",
        Unit::Seconds,
        "Time to run and commit one group of writes (SQLite)"
    );
    describe_gauge!(
        "confab_realtime_up",
        "1 when the shared real-time state (Redis) answers"
    );
    describe_gauge!(
        "confab_search_backlog",
        "Changes waiting to be indexed for search"
    );
    describe_counter!("confab_job_runs_total", "Runs of background jobs, by job");
    describe_counter!(
        "confab_job_failures_total",
        "Failed runs of background jobs, by job"
    );
}
