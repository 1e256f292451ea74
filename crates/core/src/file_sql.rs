//! The SQL of the file store, written once for both databases: `p(n)` is
//! the dialect's `n`th placeholder (`?n` or `$n`). Each store binds the
//! arguments in the order the doc comments give.

use crate::id::{ChannelId, FileId};
use crate::model::{File, StorageClass};

/// Placeholder style of a dialect.
pub type Placeholder = fn(usize) -> String;

/// An upload under way: (key, expires).
pub fn begin_upload_sql(p: Placeholder) -> String {
    format!(
        "INSERT INTO blob_cleanup (storage_key, not_before) VALUES ({}, {})",
        p(1),
        p(2)
    )
}

/// Claim an upload for a file: (key). One row when it was under way.
pub fn claim_upload_sql(p: Placeholder) -> String {
    format!("DELETE FROM blob_cleanup WHERE storage_key = {}", p(1))
}

/// Bytes of an uploader's live files in a workspace: (workspace, user).
pub fn used_bytes_sql(p: Placeholder) -> String {
    format!(
        "SELECT CAST(COALESCE(SUM(file_size), 0) AS BIGINT) FROM files
         WHERE workspace_id = {} AND uploader_id = {} AND deleted_at IS NULL",
        p(1),
        p(2)
    )
}

/// Take a reference to the workspace's copy of some bytes, or make the
/// upload that copy: (key, workspace, hash, size, created_at). Returns the
/// key of the copy the file uses.
pub fn reference_blob_sql(p: Placeholder) -> String {
    format!(
        "INSERT INTO file_blobs (storage_key, workspace_id, file_hash, file_size, ref_count, created_at)
         VALUES ({}, {}, {}, {}, 1, {})
         ON CONFLICT (workspace_id, file_hash) DO UPDATE SET ref_count = file_blobs.ref_count + 1
         RETURNING storage_key",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5)
    )
}

/// Bytes due for removal from a time on: (key, not_before).
pub fn schedule_cleanup_sql(p: Placeholder) -> String {
    format!(
        "INSERT INTO blob_cleanup (storage_key, not_before) VALUES ({}, {})
         ON CONFLICT (storage_key) DO UPDATE SET not_before = excluded.not_before",
        p(1),
        p(2)
    )
}

/// Record a file: (id, workspace, uploader, filename, original, size, mime,
/// claimed mime, hash, provider, bucket, key, region, expires, created).
/// A file sharing stored bytes takes their storage tier.
pub fn insert_file_sql(p: Placeholder) -> String {
    let values: Vec<String> = (1..=15).map(p).collect();
    format!(
        "INSERT INTO files
           (file_id, workspace_id, uploader_id, filename, original_filename, file_size, mime_type,
            claimed_mime_type, file_hash, storage_provider, storage_bucket, storage_key,
            storage_region, expires_at, created_at, updated_at, storage_class)
         VALUES ({}, {}, COALESCE(
           (SELECT g.storage_class FROM files g WHERE g.storage_key = {} LIMIT 1), 'STANDARD'))
         RETURNING *",
        values.join(", "),
        p(15),
        p(12)
    )
}

/// Files to move down to the tier `to`: (before, limit).
pub fn files_to_tier_sql(p: Placeholder, to: StorageClass) -> String {
    // The tiers above `to`, named from the enum (constants, not input).
    let above: Vec<String> = StorageClass::ALL[..to.rank()]
        .iter()
        .map(|c| format!("'{}'", c.as_str()))
        .collect();
    format!(
        "SELECT storage_key, storage_class, file_size,
                COALESCE(last_accessed_at, created_at) AS last_used
         FROM files f
         WHERE deleted_at IS NULL AND storage_class IN ({above})
           AND COALESCE(last_accessed_at, created_at) < {before}
           AND NOT EXISTS (
             SELECT 1 FROM files g
             WHERE g.storage_key = f.storage_key AND g.deleted_at IS NULL
               AND COALESCE(g.last_accessed_at, g.created_at) >= {before})
         ORDER BY last_used, storage_key
         LIMIT {limit}",
        // `NULL` for none: `IN (NULL)` matches nothing.
        above = if above.is_empty() {
            "NULL".into()
        } else {
            above.join(", ")
        },
        before = p(1),
        limit = p(2)
    )
}

/// Record the tier of some bytes on their files: (class, key).
pub fn set_storage_class_sql(p: Placeholder) -> String {
    format!(
        "UPDATE files SET storage_class = {} WHERE storage_key = {}",
        p(1),
        p(2)
    )
}

