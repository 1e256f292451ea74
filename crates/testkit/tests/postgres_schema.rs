//! PostgreSQL-only properties of the schema: partitioning and indexes.
//! Runs when `CONFAB_TEST_POSTGRES_URL` is set.
#![cfg_attr(not(confab_postgres), allow(dead_code, unused_imports))]

use std::collections::BTreeSet;

use chrono::{TimeZone, Utc};
use confab_core::id::MessageId;
use confab_core::ports::{MessageStore, StoreAdmin, WorkspaceStore};
use confab_store_postgres::{PostgresOptions, PostgresStore};
use confab_testkit::harness::PgTestDb;
use sqlx::PgPool;

/// Every index the design names, plus the ones Confab adds.
const SEED_INDEXES: &[&str] = &[
    "idx_users_email",
    "idx_users_username",
    "idx_users_status",
    "idx_users_created_at",
    "idx_workspaces_domain",
    "idx_workspaces_created_at",
    "idx_workspace_members_workspace",
    "idx_workspace_members_user",
    "idx_workspace_members_role",
    "idx_workspace_members_status",
    "idx_channels_workspace",
    "idx_channels_type",
    "idx_channels_archived",
    "idx_channels_created_at",
    "idx_channel_members_channel",
    "idx_channel_members_user",
    "idx_channel_members_active",
    "idx_messages_channel_created",
    "idx_messages_user",
    "idx_messages_thread",
    "idx_messages_deleted",
    "idx_messages_client_msg",
    "idx_messages_content_gin",
    "idx_files_workspace",
    "idx_files_uploader",
    "idx_files_hash",
    "idx_files_created_at",
    "idx_files_expires_at",
    "idx_files_search_gin",
    "idx_message_files_message",
    "idx_message_files_file",
    "idx_integrations_workspace",
    "idx_integrations_app",
    "idx_integrations_status",
    "idx_integrations_channel",
    "idx_messages_channel_thread_created",
    "idx_messages_user_workspace_created",
    "idx_active_workspace_members",
    "idx_messages_search_vector",
];

