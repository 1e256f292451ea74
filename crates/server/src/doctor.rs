//! `confab doctor`: look at the configuration and everything it names, and
//! say in words what is wrong. It changes nothing.

use std::path::Path;
use std::time::{Duration, Instant};

use confab_core::config::Config;

use crate::backends::{self, DatabaseKind};

/// How far clocks may drift apart before resumed sockets risk missing
/// changes (cursors are times).
const CLOCK_TOLERANCE_MS: i64 = 1_000;
/// How long each backend has to answer.
const PATIENCE: Duration = Duration::from_secs(5);
const GIB: u64 = 1 << 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    Ok,
    Warning,
    Problem,
}

/// What one check found.
struct Finding {
    verdict: Verdict,
    subject: &'static str,
    words: String,
}

fn ok(subject: &'static str, words: impl Into<String>) -> Finding {
    finding(Verdict::Ok, subject, words)
}

fn warning(subject: &'static str, words: impl Into<String>) -> Finding {
    finding(Verdict::Warning, subject, words)
}

fn problem(subject: &'static str, words: impl Into<String>) -> Finding {
    finding(Verdict::Problem, subject, words)
}

fn finding(verdict: Verdict, subject: &'static str, words: impl Into<String>) -> Finding {
    Finding {
        verdict,
        subject,
        words: words.into(),
    }
}

/// Run every check, print what each found, and fail when any found a
/// problem.
pub async fn doctor(config: Config) -> anyhow::Result<()> {
    let mut findings = vec![configuration(&config)];
    findings.extend(data_directory(&config));
    findings.extend(database(&config).await);
    findings.extend(redis(&config).await);
    findings.push(files(&config).await);
    findings.extend(secret_key(&config));
    for found in &findings {
        let label = match found.verdict {
            Verdict::Ok => "ok",
            Verdict::Warning => "warning",
            Verdict::Problem => "PROBLEM",
        };
        println!("{label:<8} {}: {}", found.subject, found.words);
    }
    let count = |verdict| findings.iter().filter(|f| f.verdict == verdict).count();
    let (problems, warnings) = (count(Verdict::Problem), count(Verdict::Warning));
    if problems > 0 {
        anyhow::bail!("{problems} problems and {warnings} warnings found");
    }
    println!("No problems found ({warnings} warnings).");
    Ok(())
}

fn configuration(config: &Config) -> Finding {
    match backends::check_supported(config) {
        Ok(()) => ok(
            "configuration",
            format!(
                "database {}, search {}, files {}, real time {}",
                backends::DatabaseKind::of(&config.database_url()).map_or("?", |k| k.name()),
                config.search.backend,
                config.files.backend,
                if config.redis.url.is_some() {
                    "Redis"
                } else {
                    "in process"
                }
            ),
        ),
        Err(err) => problem("configuration", format!("{err:#}")),
    }
}

fn data_directory(config: &Config) -> Vec<Finding> {
    const SUBJECT: &str = "data directory";
    let dir = &config.data_dir;
    let mut found = Vec::new();
    if !dir.exists() {
        found.push(warning(
            SUBJECT,
            format!(
                "{} does not exist yet (the first start makes it)",
                dir.display()
            ),
        ));
    } else if let Err(err) = writable(dir) {
        found.push(problem(
            SUBJECT,
            format!("{} is not writable: {err}", dir.display()),
        ));
    } else {
        found.push(ok(SUBJECT, format!("{} is writable", dir.display())));
    }
    found.push(disk_space(dir));
    found
}

fn writable(dir: &Path) -> std::io::Result<()> {
    let probe = dir.join(".confab-doctor-probe");
    std::fs::write(&probe, b"ok")?;
    std::fs::remove_file(probe)
}

