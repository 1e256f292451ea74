use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::columns::{session_with_user_sql, take_attempt_sql};
use confab_core::id::{UserId, WorkspaceId};
use confab_core::model::*;
use confab_core::ports::AuthStore;
use confab_core::Result;

use crate::{db_err, decode_row, json_text, ts, SqliteStore};

#[async_trait]
impl AuthStore for SqliteStore {
    async fn create_session(&self, session: &Session) -> Result<()> {
        let query = sqlx::query(
            "INSERT INTO sessions
               (session_id, user_id, workspace_id, device_type, ip_address, user_agent, permissions,
                created_at, last_activity_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(session.id.clone())
        .bind(session.user_id.to_string())
        .bind(session.workspace_id.map(|w| w.to_string()))
        .bind(session.device_type.clone())
        .bind(session.ip_address.clone())
        .bind(session.user_agent.clone())
        .bind(json_text(&session.permissions))
        .bind(ts(session.created_at))
        .bind(ts(session.last_activity_at))
        .bind(ts(session.expires_at));
        self.write_exec(query).await.map(drop)
    }

    async fn get_session(&self, id: &str) -> Result<Option<Session>> {
        sqlx::query("SELECT * FROM sessions WHERE session_id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<Session>)
            .transpose()
    }

    async fn get_session_with_user(&self, id: &str) -> Result<Option<(Session, User)>> {
        static SQL: LazyLock<String> = LazyLock::new(|| session_with_user_sql("?"));
        sqlx::query(&SQL)
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<(Session, User)>)
            .transpose()
    }

    async fn touch_session(
        &self,
        id: &str,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        workspace: Option<WorkspaceId>,
    ) -> Result<bool> {
        let query = sqlx::query(
            "UPDATE sessions SET last_activity_at = ?, expires_at = ?,
                                 workspace_id = coalesce(?, workspace_id)
             WHERE session_id = ? AND revoked_at IS NULL AND expires_at > ?",
        )
        .bind(ts(at))
        .bind(ts(expires_at))
        .bind(workspace.map(|w| w.to_string()))
        .bind(id.to_owned())
        .bind(ts(at));
        Ok(self.write_exec(query).await? > 0)
    }

    async fn revoke_session(&self, id: &str, at: DateTime<Utc>) -> Result<bool> {
        let query = sqlx::query(
            "UPDATE sessions SET revoked_at = ?
             WHERE session_id = ? AND revoked_at IS NULL AND expires_at > ?",
        )
        .bind(ts(at))
        .bind(id.to_owned())
        .bind(ts(at));
        Ok(self.write_exec(query).await? > 0)
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<u64> {
        let query = sqlx::query(
            "UPDATE sessions SET revoked_at = ?
             WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
               AND session_id != coalesce(?, '')",
        )
        .bind(ts(at))
        .bind(user.to_string())
        .bind(ts(at))
        .bind(keep.map(str::to_owned));
        self.write_exec(query).await
    }

    async fn list_user_sessions(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<Session>> {
        let rows = sqlx::query(
            "SELECT * FROM sessions
             WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
             ORDER BY created_at DESC",
        )
        .bind(user.to_string())
        .bind(ts(now))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(decode_row::<Session>).collect()
    }

    async fn create_login_challenge(&self, challenge: &LoginChallenge) -> Result<()> {
        let query = sqlx::query(
            "INSERT INTO login_challenges
               (challenge_id, user_id, device_type, ip_address, user_agent, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(challenge.id.clone())
        .bind(challenge.user_id.to_string())
        .bind(challenge.client.device_type.clone())
        .bind(challenge.client.ip_address.clone())
        .bind(challenge.client.user_agent.clone())
        .bind(ts(challenge.created_at))
        .bind(ts(challenge.expires_at));
        self.write_exec(query).await.map(drop)
    }

    async fn get_login_challenge(&self, id: &str) -> Result<Option<LoginChallenge>> {
        sqlx::query("SELECT * FROM login_challenges WHERE challenge_id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<LoginChallenge>)
            .transpose()
    }

    async fn delete_user_challenges(&self, user: UserId) -> Result<()> {
        let query =
            sqlx::query("DELETE FROM login_challenges WHERE user_id = ?").bind(user.to_string());
        self.write_exec(query).await.map(drop)
    }

    async fn delete_login_challenge(&self, id: &str) -> Result<()> {
        let query =
            sqlx::query("DELETE FROM login_challenges WHERE challenge_id = ?").bind(id.to_owned());
        self.write_exec(query).await.map(drop)
    }

    async fn use_totp_step(&self, user: UserId, step: i64, at: DateTime<Utc>) -> Result<bool> {
        let query = sqlx::query(
            "INSERT INTO mfa_used_codes (user_id, time_step, used_at) VALUES (?, ?, ?)
             ON CONFLICT (user_id, time_step) DO NOTHING",
        )
        .bind(user.to_string())
        .bind(step)
        .bind(ts(at));
        Ok(self.write_exec(query).await? > 0)
    }

    async fn take_attempt(
        &self,
        subject: &str,
        rules: &AttemptRules,
    ) -> Result<Option<FailureCount>> {
        static SQL: LazyLock<String> = LazyLock::new(|| take_attempt_sql(|n| format!("?{n}")));
        let query = sqlx::query(SQL.as_str())
            .bind(subject.to_owned())
            .bind(ts(rules.now))
            .bind(ts(rules.window_start))
            .bind(rules.max_attempts)
            .bind(ts(rules.lock_until));
        self.write_row(query)
            .await?
            .as_ref()
            .map(decode_row::<FailureCount>)
            .transpose()
    }

    async fn get_failures(&self, subject: &str) -> Result<Option<FailureCount>> {
        sqlx::query("SELECT * FROM auth_failures WHERE subject = ?")
            .bind(subject)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<FailureCount>)
            .transpose()
    }

    async fn clear_failures(&self, subject: &str) -> Result<()> {
        let query =
            sqlx::query("DELETE FROM auth_failures WHERE subject = ?").bind(subject.to_owned());
        self.write_exec(query).await.map(drop)
    }

    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<u64> {
        let before = ts(before);
        self.write(move |conn| {
            Box::pin(async move {
                let mut purged = 0;
                for table in confab_core::columns::EXPIRING_TABLES {
                    let sql = format!("DELETE FROM {table} WHERE expires_at < ?");
                    let done = sqlx::query(&sql)
                        .bind(&before)
                        .execute(&mut *conn)
                        .await
                        .map_err(db_err)?;
                    purged += done.rows_affected();
                }
                Ok(purged)
            })
        })
        .await
    }
}
