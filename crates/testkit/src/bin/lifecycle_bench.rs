//! Data lifecycle benchmark: 1,000,000 messages over 200 channels and two
//! years, written straight into a database (SQLite, and PostgreSQL when
//! `CONFAB_TEST_POSTGRES_URL` is set), then, driving the `confab` binary as
//! an operator would:
//!
//! - `confab backup DIR`: time, and size of the backup;
//! - `confab restore BACKUP` into an empty installation: time (checksums,
//!   the database, the self-check);
//! - `confab retention run` with a retention of 365 days: the year that
//!   aged out moves into the archive; time and messages per second.
//!
//! ```text
//! cargo build --release -p confab
//! CONFAB_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!   cargo run --release -p confab-testkit --bin lifecycle-bench -- [--messages 1000000]
//! ```
//! The `confab` binary is the one beside this one (the same build profile).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use confab_core::id::{ChannelId, MessageId, UserId};
use confab_core::model::WorkspaceRole;
use confab_core::ports::Stores;
use confab_store_postgres::{PostgresOptions, PostgresStore};
use confab_store_sqlite::{SqliteOptions, SqliteStore};
use confab_testkit::fixtures::{self, World};
use confab_testkit::harness::PgTestDb;
use confab_testkit::measure::{arg, dir_size};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CHANNELS: usize = 200;
const PEOPLE: usize = 50;
const DAYS: i64 = 730;
const BATCH: usize = 10_000;

fn main() {
    let messages = arg("--messages", 1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "| database | load | backup | backup size | restore | retention (moved) | archived/s |"
    );
    println!("|---|---|---|---|---|---|---|");
    runtime.block_on(bench_sqlite(messages));
    if let Ok(url) = std::env::var("CONFAB_TEST_POSTGRES_URL") {
        runtime.block_on(bench_postgres(&url, messages));
    }
}

/// The `confab` binary built beside this one.
fn confab(data_dir: &Path) -> Command {
    let exe = std::env::current_exe().unwrap();
    let binary = exe.parent().unwrap().join("confab");
    assert!(
        binary.exists(),
        "build it first: cargo build --release -p confab"
    );
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CONFAB_DATA_DIR", data_dir)
        .env("CONFAB_LOG__LEVEL", "warn");
    command
}

