use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::file_sql::*;
use confab_core::id::{ChannelId, FileId, MessageId, UserId, WorkspaceId};
use confab_core::model::*;
use confab_core::ports::FileStore;
use confab_core::{time, Error, Result};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::{db_err, decode_row, json_value, PostgresStore};

fn p(n: usize) -> String {
    format!("${n}")
}

macro_rules! sql {
    ($make:expr) => {{
        static SQL: LazyLock<String> = LazyLock::new(|| $make(p));
        SQL.as_str()
    }};
}

confab_core::file_store_steps!(
    conn = PgConnection,
    id = as_uuid,
    ts = std::convert::identity
);

async fn attach(
    conn: &mut PgConnection,
    message: MessageId,
    file: FileId,
    comment: Option<&str>,
    at: DateTime<Utc>,
) -> Result<MessageFile> {
    let channel: Option<Uuid> = sqlx::query_scalar(
        "SELECT channel_id FROM messages WHERE message_id = $1 AND created_at = $2",
    )
    .bind(message.0)
    .bind(message.created_at())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)?;
    let live: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM files WHERE file_id = $1 AND deleted_at IS NULL")
            .bind(file.0)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    if live.is_none() {
        return Err(Error::NotFound("file"));
    }
    let channel = channel.ok_or(Error::NotFound("message"))?;
    sqlx::query(sql!(insert_message_file_sql))
        .bind(message.0)
        .bind(file.0)
        .bind(comment)
        .bind(at)
        .bind(channel)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    // The message now has a file (`has:file` in search), the file a channel.
    crate::messages::enqueue_for_search(conn, message).await?;
    sqlx::query(sql!(enqueue_file_sql))
        .bind(file.0)
        .bind(at)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    let row = sqlx::query("SELECT * FROM message_files WHERE message_id = $1 AND file_id = $2")
        .bind(message.0)
        .bind(file.0)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    decode_row::<MessageFile>(&row)
}

fn attachments(rows: &[sqlx::postgres::PgRow]) -> Result<Vec<(MessageFile, File)>> {
    rows.iter()
        .map(|row| Ok((decode_row::<MessageFile>(row)?, decode_row::<File>(row)?)))
        .collect()
}

impl PostgresStore {
    /// `files`, each with the channels it is shared in.
    async fn with_their_channels(&self, files: Vec<File>) -> Result<Vec<(File, Vec<ChannelId>)>> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let sql = channels_of_files_sql(p, files.len());
        let mut query = sqlx::query_as::<_, (Uuid, Uuid)>(&sql);
        for file in &files {
            query = query.bind(file.id.0);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(db_err)?;
        let pairs = rows
            .into_iter()
            .map(|(file, channel)| (FileId(file), ChannelId(channel)))
            .collect();
        Ok(with_channels(files, pairs))
    }
}

#[async_trait]
impl FileStore for PostgresStore {
    async fn begin_upload(&self, key: &str, expires: DateTime<Utc>) -> Result<()> {
        sqlx::query(sql!(begin_upload_sql))
            .bind(key)
            .bind(expires)
            .execute(&self.pool)
            .await
            .map_err(db_err)
            .map(|_| ())
    }

