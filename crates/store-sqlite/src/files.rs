use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::file_sql::*;
use confab_core::id::{ChannelId, FileId, MessageId, UserId, WorkspaceId};
use confab_core::model::*;
use confab_core::ports::FileStore;
use confab_core::{time, Error, Result};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use crate::{db_err, decode_row, json_text, ts, SqliteStore};

fn q(n: usize) -> String {
    format!("?{n}")
}

macro_rules! sql {
    ($make:expr) => {{
        static SQL: LazyLock<String> = LazyLock::new(|| $make(q));
        SQL.as_str()
    }};
}

confab_core::file_store_steps!(conn = SqliteConnection, id = to_string, ts = ts);

async fn attach(
    conn: &mut SqliteConnection,
    message: MessageId,
    file: FileId,
    comment: Option<String>,
    at: DateTime<Utc>,
) -> Result<MessageFile> {
    let channel: Option<String> =
        sqlx::query_scalar("SELECT channel_id FROM messages WHERE message_id = ?")
            .bind(message.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    let live: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM files WHERE file_id = ? AND deleted_at IS NULL")
            .bind(file.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
    if live.is_none() {
        return Err(Error::NotFound("file"));
    }
    let channel = channel.ok_or(Error::NotFound("message"))?;
    sqlx::query(sql!(insert_message_file_sql))
        .bind(message.to_string())
        .bind(file.to_string())
        .bind(comment)
        .bind(ts(at))
        .bind(channel)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    // The message now has a file (`has:file` in search), the file a channel.
    crate::messages::enqueue_for_search(conn, message, at).await?;
    sqlx::query(sql!(enqueue_file_sql))
        .bind(file.to_string())
        .bind(ts(at))
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    let row = sqlx::query("SELECT * FROM message_files WHERE message_id = ? AND file_id = ?")
        .bind(message.to_string())
        .bind(file.to_string())
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    decode_row::<MessageFile>(&row)
}

impl SqliteStore {
    /// `files`, each with the channels it is shared in.
    async fn with_their_channels(&self, files: Vec<File>) -> Result<Vec<(File, Vec<ChannelId>)>> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let sql = channels_of_files_sql(q, files.len());
        let mut query = sqlx::query_as::<_, (String, String)>(&sql);
        for file in &files {
            query = query.bind(file.id.to_string());
        }
        let rows = query.fetch_all(&self.reader).await.map_err(db_err)?;
        let pairs = rows
            .into_iter()
            .map(|(file, channel)| {
                Ok((
                    file.parse().map_err(Error::internal)?,
                    channel.parse().map_err(Error::internal)?,
                ))
            })
            .collect::<Result<_>>()?;
        Ok(with_channels(files, pairs))
    }
}

#[async_trait]
impl FileStore for SqliteStore {
    async fn begin_upload(&self, key: &str, expires: DateTime<Utc>) -> Result<()> {
        self.write_exec(
            sqlx::query(sql!(begin_upload_sql))
                .bind(key.to_owned())
                .bind(ts(expires)),
        )
        .await
        .map(|_| ())
    }

    async fn create_file(&self, file: &NewFile) -> Result<File> {
        let file = file.clone();
        self.write(move |conn| Box::pin(async move { create(conn, &file).await }))
            .await
    }

    async fn get_file(&self, id: FileId) -> Result<Option<File>> {
        sqlx::query("SELECT * FROM files WHERE file_id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
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
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE files SET updated_at = ");
        q.push_bind(ts(time::now()));
        if let Some(v) = &update.processing_status {
            q.push(", processing_status = ").push_bind(v.clone());
        }
        if let Some(v) = &update.thumbnails {
            q.push(", thumbnails = ").push_bind(json_text(v));
        }
        if let Some(v) = &update.extracted_text {
            q.push(", extracted_text = ").push_bind(v.clone());
        }
        if let Some(v) = &update.virus_scan_status {
            q.push(", virus_scan_status = ").push_bind(v.clone());
        }
        if let Some(v) = &update.virus_scan_result {
            q.push(", virus_scan_result = ").push_bind(json_text(v));
        }
        q.push(" WHERE file_id = ")
            .push_bind(id.to_string())
            .push(" RETURNING *");
        // New text is new words to find the file by.
        let searchable = update.extracted_text.is_some();
        let row = self
            .write(move |conn| {
                Box::pin(async move {
                    let row = q.build().fetch_optional(&mut *conn).await.map_err(db_err)?;
                    if row.is_some() && searchable {
                        sqlx::query(sql!(enqueue_file_sql))
                            .bind(id.to_string())
                            .bind(ts(time::now()))
                            .execute(&mut *conn)
                            .await
                            .map_err(db_err)?;
                    }
                    Ok(row)
                })
            })
            .await?
            .ok_or(Error::NotFound("file"))?;
        decode_row::<File>(&row)
    }

    async fn delete_file(&self, id: FileId, at: DateTime<Utc>, derived: &[String]) -> Result<bool> {
        let derived = derived.to_vec();
        self.write(move |conn| Box::pin(async move { delete(conn, id, at, &derived).await }))
            .await
    }

    async fn claim_files_to_process(
        &self,
        now: DateTime<Utc>,
        stale: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<File>> {
        static SQL: LazyLock<String> = LazyLock::new(|| claim_processing_sql(q, ""));
        let rows = self
            .write(move |conn| {
                Box::pin(async move {
                    sqlx::query(SQL.as_str())
                        .bind(ts(now))
                        .bind(ts(stale))
                        .bind(i64::from(limit))
                        .fetch_all(&mut *conn)
                        .await
                        .map_err(db_err)
                })
            })
            .await?;
        rows.iter().map(decode_row::<File>).collect()
    }

    async fn attach_file(
        &self,
        message: MessageId,
        file: FileId,
        comment: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<MessageFile> {
        let comment = comment.map(str::to_owned);
        self.write(move |conn| Box::pin(attach(conn, message, file, comment, at)))
            .await
    }

    async fn files_for_message(&self, message: MessageId) -> Result<Vec<(MessageFile, File)>> {
        let rows = sqlx::query(&format!(
            "SELECT {ATTACHMENT_COLUMNS}
             FROM message_files mf JOIN files f ON f.file_id = mf.file_id
             WHERE mf.message_id = ? ORDER BY mf.attached_at, mf.file_id"
        ))
        .bind(message.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| Ok((decode_row::<MessageFile>(row)?, decode_row::<File>(row)?)))
            .collect()
    }

    async fn files_for_messages(&self, messages: &[MessageId]) -> Result<Vec<(MessageFile, File)>> {
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let sql = files_for_messages_sql(q, messages.len());
        let mut query = sqlx::query(&sql);
        for id in messages {
            query = query.bind(id.to_string());
        }
        let rows = query.fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter()
            .map(|row| Ok((decode_row::<MessageFile>(row)?, decode_row::<File>(row)?)))
            .collect()
    }

    async fn file_channels(&self, id: FileId) -> Result<Vec<ChannelId>> {
        let ids: Vec<String> = sqlx::query_scalar(sql!(file_channels_sql))
            .bind(id.to_string())
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        crate::parse_ids(&ids)
    }

    async fn files_for_search(&self, ids: &[FileId]) -> Result<Vec<(File, Vec<ChannelId>)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = files_by_ids_sql(q, ids.len());
        let mut query = sqlx::query(&sql);
        for id in ids {
            query = query.bind(id.to_string());
        }
        let rows = query.fetch_all(&self.reader).await.map_err(db_err)?;
        let files = rows.iter().map(decode_row::<File>).collect::<Result<_>>()?;
        self.with_their_channels(files).await
    }

    async fn scan_files(
        &self,
        after: Option<FileId>,
        limit: u32,
    ) -> Result<Vec<(File, Vec<ChannelId>)>> {
        let sql = scan_files_sql(q, after.is_some());
        let mut query = sqlx::query(&sql);
        if let Some(after) = after {
            query = query.bind(after.to_string());
        }
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        let files = rows.iter().map(decode_row::<File>).collect::<Result<_>>()?;
        self.with_their_channels(files).await
    }

    async fn count_files(&self) -> Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM files WHERE deleted_at IS NULL")
            .fetch_one(&self.reader)
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
        let sql = list_files_sql(q, shape);
        let mut query = sqlx::query(&sql)
            .bind(filter.workspace_id.to_string())
            .bind(filter.viewer.to_string());
        for channel in &filter.readable {
            query = query.bind(channel.to_string());
        }
        if let Some(uploader) = filter.uploader {
            query = query.bind(uploader.to_string());
        }
        if let Some(channel) = filter.channel {
            query = query.bind(channel.to_string());
        }
        if let Some((at, id)) = filter.before {
            query = query.bind(ts(at)).bind(id.to_string());
        }
        let rows = query
            .bind(i64::from(filter.limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<File>).collect()
    }

    async fn used_bytes(&self, workspace: WorkspaceId, user: UserId) -> Result<i64> {
        sqlx::query_scalar(sql!(used_bytes_sql))
            .bind(workspace.to_string())
            .bind(user.to_string())
            .fetch_one(&self.reader)
            .await
            .map_err(db_err)
    }

    async fn set_share_link(
        &self,
        id: FileId,
        token_hash: Option<&str>,
        expires: Option<DateTime<Utc>>,
    ) -> Result<bool> {
        let changed = self
            .write_exec(
                sqlx::query(sql!(set_share_link_sql))
                    .bind(token_hash.map(str::to_owned))
                    .bind(expires.map(ts))
                    .bind(id.to_string()),
            )
            .await?;
        Ok(changed == 1)
    }

    async fn find_shared_file(&self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<File>> {
        sqlx::query(sql!(shared_file_sql))
            .bind(token_hash)
            .bind(ts(now))
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<File>)
            .transpose()
    }

    async fn expired_files(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<FileId>> {
        let ids: Vec<String> = sqlx::query_scalar(sql!(expired_files_sql))
            .bind(ts(now))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        crate::parse_ids(&ids)
    }

    async fn record_downloads(&self, downloads: &[FileDownloads]) -> Result<()> {
        let downloads = downloads.to_vec();
        self.write(move |conn| {
            Box::pin(async move {
                for d in downloads {
                    sqlx::query(sql!(record_downloads_sql))
                        .bind(d.count)
                        .bind(ts(d.last_accessed_at))
                        .bind(d.file_id.to_string())
                        .execute(&mut *conn)
                        .await
                        .map_err(db_err)?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn due_blob_cleanups(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<String>> {
        sqlx::query_scalar(sql!(due_cleanups_sql))
            .bind(ts(now))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)
    }

    async fn finish_blob_cleanup(&self, key: &str) -> Result<()> {
        self.write_exec(sqlx::query(sql!(claim_upload_sql)).bind(key.to_owned()))
            .await
            .map(|_| ())
    }

    async fn files_to_tier(
        &self,
        to: StorageClass,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TierCandidate>> {
        let rows = sqlx::query(&files_to_tier_sql(q, to))
            .bind(ts(before))
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row).collect()
    }

    async fn set_storage_class(&self, key: &str, class: StorageClass) -> Result<()> {
        let update = sqlx::query(sql!(set_storage_class_sql))
            .bind(class.as_str())
            .bind(key.to_owned());
        self.write_exec(update).await.map(|_| ())
    }
}
