use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::id::{FileId, MessageId};
use confab_core::model::*;
use confab_core::ports::FileStore;
use confab_core::{time, Error, Result};
use sqlx::{QueryBuilder, Sqlite};

use crate::{db_err, decode_row, json_text, ts, SqliteStore};

#[async_trait]
impl FileStore for SqliteStore {
    async fn create_file(&self, file: &NewFile) -> Result<File> {
        let row = self.write_row(sqlx::query(
            "INSERT INTO files
               (file_id, workspace_id, uploader_id, filename, original_filename, file_size, mime_type,
                file_hash, storage_provider, storage_bucket, storage_key, storage_region, expires_at,
                created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
        )
        .bind(file.id.to_string())
        .bind(file.workspace_id.to_string())
        .bind(file.uploader_id.to_string())
        .bind(file.filename.clone())
        .bind(file.original_filename.clone())
        .bind(file.file_size)
        .bind(file.mime_type.clone())
        .bind(file.file_hash.clone())
        .bind(file.storage_provider.clone())
        .bind(file.storage_bucket.clone())
        .bind(file.storage_key.clone())
        .bind(file.storage_region.clone())
        .bind(file.expires_at.map(ts))
        .bind(ts(file.created_at))
        .bind(ts(file.created_at))).await?.ok_or(Error::Internal("the write returned no row".into()))?;
        decode_row::<File>(&row)
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
        let row = self.write_built(q).await?.ok_or(Error::NotFound("file"))?;
        decode_row::<File>(&row)
    }

    async fn attach_file(
        &self,
        message: MessageId,
        file: FileId,
        comment: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<MessageFile> {
        let comment = comment.map(str::to_owned);
        self.write(move |conn| {
            Box::pin(async move {
                let known: Option<i64> = sqlx::query_scalar(
                    "SELECT (SELECT count(*) FROM messages WHERE message_id = ?)
                          + (SELECT count(*) FROM files WHERE file_id = ?) * 2",
                )
                .bind(message.to_string())
                .bind(file.to_string())
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
                match known.unwrap_or(0) {
                    3 => {}
                    2 => return Err(Error::NotFound("message")),
                    _ => return Err(Error::NotFound("file")),
                }
                sqlx::query(
                    "INSERT INTO message_files (message_id, file_id, file_comment, attached_at)
                     VALUES (?, ?, ?, ?) ON CONFLICT (message_id, file_id) DO NOTHING",
                )
                .bind(message.to_string())
                .bind(file.to_string())
                .bind(comment)
                .bind(ts(at))
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
                let row =
                    sqlx::query("SELECT * FROM message_files WHERE message_id = ? AND file_id = ?")
                        .bind(message.to_string())
                        .bind(file.to_string())
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(db_err)?;
                decode_row::<MessageFile>(&row)
            })
        })
        .await
    }

    async fn files_for_message(&self, message: MessageId) -> Result<Vec<(MessageFile, File)>> {
        let rows = sqlx::query(
            "SELECT f.*, mf.message_id, mf.file_comment, mf.attached_at
             FROM message_files mf JOIN files f ON f.file_id = mf.file_id
             WHERE mf.message_id = ? ORDER BY mf.attached_at, mf.file_id",
        )
        .bind(message.to_string())
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| Ok((decode_row::<MessageFile>(row)?, decode_row::<File>(row)?)))
            .collect()
    }
}