async fn with_migrated<F, Fut>(test: F)
where
    F: FnOnce(PostgresStore) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let db = PgTestDb::create().await;
    let store = PostgresStore::open(&PostgresOptions::new(db.url.clone()))
        .await
        .expect("open");
    let outcome =
        futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(test(store.clone()))).await;
    store.close().await;
    db.drop_database().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn strings(pool: &PgPool, sql: &str) -> BTreeSet<String> {
    sqlx::query_scalar::<_, String>(sql)
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

#[tokio::test]
#[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
async fn messages_are_range_partitioned_by_month_and_files_hashed_sixteen_ways() {
    with_migrated(|store| async move {
        let pool = store.pool();
        let strategies: Vec<(String, String)> = sqlx::query_as(
            "SELECT c.relname::text, p.partstrat::text FROM pg_partitioned_table p
             JOIN pg_class c ON c.oid = p.partrelid ORDER BY 1",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        assert!(strategies.contains(&("messages".into(), "r".into())));
        assert!(strategies.contains(&("files".into(), "h".into())));
        assert!(strategies.contains(&("messages_archive".into(), "r".into())));
        let key: String = sqlx::query_scalar("SELECT pg_get_partkeydef('messages'::regclass)")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(key, "RANGE (created_at)");

        let file_shards = strings(
            pool,
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'files'::regclass",
        )
        .await;
        let expected: BTreeSet<String> = (0..16).map(|i| format!("files_shard_{i}")).collect();
        assert_eq!(file_shards, expected);

        let months = strings(
            pool,
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'messages'::regclass",
        )
        .await;
        let now = Utc::now();
        assert!(months.contains("messages_default"));
        assert!(months.contains(&format!("messages_{}", now.format("%Y_%m"))));
        assert_eq!(
            months.len(),
            1 + 4,
            "default, this month and three ahead: {months:?}"
        );
    })
    .await;
}

#[tokio::test]
#[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
async fn every_index_of_the_design_exists() {
    with_migrated(|store| async move {
        let present = strings(
            store.pool(),
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema()",
        )
        .await;
        let missing: Vec<&&str> = SEED_INDEXES
            .iter()
            .filter(|name| !present.contains(**name))
            .collect();
        assert!(missing.is_empty(), "missing indexes: {missing:?}");
        let gin = strings(
            store.pool(),
            "SELECT indexname::text FROM pg_indexes WHERE indexdef LIKE '%USING gin%'",
        )
        .await;
        for name in [
            "idx_messages_content_gin",
            "idx_messages_search_vector",
            "idx_files_search_gin",
        ] {
            assert!(gin.contains(name), "{name} is a GIN index");
        }
    })
    .await;
}

#[tokio::test]
#[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
async fn a_message_in_a_month_without_partition_lands_in_default_then_moves() {
    with_migrated(|store| async move {
        let stores = confab_core::ports::Stores::new(std::sync::Arc::new(store.clone()));
        let world = confab_testkit::fixtures::world(stores).await;
        let at = Utc.with_ymd_and_hms(2020, 2, 29, 23, 59, 59).unwrap();
        let mut new = confab_testkit::fixtures::text(&world.general, world.owner.id, "leap");
        new.id = MessageId::at(at);
        store.insert_message(&new).await.unwrap();
        let in_default: i64 = sqlx::query_scalar("SELECT count(*) FROM messages_default")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(
            in_default, 1,
            "no partition for February 2020 yet: the default holds it"
        );

        let report = store.maintain(Utc::now()).await.unwrap();
        // The search table follows messages, month by month.
        assert_eq!(
            report.partitions_created,
            ["messages_2020_02", "message_search_2020_02"]
        );
        let in_default: i64 = sqlx::query_scalar("SELECT count(*) FROM messages_default")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(in_default, 0);
        let in_month: i64 = sqlx::query_scalar("SELECT count(*) FROM messages_2020_02")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(in_month, 1);
        assert!(store.get_message(new.id).await.unwrap().is_some());
        // The partition has the parent's indexes.
        let indexes: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'messages_2020_02'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert!(indexes >= 10, "partition indexes: {indexes}");
        assert!(store
            .maintain(Utc::now())
            .await
            .unwrap()
            .partitions_created
            .is_empty());
        assert!(store
            .get_workspace(world.workspace.id)
            .await
            .unwrap()
            .is_some());
    })
    .await;
}

#[tokio::test]
#[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
async fn the_hot_history_query_reads_an_index_not_the_table() {
    with_migrated(|store| async move {
        let stores = confab_core::ports::Stores::new(std::sync::Arc::new(store.clone()));
        let world = confab_testkit::fixtures::world(stores.clone()).await;
        let mut channels = vec![world.general.clone()];
        for i in 0..9 {
            let new = confab_testkit::fixtures::new_channel(
                world.workspace.id,
                &format!("c{i}"),
                world.owner.id,
            );
            channels.push(stores.channels.create_channel(&new, &[]).await.unwrap());
        }
        // Enough rows, over several channels, that a table scan would cost.
        for i in 0..3000 {
            let channel = &channels[i % channels.len()];
            let message =
                confab_testkit::fixtures::text(channel, world.owner.id, &format!("message {i}"));
            stores.messages.insert_message(&message).await.unwrap();
        }
        sqlx::query("ANALYZE").execute(store.pool()).await.unwrap();
        let sql = format!(
            "EXPLAIN {}",
            *confab_store_postgres::LATEST_WITH_AUTHORS_SQL
        );
        let plan: Vec<String> = sqlx::query_scalar(&sql)
            .bind(world.general.id.0)
            .bind(50_i64)
            .fetch_all(store.pool())
            .await
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("Limit"), "{plan}");
        // Two branches merged: the top-level rows, then the few replies
        // also sent to the channel (which may be sorted: they are few).
        let branches: Vec<&str> = plan.split("\n        ->  Limit").collect();
        assert_eq!(branches.len(), 3, "{plan}");
        assert!(branches[0].contains("Merge Append"), "{plan}");
        let plan = branches[1];
        assert!(
            plan.contains("Index Scan") && plan.contains("channel_id_created_at"),
            "{plan}"
        );
        assert!(!plan.contains("Seq Scan on messages"), "{plan}");
        let sorts = plan.lines().any(|line| {
            line.trim_start()
                .trim_start_matches("->")
                .trim_start()
                .starts_with("Sort  (")
        });
        assert!(
            !sorts,
            "rows come in index order, merged, not sorted: {plan}"
        );
        let page = stores
            .messages
            .latest_with_authors(world.general.id, 50)
            .await
            .unwrap();
        assert_eq!(page.len(), 50);
    })
    .await;
}

#[tokio::test]
#[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
async fn statements_and_lock_waits_are_bounded_but_maintenance_is_not() {
    let db = PgTestDb::create().await;
    let mut options = PostgresOptions::new(db.url.clone());
    options.statement_timeout = std::time::Duration::from_millis(500);
    options.lock_timeout = std::time::Duration::from_secs(2);
    // Opening migrates and maintains partitions on a connection of its own.
    let store = PostgresStore::open(&options).await.expect("open");
    let pool = store.pool();
    let show = |name: &'static str| async move {
        sqlx::query_scalar::<_, String>(&format!("SHOW {name}"))
            .fetch_one(pool)
            .await
            .unwrap()
    };
    assert_eq!(show("statement_timeout").await, "500ms");
    assert_eq!(show("lock_timeout").await, "2s");
    let slow = sqlx::query("SELECT pg_sleep(2)").execute(pool).await;
    let message = slow
        .expect_err("a runaway statement is cancelled")
        .to_string();
    assert!(message.contains("statement timeout"), "{message}");
    store.maintain(chrono::Utc::now()).await.unwrap();
    store.close().await;
    db.drop_database().await;
}