/// Soft-delete a live file and revoke its link: (at, id). Returns its key.
pub fn delete_file_sql(p: Placeholder) -> String {
    format!(
        "UPDATE files SET deleted_at = {0}, updated_at = {0}, share_token = NULL,
                is_public = FALSE, share_expires_at = NULL
         WHERE file_id = {1} AND deleted_at IS NULL RETURNING storage_key",
        p(1),
        p(2)
    )
}

/// Drop one reference to a copy still used by others: (key).
pub fn release_shared_blob_sql(p: Placeholder) -> String {
    format!(
        "UPDATE file_blobs SET ref_count = ref_count - 1 WHERE storage_key = {} AND ref_count > 1",
        p(1)
    )
}

/// Forget a copy whose last reference went: (key).
pub fn forget_blob_sql(p: Placeholder) -> String {
    format!("DELETE FROM file_blobs WHERE storage_key = {}", p(1))
}

/// Link a file to a message: (message, file, comment, at, channel).
pub fn insert_message_file_sql(p: Placeholder) -> String {
    format!(
        "INSERT INTO message_files (message_id, file_id, file_comment, attached_at, channel_id)
         VALUES ({}, {}, {}, {}, {}) ON CONFLICT (message_id, file_id) DO NOTHING",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5)
    )
}

/// Queue the messages sharing a file for the search index: (file, at).
pub fn enqueue_sharing_messages_sql(p: Placeholder) -> String {
    format!(
        "INSERT INTO search_outbox (kind, entity_id, created_at)
         SELECT 'message', message_id, {} FROM message_files WHERE file_id = {}",
        p(2),
        p(1)
    )
}

/// Queue a file for the search index: (file, at).
pub fn enqueue_file_sql(p: Placeholder) -> String {
    format!(
        "INSERT INTO search_outbox (kind, entity_id, created_at) VALUES ('file', {}, {})",
        p(1),
        p(2)
    )
}

/// Queue the files a message shares for the search index (their channels
/// change with it): (message, at).
pub fn enqueue_message_files_sql(p: Placeholder) -> String {
    format!(
        "INSERT INTO search_outbox (kind, entity_id, created_at)
         SELECT 'file', file_id, {} FROM message_files WHERE message_id = {}",
        p(2),
        p(1)
    )
}

/// The columns of an attachment joined with its file.
pub const ATTACHMENT_COLUMNS: &str =
    "f.*, mf.message_id, mf.channel_id, mf.file_comment, mf.attached_at";

/// Live files attached to the messages bound at `first..first + count`.
pub fn files_for_messages_sql(p: Placeholder, count: usize) -> String {
    let ids: Vec<String> = (1..=count).map(p).collect();
    format!(
        "SELECT {ATTACHMENT_COLUMNS}
         FROM message_files mf JOIN files f ON f.file_id = mf.file_id
         WHERE mf.message_id IN ({}) AND f.deleted_at IS NULL
         ORDER BY mf.attached_at, mf.file_id",
        ids.join(", ")
    )
}

/// Files by id, bound at `1..=count`.
pub fn files_by_ids_sql(p: Placeholder, count: usize) -> String {
    let ids: Vec<String> = (1..=count).map(p).collect();
    format!("SELECT * FROM files WHERE file_id IN ({})", ids.join(", "))
}

/// Files in id order: (limit), or (after, limit).
pub fn scan_files_sql(p: Placeholder, after: bool) -> String {
    if after {
        format!(
            "SELECT * FROM files WHERE file_id > {} ORDER BY file_id LIMIT {}",
            p(1),
            p(2)
        )
    } else {
        format!("SELECT * FROM files ORDER BY file_id LIMIT {}", p(1))
    }
}

/// The (file, channel) pairs of the files bound at `1..=count`.
pub fn channels_of_files_sql(p: Placeholder, count: usize) -> String {
    let ids: Vec<String> = (1..=count).map(p).collect();
    format!(
        "SELECT DISTINCT file_id, channel_id FROM message_files
         WHERE file_id IN ({}) AND channel_id IS NOT NULL",
        ids.join(", ")
    )
}

/// Each file with the channels `pairs` give it.
pub fn with_channels(
    files: Vec<File>,
    pairs: Vec<(FileId, ChannelId)>,
) -> Vec<(File, Vec<ChannelId>)> {
    let mut channels: std::collections::HashMap<FileId, Vec<ChannelId>> =
        std::collections::HashMap::new();
    for (file, channel) in pairs {
        channels.entry(file).or_default().push(channel);
    }
    files
        .into_iter()
        .map(|file| {
            let mut shared = channels.remove(&file.id).unwrap_or_default();
            shared.sort();
            (file, shared)
        })
        .collect()
}

