//! The search port's conformance suite on every engine: the embedded
//! Tantivy index always, PostgreSQL full-text search when
//! `CONFAB_TEST_POSTGRES_URL` is set, Elasticsearch / OpenSearch when
//! `CONFAB_TEST_ELASTICSEARCH_URL` is; and the HTTP search suite on each.

mod tantivy {
    confab_testkit::search_index_conformance!(confab_testkit::harness::with_tantivy_search);
}

mod postgres {
    confab_testkit::search_index_conformance!(
        confab_testkit::harness::with_postgres_search,
        #[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run the PostgreSQL suite")]
    );
}

mod postgres_over_http {
    confab_testkit::search_conformance!(
        confab_testkit::app::with_app_postgres_search,
        #[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run the PostgreSQL suite")]
    );
}

mod elasticsearch {
    confab_testkit::search_index_conformance!(
        confab_testkit::harness::with_elasticsearch_search,
        #[cfg_attr(not(confab_elasticsearch), ignore = "set CONFAB_TEST_ELASTICSEARCH_URL to run the Elasticsearch suite")]
    );
}

mod elasticsearch_over_http {
    confab_testkit::search_conformance!(
        confab_testkit::app::with_app_elasticsearch,
        #[cfg_attr(not(confab_elasticsearch), ignore = "set CONFAB_TEST_ELASTICSEARCH_URL to run the Elasticsearch suite")]
    );
}

/// What only PostgreSQL search has: a bounded count and month partitions.
#[cfg_attr(not(confab_postgres), allow(dead_code, unused_imports))]
mod postgres_only {
    use chrono::{TimeZone, Utc};
    use confab_core::id::{ChannelId, MessageId, UserId, WorkspaceId};
    use confab_core::ports::SearchIndex;
    use confab_core::search::{parse_query, MessageDocument, MessageSearch, SearchSort};
    use std::sync::Arc;

    use confab_testkit::app::TestApp;
    use confab_testkit::harness::{postgres_search, with_postgres_at};

    fn document(workspace: WorkspaceId, channel: ChannelId, month: u32) -> MessageDocument {
        let at = Utc.with_ymd_and_hms(2026, month, 10, 9, 0, 0).unwrap();
        MessageDocument {
            id: MessageId::at(at),
            workspace_id: workspace,
            channel_id: channel,
            user_id: UserId::new(),
            thread_id: None,
            content: format!("report for month {month}"),
            created_at: at,
            has_link: false,
            has_file: false,
            has_reaction: false,
            is_pinned: false,
            version: 1,
        }
    }

    fn search(workspace: WorkspaceId, channel: ChannelId) -> MessageSearch {
        MessageSearch {
            workspace_id: workspace,
            channels: vec![channel],
            authors: Vec::new(),
            query: parse_query("report"),
            since: None,
            until: None,
            sort: SearchSort::Relevance,
            after: None,
            limit: 3,
        }
    }

    #[tokio::test]
    #[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
    async fn the_total_is_exact_up_to_a_bound_then_more_than() {
        with_postgres_at(|_, url| async move {
            let index = postgres_search(&url).await.with_count_bound(5);
            let (workspace, channel) = (WorkspaceId::new(), ChannelId::new());
            let documents: Vec<MessageDocument> =
                (1..=5).map(|m| document(workspace, channel, m)).collect();
            index.index_messages(&documents, &[]).await.unwrap();
            let hits = index
                .search_messages(&search(workspace, channel))
                .await
                .unwrap();
            assert_eq!(
                (hits.total, hits.total_is_exact, hits.hits.len()),
                (5, true, 3)
            );
            let more = document(workspace, channel, 6);
            index.index_messages(&[more], &[]).await.unwrap();
            let hits = index
                .search_messages(&search(workspace, channel))
                .await
                .unwrap();
            assert_eq!(
                (hits.total, hits.total_is_exact, hits.hits.len()),
                (5, false, 3)
            );
        })
        .await;
    }