fn disk_space(dir: &Path) -> Finding {
    const SUBJECT: &str = "disk space";
    let existing = dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("."));
    let stats = match rustix::fs::statvfs(existing) {
        Ok(stats) => stats,
        Err(err) => return warning(SUBJECT, format!("cannot tell: {err}")),
    };
    let free = stats.f_bavail * stats.f_frsize;
    let total = (stats.f_blocks * stats.f_frsize).max(1);
    let share = free as f64 * 100.0 / total as f64;
    let words = format!(
        "{:.1} GiB free of {:.1} GiB ({share:.0}%) under {}",
        free as f64 / GIB as f64,
        total as f64 / GIB as f64,
        existing.display()
    );
    if free < GIB / 4 || share < 2.0 {
        problem(SUBJECT, format!("{words}: writes will soon fail"))
    } else if share < 10.0 {
        warning(SUBJECT, words)
    } else {
        ok(SUBJECT, words)
    }
}

async fn database(config: &Config) -> Vec<Finding> {
    const SUBJECT: &str = "database";
    let url = config.database_url();
    let shown = confab_store_postgres::redact(&url);
    let Ok(kind) = DatabaseKind::of(&url) else {
        return vec![problem(
            SUBJECT,
            format!("{shown} is neither sqlite:// nor postgres://"),
        )];
    };
    let started = Instant::now();
    let version = match tokio::time::timeout(PATIENCE, kind.schema_version(&url)).await {
        Ok(Ok(version)) => version,
        Ok(Err(err)) => return vec![problem(SUBJECT, format!("{shown}: {err:#}"))],
        Err(_) => {
            return vec![problem(
                SUBJECT,
                format!("{shown} did not answer within {PATIENCE:?}"),
            )]
        }
    };
    let took = started.elapsed();
    let known = kind.latest_schema_version();
    let mut found = vec![match version {
        None => warning(
            SUBJECT,
            format!("{shown} is empty: `confab migrate` (or the first start) makes the schema"),
        ),
        Some(v) if v < known => warning(
            SUBJECT,
            format!("{shown} is at schema {v}, this Confab at {known}: `confab migrate` (or the next start) brings it up to date"),
        ),
        Some(v) if v > known => problem(
            SUBJECT,
            format!("{shown} is at schema {v}, newer than this Confab knows ({known}): run the newer version"),
        ),
        Some(v) => ok(
            SUBJECT,
            format!("{shown} answered in {} ms; schema {v}, up to date", took.as_millis()),
        ),
    }];
    if kind == DatabaseKind::Postgres {
        found.extend(postgres(&url, version.is_some()).await);
    }
    found
}

