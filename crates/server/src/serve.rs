//! `confab serve`: the HTTP server, its background jobs and graceful shutdown.

use std::time::Duration;

use anyhow::Context;
use confab_core::config::Config;
use confab_core::ports::Stores;
use confab_service::{Policy, Services};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::backends;

/// How often the maintenance job runs (partitions ahead, planner statistics).
const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let trusted_proxies = confab_http::parse_trusted_proxies(&config.server.trusted_proxies)
        .map_err(anyhow::Error::msg)?;
    let limits = serve_options(&config)?;
    raise_open_file_limit(limits.max_connections);
    let stores = backends::open_stores(&config).await?;
    let secret_key = backends::secret_key(&config)?;
    let realtime = backends::open_realtime(&config).await?;
    let mailer = backends::open_mailer(&config)?;
    let (search, embedded_search) = backends::open_search(&config, &stores).await?;
    // A rebuild under way when the server starts: pause before indexing.
    if let Some(index) = &embedded_search {
        crate::handover::look(index, &backends::search_dir(&config));
    }
    let blobs = backends::open_blobs(&config).await?;
    let scanner = backends::open_scanner(&config).await?;
    // Signals are taken from before the first line that says the server
    // listens: one sent at once must stop it cleanly, not kill it.
    let shutdown = shutdown_signal()?;
    let listener = TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let address = listener.local_addr()?;
    let public_url = config
        .server
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    tracing::info!(
        %address,
        database = stores.admin.backend(),
        realtime = realtime.state.backend(),
        "listening"
    );
    announce(&format!(
        "Confab is listening on {address}; open {public_url}"
    ));

    let (stop_tx, stop_rx) = watch::channel(false);
    let maintenance = tokio::spawn(maintenance_loop(stores.clone(), stop_rx.clone()));
    let services = Services::new(
        stores.clone(),
        realtime,
        Policy {
            login_attempts_per_account: config.limits.login_attempts_per_account,
            login_attempts_per_ip: config.limits.login_attempts_per_ip,
            messages_per_minute: config.limits.messages_per_minute,
            signups_per_ip_per_hour: config.limits.signups_per_ip,
            signups_per_minute: config.limits.signups_per_minute,
            channels_per_hour: config.limits.channels_per_hour,
            conversations_per_hour: config.limits.conversations_per_hour,
            workspaces_per_hour: config.limits.workspaces_per_hour,
            secret_key,
            public_url: Some(public_url.clone()),
            ..Policy::default()
        },
    )
    .with_mailer(mailer)
    .with_search(search)
    .with_files(blobs, backends::file_policy(&config))
    .with_inspector(std::sync::Arc::new(confab_files::Inspector))
    .with_outbound(std::sync::Arc::new(
        confab_realtime::HttpOutbound::allowing(&config.integrations.allowed_networks)
            .map_err(|e| anyhow::anyhow!("integrations.allowed_networks: {e}"))?,
    ));
    let services = match scanner {
        Some(scanner) => services.with_scanner(scanner),
        None => services,
    };
    let indexer = {
        let (services, stop) = (services.clone(), stop_rx.clone());
        tokio::spawn(async move { services.run_indexer(stop).await })
    };
    let handovers = embedded_search.map(|index| {
        let (root, stop) = (backends::search_dir(&config), stop_rx.clone());
        tokio::spawn(crate::handover::run(index, root, stop))
    });
    let file_upkeep = {
        let (services, stop) = (services.clone(), stop_rx.clone());
        tokio::spawn(async move { services.run_file_upkeep(stop).await })
    };
    let file_processing = {
        let (services, stop) = (services.clone(), stop_rx.clone());
        tokio::spawn(async move { services.run_file_processing(stop).await })
    };
    let event_delivery = {
        let (services, stop) = (services.clone(), stop_rx.clone());
        tokio::spawn(async move { services.run_event_delivery(stop).await })
    };
    let retention = {
        let (services, stop) = (services.clone(), stop_rx.clone());
        let run_at = backends::retention_time(&config)?;
        tokio::spawn(async move { services.run_retention_job(run_at, stop).await })
    };
    let options = confab_http::HttpOptions {
        secure_cookies: public_url.starts_with("https://"),
        public_url: config.server.public_url.clone(),
        trusted_proxies,
        metrics: crate::metrics::options(&config)?,
    };
    let confab_http::Routers { app, metrics, hub } = confab_http::router(services, options);
    let metrics_server = match config.metrics.listen {
        Some(address) => Some(serve_metrics(address, metrics, limits, stop_rx.clone()).await?),
        None => None,
    };
    let server = confab_http::serve(listener, app, limits, stopped(stop_rx.clone()));
    let mut server = std::pin::pin!(server);

    tokio::select! {
        () = &mut server => {}
        () = shutdown => {
            tracing::info!("shutting down");
            let _ = stop_tx.send(true);
            // Sockets are told to go (1001) so clients resume on another node.
            hub.shut_down();
            let grace = Duration::from_secs(config.server.shutdown_grace_secs);
            let drained = async {
                let _ = (&mut server).await;
                hub.drained(grace).await;
            };
            if tokio::time::timeout(grace, drained).await.is_err() {
                tracing::warn!(?grace, "connections still open after the grace period; closing them");
            }
        }
    }
    let _ = stop_tx.send(true);
    maintenance.await.ok();
    indexer.await.ok();
    if let Some(handovers) = handovers {
        handovers.await.ok();
    }
    file_upkeep.await.ok();
    file_processing.await.ok();
    event_delivery.await.ok();
    retention.await.ok();
    if let Some(metrics_server) = metrics_server {
        metrics_server.await.ok();
    }
    stores.admin.close().await;
    announce("Confab stopped.");
    Ok(())
}

