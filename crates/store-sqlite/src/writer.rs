//! Group commit. SQLite allows one writer at a time and, with
//! `synchronous=FULL`, every commit waits for the disk. So all writes go to
//! one task that owns the write connection: it takes every write waiting in
//! its queue, runs each inside its own savepoint of one transaction, commits
//! once, and only then answers each caller. A write that fails rolls back to
//! its savepoint and leaves the others in the batch untouched; nothing is
//! acknowledged before the commit that makes it durable.

use std::any::Any;
use std::panic::AssertUnwindSafe;

use confab_core::{Error, Result};
use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::db_err;

/// The most writes committed together.
const MAX_BATCH: usize = 256;
/// Writes waiting beyond this make callers wait for room (back-pressure).
const QUEUE_DEPTH: usize = 4096;

type AnyValue = Box<dyn Any + Send>;
type Work =
    Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<AnyValue>> + Send>;

struct Job {
    work: Work,
    reply: oneshot::Sender<Result<AnyValue>>,
}

/// The queue in front of the writer task.
#[derive(Clone, Debug)]
pub(crate) struct Writer {
    queue: mpsc::Sender<Job>,
}

impl Writer {
    /// Start the writer task over `pool` (a pool of exactly one connection).
    pub(crate) fn start(pool: SqlitePool) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run(pool, jobs));
        Self { queue }
    }

    /// Run `work` in a write transaction and return its result once committed.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let work: Work = Box::new(move |conn| {
            Box::pin(async move { work(conn).await.map(|v| Box::new(v) as AnyValue) })
        });
        self.queue
            .send(Job { work, reply })
            .await
            .map_err(|_| Error::Unavailable("the database writer has stopped".into()))?;
        let value = answer
            .await
            .map_err(|_| Error::Unavailable("the database writer has stopped".into()))??;
        value
            .downcast::<T>()
            .map(|v| *v)
            .map_err(|_| Error::Internal("write returned an unexpected type".into()))
    }
}

async fn run(pool: SqlitePool, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        metrics::histogram!("confab_db_group_commit_batch_size").record(batch.len() as f64);
        let started = std::time::Instant::now();
        run_batch(&pool, batch).await;
        metrics::histogram!("confab_db_group_commit_seconds")
            .record(started.elapsed().as_secs_f64());
    }
}

async fn run_batch(pool: &SqlitePool, batch: Vec<Job>) {
    let mut conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(err) => return fail_all(batch.into_iter().map(|j| j.reply), &err.to_string()),
    };
    if let Err(err) = exec(&mut conn, "BEGIN IMMEDIATE").await {
        return fail_all(batch.into_iter().map(|j| j.reply), &err.to_string());
    }
    let mut done = Vec::with_capacity(batch.len());
    let mut broken = None;
    // A lone write needs no savepoint: if it fails, the whole transaction
    // (only its own changes) is rolled back.
    let isolate = batch.len() > 1;
    for job in batch {
        if broken.is_some() {
            done.push((
                job.reply,
                Err(Error::Unavailable("write batch aborted".into())),
            ));
            continue;
        }
        match run_one(&mut conn, job.work, isolate).await {
            Ok(outcome) => {
                if !isolate && outcome.is_err() {
                    broken = Some("the write failed".to_owned());
                }
                done.push((job.reply, outcome))
            }
            Err(err) => {
                broken = Some(err.to_string());
                done.push((job.reply, Err(err)));
            }
        }
    }
    let committed = match broken {
        Some(reason) => {
            let _ = exec(&mut conn, "ROLLBACK").await;
            Err(reason)
        }
        None => match exec(&mut conn, "COMMIT").await {
            Ok(()) => Ok(()),
            Err(err) => {
                let _ = exec(&mut conn, "ROLLBACK").await;
                Err(err.to_string())
            }
        },
    };
    for (reply, outcome) in done {
        let answer = match &committed {
            Ok(()) => outcome,
            Err(reason) => outcome.and(Err(Error::Unavailable(format!(
                "the write was not committed: {reason}"
            )))),
        };
        let _ = reply.send(answer);
    }
}

/// Run one write in its own savepoint. The outer error means the transaction
/// itself is unusable; the inner result is the write's own outcome.
async fn run_one(
    conn: &mut SqliteConnection,
    work: Work,
    isolate: bool,
) -> Result<Result<AnyValue>> {
    if isolate {
        exec(conn, "SAVEPOINT confab_write").await?;
    }
    let outcome = AssertUnwindSafe(work(conn))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(Error::Internal("a database write panicked".into())));
    if isolate {
        if outcome.is_err() {
            exec(conn, "ROLLBACK TO confab_write").await?;
        }
        exec(conn, "RELEASE confab_write").await?;
    }
    Ok(outcome)
}

async fn exec(conn: &mut SqliteConnection, sql: &str) -> Result<()> {
    sqlx::query(sql).execute(conn).await.map_err(db_err)?;
    Ok(())
}

fn fail_all(replies: impl Iterator<Item = oneshot::Sender<Result<AnyValue>>>, reason: &str) {
    for reply in replies {
        let _ = reply.send(Err(Error::Unavailable(format!(
            "the database cannot be written: {reason}"
        ))));
    }
}
