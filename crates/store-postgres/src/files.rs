use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::id::{FileId, MessageId};
use confab_core::model::*;
use confab_core::ports::FileStore;
use confab_core::{time, Error, Result};
use sqlx::{Postgres, QueryBuilder};

use crate::{db_err, decode_row, json_value, PostgresStore};

#[async_trait]
impl FileStore for PostgresStore {
    async fn create_file(&self, file: &NewFile) -> Result<File> {
        let row = sqlx::query(
            "INSERT INTO files
               (file_id, workspace_id, uploader_id, filename, original_filename, file_size, mime_type,
                file_hash, storage_provider, storage_bucket, storage_key, storage_region, expires_at,
                created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING *",
        )
        .bind(file.id.0)
        .bind(file.workspace_id.0)
        .bind(file.uploader_id.0)
        .bind(&file.filename)
        .bind(&file.original_filename)
        .bind(file.file_size)
        .bind(&file.mime_type)
        .bind(&file.file_hash)
        .bind(&file.storage_provider)
        .bind(&file.storage_bucket)
        .bind(&file.storage_key)
        .bind(&file.storage_region)
        .bind(file.expires_at)
        .bind(file.created_at)
        .bind(file.created_at)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        decode_row::<File>(&row)
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
        let row = q
            .build()
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound("file"))?;
        decode_row::<File>(&row)
    }

    async fn attach_file(
        &self,
        message: MessageId,
        file: FileId,
        comment: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<MessageFile> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let known: Option<i64> = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM messages WHERE message_id = $1 AND created_at = $2)
                  + (SELECT count(*) FROM files WHERE file_id = $3) * 2",
        )
        .bind(message.0)
        .bind(message.created_at())
        .bind(file.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        match known.unwrap_or(0) {
            3 => {}
            2 => return Err(Error::NotFound("message")),
            _ => return Err(Error::NotFound("file")),
        }
        sqlx::query(
            "INSERT INTO message_files (message_id, file_id, file_comment, attached_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (message_id, file_id) DO NOTHING",
        )
        .bind(message.0)
        .bind(file.0)
        .bind(comment)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        let row = sqlx::query("SELECT * FROM message_files WHERE message_id = $1 AND file_id = $2")
            .bind(message.0)
            .bind(file.0)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        decode_row::<MessageFile>(&row)
    }

    async fn files_for_message(&self, message: MessageId) -> Result<Vec<(MessageFile, File)>> {
        let rows = sqlx::query(
            "SELECT f.*, mf.message_id, mf.file_comment, mf.attached_at
             FROM message_files mf JOIN files f ON f.file_id = mf.file_id
             WHERE mf.message_id = $1 ORDER BY mf.attached_at, mf.file_id",
        )
        .bind(message.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| Ok((decode_row::<MessageFile>(row)?, decode_row::<File>(row)?)))
            .collect()
    }
}