/// Channels a file is shared in: (file).
pub fn file_channels_sql(p: Placeholder) -> String {
    format!(
        "SELECT DISTINCT channel_id FROM message_files
         WHERE file_id = {} AND channel_id IS NOT NULL",
        p(1)
    )
}

/// Which optional parts a file listing has; the arguments are bound in
/// this order: workspace, viewer, the readable channels, then the uploader,
/// the channel and the cursor's time and id when present, then the limit.
#[derive(Clone, Copy, Debug)]
pub struct FileListShape {
    pub readable: usize,
    pub uploader: bool,
    pub channel: bool,
    pub before: bool,
}

/// A page of live files, newest first (see [`FileListShape`]).
pub fn list_files_sql(p: Placeholder, shape: FileListShape) -> String {
    let mut n = 2;
    let mut next = || {
        n += 1;
        p(n)
    };
    let readable: Vec<String> = (0..shape.readable).map(|_| next()).collect();
    let shared_in_readable = match readable.is_empty() {
        true => "FALSE".to_owned(),
        false => format!(
            "EXISTS (SELECT 1 FROM message_files mf WHERE mf.file_id = f.file_id
                     AND mf.channel_id IN ({}))",
            readable.join(", ")
        ),
    };
    let mut sql = format!(
        "SELECT f.* FROM files f
         WHERE f.workspace_id = {} AND f.deleted_at IS NULL
           AND (f.uploader_id = {} OR {shared_in_readable})",
        p(1),
        p(2)
    );
    if shape.uploader {
        sql += &format!(" AND f.uploader_id = {}", next());
    }
    if shape.channel {
        sql += &format!(
            " AND EXISTS (SELECT 1 FROM message_files mc WHERE mc.file_id = f.file_id
                          AND mc.channel_id = {})",
            next()
        );
    }
    if shape.before {
        let (at, id) = (next(), next());
        sql += &format!(" AND (f.created_at < {at} OR (f.created_at = {at} AND f.file_id < {id}))");
    }
    sql += &format!(
        " ORDER BY f.created_at DESC, f.file_id DESC LIMIT {}",
        next()
    );
    sql
}

/// Count downloads: (count, at, file).
pub fn record_downloads_sql(p: Placeholder) -> String {
    format!(
        "UPDATE files SET download_count = download_count + {0},
                last_accessed_at = CASE WHEN last_accessed_at IS NULL OR last_accessed_at < {1}
                                        THEN {1} ELSE last_accessed_at END
         WHERE file_id = {2}",
        p(1),
        p(2),
        p(3)
    )
}

/// Set or clear a live file's public link: (token hash, expires, id).
pub fn set_share_link_sql(p: Placeholder) -> String {
    format!(
        "UPDATE files SET share_token = {0}, share_expires_at = {1}, is_public = {0} IS NOT NULL
         WHERE file_id = {2} AND deleted_at IS NULL",
        p(1),
        p(2),
        p(3)
    )
}

/// The live file a public link opens, while it lasts: (token hash, now).
pub fn shared_file_sql(p: Placeholder) -> String {
    format!(
        "SELECT * FROM files WHERE share_token = {} AND deleted_at IS NULL
           AND (share_expires_at IS NULL OR share_expires_at > {})",
        p(1),
        p(2)
    )
}

/// Live files whose own expiry has passed: (now, limit).
pub fn expired_files_sql(p: Placeholder) -> String {
    format!(
        "SELECT file_id FROM files WHERE expires_at <= {} AND deleted_at IS NULL
         ORDER BY expires_at LIMIT {}",
        p(1),
        p(2)
    )
}

/// Claim files to process, oldest first: pending ones, and those whose
/// processing started before `stale` (a node that stopped): (now, stale,
/// limit). `lock` is the dialect's row-locking clause for the inner select.
pub fn claim_processing_sql(p: Placeholder, lock: &str) -> String {
    format!(
        "UPDATE files SET processing_status = 'processing', updated_at = {0}
         WHERE file_id IN (
             SELECT file_id FROM files
             WHERE deleted_at IS NULL
               AND (processing_status = 'pending'
                    OR (processing_status = 'processing' AND updated_at < {1}))
             ORDER BY created_at LIMIT {2} {lock})
         RETURNING *",
        p(1),
        p(2),
        p(3)
    )
}

/// Keys due for removal: (now, limit).
pub fn due_cleanups_sql(p: Placeholder) -> String {
    format!(
        "SELECT storage_key FROM blob_cleanup WHERE not_before <= {}
         ORDER BY not_before LIMIT {}",
        p(1),
        p(2)
    )
}