    #[tokio::test]
    #[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
    async fn a_search_over_a_date_range_reads_only_its_months() {
        with_postgres_at(|_, url| async move {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            for month in 1..=6 {
                sqlx::query("SELECT confab_create_month_partition('message_search', $1)")
                    .bind(chrono::NaiveDate::from_ymd_opt(2026, month, 1).unwrap())
                    .execute(&pool)
                    .await
                    .unwrap();
            }
            pool.close().await;
            let index = postgres_search(&url).await;
            let (workspace, channel) = (WorkspaceId::new(), ChannelId::new());
            let documents: Vec<MessageDocument> =
                (1..=6).map(|m| document(workspace, channel, m)).collect();
            index.index_messages(&documents, &[]).await.unwrap();
            let mut recent = search(workspace, channel);
            recent.since = Some(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap());
            recent.until = Some(Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).unwrap());
            let plan = index.explain(&recent).await.unwrap();
            for month in ["03", "04"] {
                assert!(
                    plan.contains(&format!("message_search_2026_{month}")),
                    "{plan}"
                );
            }
            for month in ["01", "02", "05", "06"] {
                assert!(
                    !plan.contains(&format!("message_search_2026_{month}")),
                    "{plan}"
                );
            }
            assert!(!plan.contains("message_search_default"), "{plan}");
            let hits = index.search_messages(&recent).await.unwrap();
            let found: Vec<MessageId> = hits.hits.iter().map(|h| h.id).collect();
            assert_eq!(found.len(), 2);
            assert!(found.contains(&documents[2].id) && found.contains(&documents[3].id));
        })
        .await;
    }

    #[tokio::test]
    #[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
    async fn a_slower_indexer_never_writes_back_an_older_state() {
        with_postgres_at(|stores, url| async move {
            let index = postgres_search(&url).await;
            let (workspace, channel) = (WorkspaceId::new(), ChannelId::new());
            let mut fresh = document(workspace, channel, 3);
            fresh.content = "fresh words".into();
            fresh.version = 5;
            let mut stale = fresh.clone();
            stale.content = "stale words".into();
            stale.version = 3;
            index.index_messages(&[fresh.clone()], &[]).await.unwrap();
            index.index_messages(&[stale], &[]).await.unwrap();
            let mut asked = search(workspace, channel);
            asked.query = parse_query("stale");
            assert!(index.search_messages(&asked).await.unwrap().hits.is_empty());
            asked.query = parse_query("fresh");
            let found = index.search_messages(&asked).await.unwrap();
            assert_eq!(found.hits[0].id, fresh.id);

            // A message deleted in the database is not written back by an
            // indexer that read it before the delete.
            let world = confab_testkit::fixtures::world(stores.clone()).await;
            let message = world.post("gone soon").await;
            let read_before = MessageDocument::of(&message, false, 9).unwrap();
            stores
                .messages
                .delete_message(message.id, chrono::Utc::now())
                .await
                .unwrap();
            index.index_messages(&[], &[message.id]).await.unwrap();
            index.index_messages(&[read_before], &[]).await.unwrap();
            let mut gone = search(world.workspace.id, world.general.id);
            gone.query = parse_query("gone");
            assert!(index.search_messages(&gone).await.unwrap().hits.is_empty());
        })
        .await;
    }

    /// `host:port` of a PostgreSQL URL.
    fn upstream_of(url: &str) -> String {
        let after_scheme = url.split_once("://").unwrap().1;
        let authority = after_scheme.split('/').next().unwrap();
        authority.rsplit('@').next().unwrap().to_owned()
    }

    /// The search engine's connections go away (the database stays for
    /// posting): posts are acknowledged as ever, the outbox grows, and once
    /// the engine is back the indexer catches up with every post.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
    async fn posting_goes_on_while_search_is_down_and_the_index_catches_up() {
        with_postgres_at(|stores, url| async move {
            let host = upstream_of(&url);
            let proxy = confab_testkit::proxy::TcpProxy::start(&host).await;
            let proxied = url.replacen(&host, &format!("127.0.0.1:{}", proxy.port), 1);
            let search = confab_search::PostgresSearch::connect(
                &proxied,
                2,
                std::time::Duration::from_secs(2),
            )
            .await
            .unwrap();
            let policy = confab_testkit::app::busy_policy();
            let app = TestApp::start_searching(stores.clone(), policy, Arc::new(search)).await;
            let ann = app.user("ann").await;
            let ws = app.workspace(&ann, "Outage").await;
            let general = app.general_channel(&ann, &ws).await;
            let post = |text: String| {
                let (app, ann, general) = (&app, &ann, &general);
                async move {
                    let reply = app
                        .post(
                            &format!("/api/v1/channels/{general}/messages"),
                            Some(ann),
                            serde_json::json!({ "content": text }),
                        )
                        .await;
                    assert_eq!(reply.status, reqwest::StatusCode::CREATED, "{reply:?}");
                }
            };
            post("lantern before".into()).await;
            app.indexed().await;

            proxy.cut();
            for i in 0..10 {
                post(format!("lantern during {i}")).await;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            let waiting = stores.search_queue.search_backlog().await.unwrap();
            assert_eq!(waiting, 10, "the outbox holds every post made meanwhile");
            let searching = app
                .get(
                    &format!("/api/v1/workspaces/{ws}/search/messages?q=lantern"),
                    &ann,
                )
                .await;
            assert_eq!(
                searching.status,
                reqwest::StatusCode::SERVICE_UNAVAILABLE,
                "{searching:?}"
            );

            proxy.restore();
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
            while stores.search_queue.search_backlog().await.unwrap() > 0 {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the index never caught up"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            let found = app
                .get(
                    &format!("/api/v1/workspaces/{ws}/search/messages?q=lantern&limit=100"),
                    &ann,
                )
                .await;
            assert_eq!(found.body["total"], 11, "{found:?}");
            app.stop().await;
        })
        .await;
    }

    /// A rebuild rewrites what it reads, except rows the indexer wrote since
    /// the rebuild began (they are newer than what it read).
    #[tokio::test]
    #[cfg_attr(not(confab_postgres), ignore = "set CONFAB_TEST_POSTGRES_URL to run")]
    async fn a_rebuild_leaves_rows_written_since_it_began() {
        with_postgres_at(|_, url| async move {
            let index = postgres_search(&url).await;
            let (workspace, channel) = (WorkspaceId::new(), ChannelId::new());
            let mut damaged = document(workspace, channel, 2);
            damaged.content = "wrong words".into();
            index.index_messages(&[damaged.clone()], &[]).await.unwrap();
            let started = index.rebuild_started().await.unwrap();
            let mut newer = document(workspace, channel, 3);
            newer.content = "newest words".into();
            index.index_messages(&[newer.clone()], &[]).await.unwrap();

            // What the rebuild read: both, as they were before.
            let mut repaired = damaged.clone();
            repaired.content = "right words".into();
            repaired.version = 0;
            let mut read_before = newer.clone();
            read_before.content = "older words".into();
            read_before.version = 0;
            index
                .rebuild_messages(&[repaired.clone(), read_before], started)
                .await
                .unwrap();
            let found = |text: &'static str| {
                let index = &index;
                async move {
                    let mut asked = search(workspace, channel);
                    asked.query = parse_query(text);
                    let hits = index.search_messages(&asked).await.unwrap().hits;
                    hits.iter().map(|h| h.id).collect::<Vec<_>>()
                }
            };
            assert_eq!(
                found("right").await,
                [repaired.id],
                "an older row is rewritten"
            );
            assert!(found("wrong").await.is_empty());
            assert_eq!(found("newest").await, [newer.id], "a newer row is left");
            assert!(found("older").await.is_empty());
        })
        .await;
    }
}
