//! What an operator watches: figures read when metrics are scraped, and the
//! count of background jobs' runs and failures.

use std::time::{Duration, Instant};

use confab_core::ports::PoolUsage;

use crate::Services;

/// The state of this node's backends at one moment.
#[derive(Clone, Copy, Debug)]
pub struct OperationalFigures {
    /// How long the database took to answer a trivial query; `None` when it
    /// did not answer.
    pub database_ping: Option<Duration>,
    pub pool: PoolUsage,
    /// Whether the shared real-time state (Redis, when configured) answers.
    pub realtime_up: bool,
    /// Changes waiting to be indexed for search (`None` without search or
    /// when the database did not answer).
    pub search_backlog: Option<u64>,
}

impl Services {
    /// Sample the backends now.
    pub async fn operational_figures(&self) -> OperationalFigures {
        let started = Instant::now();
        let database_ping = self
            .stores
            .admin
            .ping()
            .await
            .ok()
            .map(|()| started.elapsed());
        let search_backlog = match self.search {
            Some(_) => self.search_backlog().await.ok(),
            None => None,
        };
        OperationalFigures {
            database_ping,
            pool: self.stores.admin.pool_usage(),
            realtime_up: self.realtime_health().await.is_ok(),
            search_backlog,
        }
    }
}

/// Count one run of the background job `job`, and its failure.
pub fn count_job_run<T, E>(job: &'static str, outcome: &Result<T, E>) {
    metrics::counter!("confab_job_runs_total", "job" => job).increment(1);
    // Written from the first run on, so that a rate of failures reads 0.
    metrics::counter!("confab_job_failures_total", "job" => job)
        .increment(u64::from(outcome.is_err()));
}