/// Run `command`, which must succeed; its time in seconds and what it said.
fn timed(command: &mut Command) -> (f64, String) {
    let started = Instant::now();
    let out = command.output().unwrap();
    let took = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{:?}: {}",
        command.get_args().collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    (took, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The people and channels messages are written in.
struct Cast {
    world: World,
    channels: Vec<ChannelId>,
    people: Vec<UserId>,
}

async fn cast(stores: Stores) -> Cast {
    let world = fixtures::world(stores).await;
    let mut channels = vec![world.general.id];
    for i in 1..CHANNELS {
        channels.push(world.channel(&format!("channel-{i}")).await.id);
    }
    let mut people = vec![world.owner.id];
    for i in 1..PEOPLE {
        let member = world
            .member(&format!("person{i}"), WorkspaceRole::Member)
            .await;
        people.push(member.id);
    }
    Cast {
        world,
        channels,
        people,
    }
}

/// One batch of rows: (id, channel, author, content, time).
type Row = (
    MessageId,
    ChannelId,
    UserId,
    String,
    chrono::DateTime<chrono::Utc>,
);

/// `count` messages spread evenly over the last [`DAYS`] days, in batches.
fn batches(cast: &Cast, count: usize) -> impl Iterator<Item = Vec<Row>> + '_ {
    let now = chrono::Utc::now();
    let start = now - chrono::Duration::days(DAYS);
    let step_ms = DAYS * 24 * 3600 * 1000 / count.max(1) as i64;
    let mut rng = StdRng::seed_from_u64(11);
    (0..count).step_by(BATCH).map(move |first| {
        (first..(first + BATCH).min(count))
            .map(|i| {
                let at = chrono::DateTime::from_timestamp_millis(
                    start.timestamp_millis() + step_ms * i as i64,
                )
                .unwrap();
                let words = rng.gen_range(3..40);
                let content = (0..words)
                    .map(|w| {
                        [
                            "deploy", "review", "the", "build", "is", "green", "lunch", "rollback",
                        ][(w + i) % 8]
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                (
                    MessageId::at(at),
                    cast.channels[rng.gen_range(0..cast.channels.len())],
                    cast.people[rng.gen_range(0..cast.people.len())],
                    content,
                    at,
                )
            })
            .collect()
    })
}

async fn bench_sqlite(count: usize) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let url = format!("sqlite://{}", data.join("confab.db").display());
    let store = SqliteStore::open(&SqliteOptions::new(url.clone()))
        .await
        .unwrap();
    let cast = cast(Stores::new(Arc::new(store))).await;
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let started = Instant::now();
    for rows in batches(&cast, count) {
        let mut tx = pool.begin().await.unwrap();
        for chunk in rows.chunks(2_000) {
            let mut query = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO messages (message_id, workspace_id, channel_id, user_id, content, created_at, updated_at, ts) ",
            );
            query.push_values(chunk, |mut b, (id, channel, user, content, at)| {
                let stamp = at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
                b.push_bind(id.to_string())
                    .push_bind(cast.world.workspace.id.to_string())
                    .push_bind(channel.to_string())
                    .push_bind(user.to_string())
                    .push_bind(content.clone())
                    .push_bind(stamp.clone())
                    .push_bind(stamp)
                    .push_bind(at.timestamp_micros());
            });
            query.build().execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    let load = started.elapsed().as_secs_f64();
    sqlx::query("UPDATE workspaces SET settings = '{\"retention_days\": 365}'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let restored = dir.path().join("restored");
    let row = lifecycle(dir.path(), confab, &data, &restored, count);
    println!("| SQLite | {load:.1} s | {row}");
}

async fn bench_postgres(url: &str, count: usize) {
    let db = PgTestDb::create_on(url).await;
    let target = PgTestDb::create_on(url).await;
    let store = PostgresStore::open(&PostgresOptions::new(db.url.clone()))
        .await
        .unwrap();
    let cast = cast(Stores::new(Arc::new(store))).await;
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    // Partitions for every month, as the maintenance job would have made.
    let first = (chrono::Utc::now() - chrono::Duration::days(DAYS + 31)).date_naive();
    let first_month = chrono::Datelike::with_day(&first, 1).unwrap();
    for month in 0..26 {
        let day = first_month + chrono::Months::new(month);
        for parent in ["messages", "messages_archive"] {
            sqlx::query("SELECT confab_create_month_partition($1, $2)")
                .bind(parent)
                .bind(day)
                .execute(&pool)
                .await
                .unwrap();
        }
    }
    let started = Instant::now();
    for rows in batches(&cast, count) {
        let ids: Vec<uuid::Uuid> = rows.iter().map(|r| r.0 .0).collect();
        let channels: Vec<uuid::Uuid> = rows.iter().map(|r| r.1 .0).collect();
        let users: Vec<uuid::Uuid> = rows.iter().map(|r| r.2 .0).collect();
        let contents: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
        let times: Vec<chrono::DateTime<chrono::Utc>> = rows.iter().map(|r| r.4).collect();
        sqlx::query(
            "INSERT INTO messages (message_id, workspace_id, channel_id, user_id, content, created_at, updated_at, ts) \
             SELECT id, $1, channel, author, content, at, at, (extract(epoch FROM at) * 1000000)::bigint \
             FROM UNNEST($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::timestamptz[]) \
                  AS m(id, channel, author, content, at)",
        )
        .bind(cast.world.workspace.id.0)
        .bind(ids)
        .bind(channels)
        .bind(users)
        .bind(contents)
        .bind(times)
        .execute(&pool)
        .await
        .unwrap();
    }
    let load = started.elapsed().as_secs_f64();
    sqlx::query("UPDATE workspaces SET settings = '{\"retention_days\": 365}'")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    pool.close().await;
    let dir = tempfile::tempdir().unwrap();
    let (source_url, target_url) = (db.url.clone(), target.url.clone());
    let row = lifecycle(
        dir.path(),
        move |d| {
            let mut command = confab(d);
            let url = if d.ends_with("restored") {
                &target_url
            } else {
                &source_url
            };
            command.env("CONFAB_DATABASE__URL", url);
            command
        },
        &dir.path().join("data"),
        &dir.path().join("restored"),
        count,
    );
    println!("| PostgreSQL | {load:.1} s | {row}");
    db.drop_database().await;
    target.drop_database().await;
}

/// Back up `data`, restore into `restored`, then run retention on the
/// original; the table cells of the figures.
fn lifecycle(
    root: &Path,
    command: impl Fn(&Path) -> Command,
    data: &Path,
    restored: &Path,
    count: usize,
) -> String {
    let backups = root.join("backups");
    let (backup, _) = timed(command(data).arg("backup").arg(&backups));
    let made: PathBuf = std::fs::read_dir(&backups)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let size = dir_size(&made);
    let (restore, said) = timed(command(restored).arg("restore").arg(&made));
    assert!(said.contains("every count matches"), "{said}");
    let (retention, said) = timed(command(data).args(["retention", "run"]));
    let moved: u64 = said
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(moved as usize > count / 3, "{said}");
    format!(
        "{backup:.1} s | {:.1} MiB | {restore:.1} s | {retention:.1} s ({moved}) | {:.0} |",
        size as f64 / (1 << 20) as f64,
        moved as f64 / retention
    )
}