/// The file store's two transactional steps, recording an upload and
/// deleting a file, written once for both databases: a store expands this
/// with its connection type, the method that turns an id into its bind
/// value (`to_string` or `as_uuid`) and the function that does the same for
/// a time. The expansion uses the store's own `sql!`, `db_err` and
/// `decode_row`.
#[macro_export]
macro_rules! file_store_steps {
    (conn = $conn:ty, id = $id:ident, ts = $ts:expr) => {
        async fn create(conn: &mut $conn, file: &NewFile) -> Result<File> {
            let claimed = sqlx::query(sql!(claim_upload_sql))
                .bind(&file.storage_key)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            if claimed.rows_affected() != 1 {
                return Err(Error::NotFound("upload"));
            }
            if let Some(quota) = file.quota_bytes {
                let used: i64 = sqlx::query_scalar(sql!(used_bytes_sql))
                    .bind(file.workspace_id.$id())
                    .bind(file.uploader_id.$id())
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                if used + file.file_size > quota {
                    return Err(Error::TooLarge {
                        what: "quota".into(),
                        limit: quota as u64,
                    });
                }
            }
            let key: String = sqlx::query_scalar(sql!(reference_blob_sql))
                .bind(&file.storage_key)
                .bind(file.workspace_id.$id())
                .bind(&file.file_hash)
                .bind(file.file_size)
                .bind($ts(file.created_at))
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            if key != file.storage_key {
                sqlx::query(sql!(schedule_cleanup_sql))
                    .bind(&file.storage_key)
                    .bind($ts(file.created_at))
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            }
            let row = sqlx::query(sql!(insert_file_sql))
                .bind(file.id.$id())
                .bind(file.workspace_id.$id())
                .bind(file.uploader_id.$id())
                .bind(&file.filename)
                .bind(&file.original_filename)
                .bind(file.file_size)
                .bind(&file.mime_type)
                .bind(&file.claimed_mime_type)
                .bind(&file.file_hash)
                .bind(&file.storage_provider)
                .bind(&file.storage_bucket)
                .bind(&key)
                .bind(&file.storage_region)
                .bind(file.expires_at.map($ts))
                .bind($ts(file.created_at))
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            sqlx::query(sql!(enqueue_file_sql))
                .bind(file.id.$id())
                .bind($ts(file.created_at))
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            decode_row::<File>(&row)
        }

        async fn delete(
            conn: &mut $conn,
            id: FileId,
            at: DateTime<Utc>,
            derived: &[String],
        ) -> Result<bool> {
            let key: Option<String> = sqlx::query_scalar(sql!(delete_file_sql))
                .bind($ts(at))
                .bind(id.$id())
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
            let Some(key) = key else {
                return Ok(false);
            };
            for enqueue in [sql!(enqueue_sharing_messages_sql), sql!(enqueue_file_sql)] {
                sqlx::query(enqueue)
                    .bind(id.$id())
                    .bind($ts(at))
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            }
            let shared = sqlx::query(sql!(release_shared_blob_sql))
                .bind(&key)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            for key in derived {
                sqlx::query(sql!(schedule_cleanup_sql))
                    .bind(key)
                    .bind($ts(at))
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            }
            if shared.rows_affected() == 0 {
                sqlx::query(sql!(forget_blob_sql))
                    .bind(&key)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                sqlx::query(sql!(schedule_cleanup_sql))
                    .bind(&key)
                    .bind($ts(at))
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
            }
            Ok(true)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: usize) -> String {
        format!("?{n}")
    }

    #[test]
    fn listing_placeholders_follow_the_binding_order() {
        let sql = list_files_sql(
            q,
            FileListShape {
                readable: 2,
                uploader: true,
                channel: true,
                before: true,
            },
        );
        for (n, part) in [
            (3, "IN (?3, ?4)"),
            (5, "f.uploader_id = ?5"),
            (6, "mc.channel_id = ?6"),
            (7, "f.created_at < ?7"),
            (8, "f.file_id < ?8"),
            (9, "LIMIT ?9"),
        ] {
            assert!(sql.contains(part), "placeholder {n} misplaced in {sql}");
        }
    }

    #[test]
    fn a_viewer_without_channels_sees_only_their_uploads() {
        let sql = list_files_sql(
            q,
            FileListShape {
                readable: 0,
                uploader: false,
                channel: false,
                before: false,
            },
        );
        assert!(sql.contains("f.uploader_id = ?2 OR FALSE"), "{sql}");
        assert!(sql.ends_with("LIMIT ?3"), "{sql}");
    }
}
