use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::columns::{session_with_user_sql, take_attempt_sql};
use confab_core::id::{UserId, WorkspaceId};
use confab_core::model::*;
use confab_core::ports::AuthStore;
use confab_core::Result;

use crate::{db_err, decode_row, json_value, PostgresStore};

#[async_trait]
impl AuthStore for PostgresStore {
    async fn create_session(&self, session: &Session) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions
               (session_id, user_id, workspace_id, device_type, ip_address, user_agent, permissions,
                created_at, last_activity_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&session.id)
        .bind(session.user_id.0)
        .bind(session.workspace_id.map(|w| w.0))
        .bind(&session.device_type)
        .bind(&session.ip_address)
        .bind(&session.user_agent)
        .bind(json_value(&session.permissions))
        .bind(session.created_at)
        .bind(session.last_activity_at)
        .bind(session.expires_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn get_session(&self, id: &str) -> Result<Option<Session>> {
        sqlx::query("SELECT * FROM sessions WHERE session_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<Session>)
            .transpose()
    }

    async fn get_session_with_user(&self, id: &str) -> Result<Option<(Session, User)>> {
        static SQL: LazyLock<String> = LazyLock::new(|| session_with_user_sql("$1"));
        sqlx::query(&SQL)
            .bind(id)
            .fetch_optional(&self.pool)
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
        let done = sqlx::query(
            "UPDATE sessions SET last_activity_at = $1, expires_at = $2,
                                 workspace_id = coalesce($3, workspace_id)
             WHERE session_id = $4 AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(at)
        .bind(expires_at)
        .bind(workspace.map(|w| w.0))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_session(&self, id: &str, at: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1
             WHERE session_id = $2 AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(at)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1
             WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > $1
               AND session_id != coalesce($3, '')",
        )
        .bind(at)
        .bind(user.0)
        .bind(keep)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn list_user_sessions(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<Session>> {
        let rows = sqlx::query(
            "SELECT * FROM sessions
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
             ORDER BY created_at DESC",
        )
        .bind(user.0)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(decode_row::<Session>).collect()
    }

    async fn create_login_challenge(&self, challenge: &LoginChallenge) -> Result<()> {
        sqlx::query(
            "INSERT INTO login_challenges
               (challenge_id, user_id, device_type, ip_address, user_agent, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&challenge.id)
        .bind(challenge.user_id.0)
        .bind(&challenge.client.device_type)
        .bind(&challenge.client.ip_address)
        .bind(&challenge.client.user_agent)
        .bind(challenge.created_at)
        .bind(challenge.expires_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn get_login_challenge(&self, id: &str) -> Result<Option<LoginChallenge>> {
        sqlx::query("SELECT * FROM login_challenges WHERE challenge_id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<LoginChallenge>)
            .transpose()
    }

    async fn delete_user_challenges(&self, user: UserId) -> Result<()> {
        sqlx::query("DELETE FROM login_challenges WHERE user_id = $1")
            .bind(user.0)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn delete_login_challenge(&self, id: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_challenges WHERE challenge_id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn use_totp_step(&self, user: UserId, step: i64, at: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO mfa_used_codes (user_id, time_step, used_at) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, time_step) DO NOTHING",
        )
        .bind(user.0)
        .bind(step)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn take_attempt(
        &self,
        subject: &str,
        rules: &AttemptRules,
    ) -> Result<Option<FailureCount>> {
        static SQL: LazyLock<String> = LazyLock::new(|| take_attempt_sql(|n| format!("${n}")));
        sqlx::query(SQL.as_str())
            .bind(subject)
            .bind(rules.now)
            .bind(rules.window_start)
            .bind(rules.max_attempts)
            .bind(rules.lock_until)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<FailureCount>)
            .transpose()
    }

    async fn get_failures(&self, subject: &str) -> Result<Option<FailureCount>> {
        sqlx::query("SELECT * FROM auth_failures WHERE subject = $1")
            .bind(subject)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<FailureCount>)
            .transpose()
    }

    async fn clear_failures(&self, subject: &str) -> Result<()> {
        sqlx::query("DELETE FROM auth_failures WHERE subject = $1")
            .bind(subject)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn purge_expired(&self, before: DateTime<Utc>) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let mut purged = 0;
        for table in confab_core::columns::EXPIRING_TABLES {
            let sql = format!("DELETE FROM {table} WHERE expires_at < $1");
            let done = sqlx::query(&sql)
                .bind(before)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            purged += done.rows_affected();
        }
        tx.commit().await.map_err(db_err)?;
        Ok(purged)
    }
}