async fn postgres(url: &str, migrated: bool) -> Vec<Finding> {
    use confab_store_postgres::inspect;
    let mut found = Vec::new();
    match inspect::clock_offset_at(url).await {
        Ok(offset) => found.push(clock("clock against PostgreSQL", offset.num_milliseconds())),
        Err(err) => found.push(problem("clock against PostgreSQL", format!("{err:#}"))),
    }
    if migrated {
        found.push(match inspect::partition_horizon(url, confab_core::time::now()).await {
            Ok(horizon) if horizon.months_ahead < 1 => problem(
                "partitions",
                format!("messages has partitions for {} months ahead: the maintenance job of the servers has not run (start one, or run `confab migrate`)", horizon.months_ahead.max(0)),
            ),
            Ok(horizon) if horizon.default_rows > 0 => warning(
                "partitions",
                format!("{} messages wait in the default partition; the maintenance job moves them", horizon.default_rows),
            ),
            Ok(horizon) => ok("partitions", format!("months ahead: {}", horizon.months_ahead)),
            Err(err) => problem("partitions", format!("{err:#}")),
        });
    }
    let tools = ["pg_dump", "pg_restore"].map(|tool| {
        std::process::Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if tools.contains(&false) {
        found.push(warning(
            "backups",
            "pg_dump or pg_restore is missing: `confab backup` and `restore` need PostgreSQL's client programs",
        ));
    }
    found
}

fn clock(subject: &'static str, ahead_ms: i64) -> Finding {
    let words = format!("this machine is {ahead_ms} ms ahead");
    if ahead_ms.abs() > CLOCK_TOLERANCE_MS {
        problem(
            subject,
            format!("{words}: synchronise clocks (NTP), or resumed sockets may miss changes"),
        )
    } else {
        ok(subject, words)
    }
}

async fn redis(config: &Config) -> Vec<Finding> {
    const SUBJECT: &str = "redis";
    let Some(url) = &config.redis.url else {
        return vec![ok(
            SUBJECT,
            "not configured: one node, with its real-time state in process",
        )];
    };
    let mut options = confab_realtime::RedisOptions::new(url);
    options.prefix = config.redis.key_prefix.clone();
    options.timeout = PATIENCE;
    let clocks = async {
        let state = confab_realtime::RedisState::connect(&options).await?;
        state.clocks().await
    };
    let (ours, nodes) = match tokio::time::timeout(PATIENCE, clocks).await {
        Ok(Ok(clocks)) => clocks,
        Ok(Err(err)) => return vec![problem(SUBJECT, format!("{err:#}"))],
        Err(_) => {
            return vec![problem(
                SUBJECT,
                format!("did not answer within {PATIENCE:?}"),
            )]
        }
    };
    let mut found = vec![
        ok(SUBJECT, format!("answers; {} nodes live", nodes.len())),
        clock("clock against Redis", ours),
    ];
    if let (Some(min), Some(max)) = (
        nodes.iter().map(|n| n.offset_ms).min(),
        nodes.iter().map(|n| n.offset_ms).max(),
    ) {
        let spread = max - min;
        let listed: Vec<String> = nodes
            .iter()
            .map(|n| format!("{} {:+} ms", n.node, n.offset_ms))
            .collect();
        let words = format!("{spread} ms apart ({})", listed.join(", "));
        found.push(if spread > CLOCK_TOLERANCE_MS {
            problem(
                "clocks of the nodes",
                format!("{words}: synchronise them (NTP)"),
            )
        } else {
            ok("clocks of the nodes", words)
        });
    }
    found
}

async fn files(config: &Config) -> Finding {
    let local = config.data_dir.join(confab_files::LOCAL_DIR);
    if config.files.backend == "local" && !local.exists() {
        return ok(
            "files",
            format!("{} is made when the server starts", local.display()),
        );
    }
    match tokio::time::timeout(PATIENCE, backends::open_blobs(config)).await {
        Ok(Ok(_)) => ok(
            "files",
            format!("the {} store answers", config.files.backend),
        ),
        Ok(Err(err)) => problem("files", format!("{err:#}")),
        Err(_) => problem(
            "files",
            format!("the store did not answer within {PATIENCE:?}"),
        ),
    }
}

fn secret_key(config: &Config) -> Option<Finding> {
    use std::os::unix::fs::PermissionsExt;
    const SUBJECT: &str = "secret key";
    if config.secrets.key.is_some() {
        return Some(ok(SUBJECT, "secrets.key is set"));
    }
    let path = backends::secret_key_path(config);
    let shared =
        DatabaseKind::of(&config.database_url()).is_ok_and(|k| k == DatabaseKind::Postgres);
    let Ok(meta) = std::fs::metadata(&path) else {
        return shared.then(|| {
            warning(
                SUBJECT,
                "secrets.key is not set: each node would seal with a key of its own; set the same key on every node",
            )
        });
    };
    Some(if meta.permissions().mode() & 0o077 != 0 {
        problem(
            SUBJECT,
            format!("{} can be read by others: chmod 600 it", path.display()),
        )
    } else if shared {
        warning(
            SUBJECT,
            format!(
                "kept in {}: nodes sharing the database must share one key (secrets.key)",
                path.display()
            ),
        )
    } else {
        ok(SUBJECT, format!("kept in {}", path.display()))
    })
}