    async fn create_file(&self, file: &NewFile) -> Result<File> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let created = create(&mut tx, file).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(created)
    }

    async fn get_file(&self, id: FileId) -> Result<Option<File>> {
        sqlx::query("SELECT * FROM files WHERE file_id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<File>)
            .transpose()
    }

    async fn update_file_processing(
        &self,
        id: FileId,
        update: &FileProcessingUpdate,
    ) -> Result<File> {
        let mut q = QueryBuilder::<Postgres>::new("UPDATE files SET updated_at = ");
        q.push_bind(time::now());
        if let Some(v) = &update.processing_status {
            q.push(", processing_status = ").push_bind(v.clone());
        }
        if let Some(v) = &update.thumbnails {
            q.push(", thumbnails = ").push_bind(json_value(v));
        }
        if let Some(v) = &update.extracted_text {
            q.push(", extracted_text = ").push_bind(v.clone());
        }
        if let Some(v) = &update.virus_scan_status {
            q.push(", virus_scan_status = ").push_bind(v.clone());
        }
        if let Some(v) = &update.virus_scan_result {
            q.push(", virus_scan_result = ").push_bind(json_value(v));
        }
        q.push(" WHERE file_id = ")
            .push_bind(id.0)
            .push(" RETURNING *");
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let row = q
            .build()
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound("file"))?;
        // New text is new words to find the file by.
        if update.extracted_text.is_some() {
            sqlx::query(sql!(enqueue_file_sql))
                .bind(id.0)
                .bind(time::now())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        decode_row::<File>(&row)
    }

    async fn claim_files_to_process(
        &self,
        now: DateTime<Utc>,
        stale: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<File>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| claim_processing_sql(p, "FOR UPDATE SKIP LOCKED"));
        let rows = sqlx::query(SQL.as_str())
            .bind(now)
            .bind(stale)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<File>).collect()
    }

    async fn delete_file(&self, id: FileId, at: DateTime<Utc>, derived: &[String]) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let deleted = delete(&mut tx, id, at, derived).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(deleted)
    }

    async fn attach_file(
        &self,
        message: MessageId,
        file: FileId,
        comment: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<MessageFile> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let link = attach(&mut tx, message, file, comment, at).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(link)
    }

    async fn files_for_message(&self, message: MessageId) -> Result<Vec<(MessageFile, File)>> {
        let rows = sqlx::query(&format!(
            "SELECT {ATTACHMENT_COLUMNS}
             FROM message_files mf JOIN files f ON f.file_id = mf.file_id
             WHERE mf.message_id = $1 ORDER BY mf.attached_at, mf.file_id"
        ))
        .bind(message.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        attachments(&rows)
    }

    async fn files_for_messages(&self, messages: &[MessageId]) -> Result<Vec<(MessageFile, File)>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let sql = files_for_messages_sql(p, messages.len());
        let mut query = sqlx::query(&sql);
        for id in messages {
            query = query.bind(id.0);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(db_err)?;
        attachments(&rows)
    }

    async fn file_channels(&self, id: FileId) -> Result<Vec<ChannelId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar(sql!(file_channels_sql))
            .bind(id.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(ids.into_iter().map(ChannelId).collect())
    }

    async fn files_for_search(&self, ids: &[FileId]) -> Result<Vec<(File, Vec<ChannelId>)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = files_by_ids_sql(p, ids.len());
        let mut query = sqlx::query(&sql);
        for id in ids {
            query = query.bind(id.0);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(db_err)?;
        let files = rows.iter().map(decode_row::<File>).collect::<Result<_>>()?;
        self.with_their_channels(files).await
    }

    async fn scan_files(
        &self,
        after: Option<FileId>,
        limit: u32,
    ) -> Result<Vec<(File, Vec<ChannelId>)>> {
        let sql = scan_files_sql(p, after.is_some());
        let mut query = sqlx::query(&sql);
        if let Some(after) = after {
            query = query.bind(after.0);
        }
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let files = rows.iter().map(decode_row::<File>).collect::<Result<_>>()?;
        self.with_their_channels(files).await
    }

    async fn count_files(&self) -> Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM files WHERE deleted_at IS NULL")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(count as u64)
    }

    async fn list_files(&self, filter: &FileFilter) -> Result<Vec<File>> {
        let shape = FileListShape {
            readable: filter.readable.len(),
            uploader: filter.uploader.is_some(),
            channel: filter.channel.is_some(),
            before: filter.before.is_some(),
        };
        let sql = list_files_sql(p, shape);
        let mut query = sqlx::query(&sql)
            .bind(filter.workspace_id.0)
            .bind(filter.viewer.0);
        for channel in &filter.readable {
            query = query.bind(channel.0);
        }
        if let Some(uploader) = filter.uploader {
            query = query.bind(uploader.0);
        }
        if let Some(channel) = filter.channel {
            query = query.bind(channel.0);
        }
        if let Some((at, id)) = filter.before {
            query = query.bind(at).bind(id.0);
        }
        let rows = query
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<File>).collect()
    }

    async fn used_bytes(&self, workspace: WorkspaceId, user: UserId) -> Result<i64> {
        sqlx::query_scalar(sql!(used_bytes_sql))
            .bind(workspace.0)
            .bind(user.0)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn set_share_link(
        &self,
        id: FileId,
        token_hash: Option<&str>,
        expires: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let changed = sqlx::query(sql!(set_share_link_sql))
            .bind(token_hash)
            .bind(expires)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(changed.rows_affected() == 1)
    }

    async fn find_shared_file(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<File>> {
        sqlx::query(sql!(shared_file_sql))
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<File>)
            .transpose()
    }

    async fn expired_files(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<FileId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar(sql!(expired_files_sql))
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(ids.into_iter().map(FileId).collect())
    }

    async fn record_downloads(&self, downloads: &[FileDownloads]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        for d in downloads {
            sqlx::query(sql!(record_downloads_sql))
                .bind(d.count)
                .bind(d.last_accessed_at)
                .bind(d.file_id.0)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn due_blob_cleanups(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<String>> {
        sqlx::query_scalar(sql!(due_cleanups_sql))
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn finish_blob_cleanup(&self, key: &str) -> Result<()> {
        sqlx::query(sql!(claim_upload_sql))
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(db_err)
            .map(|_| ())
    }

    async fn files_to_tier(
        &self,
        to: StorageClass,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TierCandidate>> {
        let rows = sqlx::query(&files_to_tier_sql(p, to))
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row).collect()
    }

    async fn set_storage_class(&self, key: &str, class: StorageClass) -> Result<()> {
        sqlx::query(sql!(set_storage_class_sql))
            .bind(class.as_str())
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(db_err)
            .map(|_| ())
    }
}