/// A message for a month without a partition, inserted while maintenance
/// moves that month out of the default partition, waits for the move and
/// lands in the new partition; maintenance does not fail on it.
#[tokio::test]
#[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
async fn a_row_racing_the_partition_move_lands_in_the_new_partition() {
    with_migrated(|store| async move {
        let stores = confab_core::ports::Stores::new(std::sync::Arc::new(store.clone()));
        let world = confab_testkit::fixtures::world(stores).await;
        let at = Utc.with_ymd_and_hms(2019, 5, 10, 12, 0, 0).unwrap();
        let mut first = confab_testkit::fixtures::text(&world.general, world.owner.id, "first");
        first.id = MessageId::at(at);
        store.insert_message(&first).await.unwrap();
        // A second one for the same month, not yet committed.
        let raced = MessageId::at(at + chrono::Duration::hours(1));
        let mut racing = store.pool().begin().await.unwrap();
        sqlx::query(
            "INSERT INTO messages (message_id, workspace_id, channel_id, user_id, content, created_at, updated_at)
             SELECT $1, workspace_id, channel_id, user_id, 'raced', $2, $2 FROM messages WHERE message_id = $3",
        )
        .bind(raced.as_uuid())
        .bind(raced.created_at())
        .bind(first.id.as_uuid())
        .execute(&mut *racing)
        .await
        .unwrap();
        let maintaining = {
            let store = store.clone();
            tokio::spawn(async move { store.maintain(Utc::now()).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        racing.commit().await.unwrap();
        let report = maintaining.await.unwrap().expect("maintenance succeeds");
        assert!(report.partitions_created.contains(&"messages_2019_05".to_owned()));
        let count = |table: &'static str| {
            let pool = store.pool().clone();
            async move {
                sqlx::query_scalar::<_, i64>(&format!("SELECT count(*) FROM {table}"))
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(count("messages_2019_05").await, 2);
        assert_eq!(count("messages_default").await, 0);
    })
    .await;
}