/// Serve `/metrics` alone on `address` until `stop`.
async fn serve_metrics(
    address: std::net::SocketAddr,
    router: axum::Router,
    limits: confab_http::ServeOptions,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on metrics.listen {address}"))?;
    let bound = listener.local_addr()?;
    tracing::info!(address = %bound, "serving metrics");
    announce(&format!("Metrics at http://{bound}/metrics"));
    Ok(tokio::spawn(confab_http::serve(
        listener,
        router,
        limits,
        stopped(stop),
    )))
}

/// The connection limits of `server.*`, each of which must be positive.
fn serve_options(config: &Config) -> anyhow::Result<confab_http::ServeOptions> {
    let server = &config.server;
    for (name, value) in [
        ("header_read_timeout_secs", server.header_read_timeout_secs),
        (
            "request_body_timeout_secs",
            server.request_body_timeout_secs,
        ),
        ("max_connections", server.max_connections as u64),
    ] {
        if value == 0 {
            anyhow::bail!("server.{name} must be at least 1");
        }
    }
    Ok(confab_http::ServeOptions {
        header_read_timeout: Duration::from_secs(server.header_read_timeout_secs),
        request_body_timeout: Duration::from_secs(server.request_body_timeout_secs),
        max_connections: server.max_connections,
    })
}

/// Each connection is a file descriptor: raise the soft limit on open files
/// as far as the hard limit allows, and say when it stays below what
/// `server.max_connections` needs.
fn raise_open_file_limit(max_connections: usize) {
    // Connections plus the database pool, Redis, the data files and logs.
    let wanted = max_connections as u64 + 256;
    match rlimit::increase_nofile_limit(wanted) {
        Ok(limit) if limit < wanted => tracing::warn!(
            limit,
            max_connections,
            "the open-file limit is below what server.max_connections needs; raise it (ulimit -n)"
        ),
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(err) => tracing::warn!(error = %err, "cannot read or raise the open-file limit"),
    }
}

async fn maintenance_loop(stores: Stores, stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(MAINTENANCE_INTERVAL);
    ticks.tick().await; // Opening the store already did the first run.
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let now = confab_core::time::now();
                let maintained = stores.admin.maintain(now).await;
                confab_service::count_job_run("partition_maintenance", &maintained);
                if let Err(err) = maintained {
                    tracing::error!(error = %err, "maintenance failed");
                }
                let purged = stores.auth.purge_expired(now).await;
                confab_service::count_job_run("session_purge", &purged);
                if let Err(err) = purged {
                    tracing::error!(error = %err, "purging expired sessions failed");
                }
            }
            () = stopped(stop.clone()) => return,
        }
    }
}

/// A line for the operator on standard output. A closed stdout (a detached
/// service) must not stop the server, so write errors are ignored.
fn announce(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Resolves once the stop flag is raised (or its sender is gone).
async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Listen for Ctrl-C (SIGINT) and SIGTERM from now on; the future resolves
/// at the first.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
    })
}
