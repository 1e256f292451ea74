//! `confab doctor` says in words what is right and wrong with an
//! installation, and fails when something is wrong.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::{confab, run, stderr_of, Server};

/// `confab doctor`: whether it passed, and what it printed.
fn doctor(command: &mut Command) -> (bool, String) {
    let out = run(command.arg("doctor"));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let error = stderr_of(&out);
        assert!(error.contains("problems and"), "{error}");
    }
    (out.status.success(), said)
}

fn line<'a>(said: &'a str, start: &str) -> &'a str {
    said.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in\n{said}"))
}

#[test]
fn doctor_follows_a_sqlite_installation_from_empty_to_broken() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (passed, said) = doctor(&mut confab(&data));
    assert!(passed, "{said}");
    assert!(line(&said, "warning  data directory")
        .ends_with("does not exist yet (the first start makes it)"));
    assert!(line(&said, "warning  database").contains("is empty"));
    assert!(line(&said, "ok       redis").contains("not configured"));
    assert!(
        said.ends_with("No problems found (2 warnings).\n"),
        "{said}"
    );
    assert!(!data.exists(), "the doctor changes nothing");

    assert!(run(confab(&data).arg("migrate")).status.success());
    std::fs::write(
        data.join("secret.key"),
        "c2hhcmVkLWJ5LWV2ZXJ5LW5vZGUtb2YtdGhpcy10ZXM=",
    )
    .unwrap();
    std::fs::set_permissions(
        data.join("secret.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let (passed, said) = doctor(&mut confab(&data));
    assert!(passed, "{said}");
    assert!(line(&said, "ok       database").contains("up to date"));
    assert!(line(&said, "ok       secret key").contains("secret.key"));
    assert!(
        said.ends_with("No problems found (0 warnings).\n"),
        "{said}"
    );

    // A key others can read, and a schema from a newer version.
    std::fs::set_permissions(
        data.join("secret.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let db = data.join("confab.db");
    let conn = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3; c = sqlite3.connect({:?}); c.execute(\"INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99990101000000, 'future', 1, x'00', 0)\"); c.commit()",
            db.display().to_string()
        ))
        .status()
        .unwrap();
    assert!(conn.success());
    let (passed, said) = doctor(&mut confab(&data));
    assert!(!passed, "{said}");
    assert!(line(&said, "PROBLEM  secret key").contains("can be read by others"));
    assert!(line(&said, "PROBLEM  database").contains("newer than this Confab knows"));
}

#[test]
fn doctor_names_backends_that_do_not_answer() {
    let dir = tempfile::tempdir().unwrap();
    let (passed, said) = doctor(
        confab(dir.path())
            .env("CONFAB_DATABASE__URL", "postgres://nobody@127.0.0.1:1/none")
            .env("CONFAB_REDIS__URL", "redis://127.0.0.1:1")
            .env("CONFAB_SEARCH__BACKEND", "solr"),
    );
    assert!(!passed);
    assert!(line(&said, "PROBLEM  configuration").contains("search.backend must be"));
    assert!(line(&said, "PROBLEM  database").contains("postgres://nobody@127.0.0.1:1/none"));
    assert!(line(&said, "PROBLEM  redis").contains("redis"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(confab_postgres, confab_redis)),
    ignore = "set CONFAB_TEST_POSTGRES_URL and CONFAB_TEST_REDIS_URL to run"
)]
async fn doctor_reads_partitions_and_the_clocks_of_live_nodes() {
    use confab_testkit::realtime_harness::{redis_url, test_prefix, RedisProbe};
    let db = confab_testkit::harness::PgTestDb::create().await;
    let prefix = test_prefix();
    let dir = tempfile::tempdir().unwrap();
    let command = || {
        let mut cmd = confab(dir.path());
        cmd.env("CONFAB_DATABASE__URL", &db.url)
            .env("CONFAB_REDIS__URL", redis_url())
            .env("CONFAB_REDIS__KEY_PREFIX", &prefix)
            .env(
                "CONFAB_SECRETS__KEY",
                "c2hhcmVkLWJ5LWV2ZXJ5LW5vZGUtb2YtdGhpcy10ZXM=",
            );
        cmd
    };
    let server = Server::start(command());
    let (passed, said) = doctor(&mut command());
    assert!(passed, "{said}");
    assert!(line(&said, "ok       database").contains("up to date"));
    assert_eq!(
        line(&said, "ok       partitions"),
        "ok       partitions: months ahead: 3"
    );
    assert!(line(&said, "ok       clock against PostgreSQL").contains("ms ahead"));
    assert_eq!(
        line(&said, "ok       redis"),
        "ok       redis: answers; 1 nodes live"
    );
    assert!(line(&said, "ok       clocks of the nodes")
        .starts_with("ok       clocks of the nodes: 0 ms apart ("));
    assert!(
        said.ends_with("No problems found (0 warnings).\n"),
        "{said}"
    );
    assert!(server.stop().success());

    // Months with no partition ahead: the maintenance job has not run.
    let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
    let future: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'messages'::regclass AND c.relname ~ '^messages_[0-9]{4}_[0-9]{2}$' \
           AND c.relname > to_char(now(), '\"messages_\"YYYY_MM')",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(future.len(), 3, "{future:?}");
    for partition in future {
        sqlx::query(&format!("DROP TABLE {partition}"))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    let (passed, said) = doctor(&mut command());
    assert!(!passed, "{said}");
    assert!(line(&said, "PROBLEM  partitions").contains("0 months ahead"));
    RedisProbe::connect(&redis_url(), &prefix)
        .await
        .clean()
        .await;
    db.drop_database().await;
}
