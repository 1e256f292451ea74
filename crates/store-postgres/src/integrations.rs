use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::columns::{delivery_sql, token_sql, token_with_user_sql};
use confab_core::id::{IntegrationId, UserId, WorkspaceId};
use confab_core::model::*;
use confab_core::ports::IntegrationStore;
use confab_core::{time, Error, Result};
use sqlx::PgConnection;

use crate::channels::insert_channel_member;
use crate::workspaces::insert_member;
use crate::{db_err, decode_row, json_value, PostgresStore};

fn param(n: usize) -> String {
    format!("${n}")
}

async fn insert_integration(conn: &mut PgConnection, new: &NewIntegration) -> Result<Integration> {
    static SQL: LazyLock<String> = LazyLock::new(|| token_sql::insert_integration(param));
    let row = sqlx::query(SQL.as_str())
        .bind(new.id.0)
        .bind(new.workspace_id.0)
        .bind(&new.app_name)
        .bind(&new.app_id)
        .bind(&new.integration_type)
        .bind(json_value(&new.config))
        .bind(new.credentials.as_ref().map(json_value))
        .bind(&new.scopes)
        .bind(new.channel_id.map(|c| c.0))
        .bind(new.installed_by.0)
        .bind(new.created_at)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    decode_row::<Integration>(&row)
}

async fn insert_token(conn: &mut PgConnection, new: &NewApiToken) -> Result<ApiToken> {
    static SQL: LazyLock<String> = LazyLock::new(|| token_sql::insert(param));
    let row = sqlx::query(SQL.as_str())
        .bind(new.id.0)
        .bind(&new.token_hash)
        .bind(new.kind.as_str())
        .bind(new.user_id.0)
        .bind(new.workspace_id.0)
        .bind(new.integration_id.map(|i| i.0))
        .bind(&new.label)
        .bind(&new.scopes)
        .bind(new.created_at)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    decode_row::<ApiToken>(&row)
}

#[async_trait]
impl IntegrationStore for PostgresStore {
    async fn create_integration(&self, new: &NewIntegration) -> Result<Integration> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        insert_integration(&mut conn, new).await
    }

    async fn get_integration(&self, id: IntegrationId) -> Result<Option<Integration>> {
        sqlx::query("SELECT * FROM integrations WHERE integration_id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<Integration>)
            .transpose()
    }

    async fn list_integrations(&self, workspace: WorkspaceId) -> Result<Vec<Integration>> {
        let rows = sqlx::query(
            "SELECT * FROM integrations WHERE workspace_id = $1 ORDER BY integration_id",
        )
        .bind(workspace.0)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(decode_row::<Integration>).collect()
    }

    async fn set_integration_status(
        &self,
        id: IntegrationId,
        status: &str,
        last_error: Option<&str>,
    ) -> Result<Integration> {
        let row = sqlx::query(
            "UPDATE integrations SET status = $1, last_error = $2, updated_at = $3
             WHERE integration_id = $4 RETURNING *",
        )
        .bind(status)
        .bind(last_error)
        .bind(time::now())
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .ok_or(Error::NotFound("integration"))?;
        decode_row::<Integration>(&row)
    }

    async fn touch_integration(&self, id: IntegrationId, at: DateTime<Utc>) -> Result<()> {
        let done =
            sqlx::query("UPDATE integrations SET last_used_at = $1 WHERE integration_id = $2")
                .bind(at)
                .bind(id.0)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Err(Error::NotFound("integration"));
        }
        Ok(())
    }

    async fn create_bot(&self, bot: &NewBot) -> Result<(User, Integration)> {
        static SQL: LazyLock<String> = LazyLock::new(|| token_sql::insert_bot_user(param, "true"));
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let row = sqlx::query(SQL.as_str())
            .bind(bot.user.id.0)
            .bind(&bot.user.email)
            .bind(&bot.user.username)
            .bind(&bot.user.display_name)
            .bind(bot.user.created_at)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let user = decode_row::<User>(&row)?;
        insert_member(&mut tx, &bot.member).await?;
        let integration = insert_integration(&mut tx, &bot.integration).await?;
        if let Some(token) = &bot.token {
            insert_token(&mut tx, token).await?;
        }
        if let Some(membership) = &bot.channel_member {
            insert_channel_member(&mut tx, membership).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok((user, integration))
    }

    async fn create_api_token(&self, token: &NewApiToken) -> Result<ApiToken> {
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        insert_token(&mut conn, token).await
    }

    async fn get_api_token(&self, id: IntegrationId) -> Result<Option<ApiToken>> {
        sqlx::query("SELECT * FROM api_tokens WHERE token_id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<ApiToken>)
            .transpose()
    }

    async fn token_with_user(&self, hash: &str) -> Result<Option<(ApiToken, User)>> {
        static SQL: LazyLock<String> = LazyLock::new(|| token_with_user_sql("$1"));
        sqlx::query(SQL.as_str())
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<(ApiToken, User)>)
            .transpose()
    }

    async fn user_api_tokens(&self, user: UserId, workspace: WorkspaceId) -> Result<Vec<ApiToken>> {
        static SQL: LazyLock<String> = LazyLock::new(|| token_sql::of_user(param));
        let rows = sqlx::query(SQL.as_str())
            .bind(user.0)
            .bind(workspace.0)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<ApiToken>).collect()
    }

    async fn revoke_api_tokens(
        &self,
        id: Option<IntegrationId>,
        integration: Option<IntegrationId>,
        at: DateTime<Utc>,
    ) -> Result<u64> {
        static SQL: LazyLock<String> = LazyLock::new(|| token_sql::revoke(param));
        let done = sqlx::query(SQL.as_str())
            .bind(at)
            .bind(id.map(|i| i.0))
            .bind(integration.map(|i| i.0))
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn touch_api_token(&self, token: &ApiToken, at: DateTime<Utc>) -> Result<()> {
        static SQL: LazyLock<[String; 2]> = LazyLock::new(|| token_sql::touch(param));
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        for (sql, id) in SQL.iter().zip([Some(token.id), token.integration_id]) {
            sqlx::query(sql)
                .bind(at)
                .bind(id.map(|i| i.0))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(())
    }

    async fn update_integration(
        &self,
        id: IntegrationId,
        config: &serde_json::Value,
        status: &str,
        last_error: Option<&str>,
    ) -> Result<Integration> {
        static SQL: LazyLock<String> = LazyLock::new(|| delivery_sql::update_integration(param));
        let row = sqlx::query(SQL.as_str())
            .bind(json_value(config))
            .bind(status)
            .bind(last_error)
            .bind(time::now())
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound("integration"))?;
        decode_row::<Integration>(&row)
    }

    async fn enqueue_deliveries(&self, deliveries: &[NewEventDelivery]) -> Result<()> {
        static SQL: LazyLock<String> = LazyLock::new(|| delivery_sql::insert(param));
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        for d in deliveries {
            sqlx::query(SQL.as_str())
                .bind(d.id.0)
                .bind(d.integration_id.0)
                .bind(&d.event_id)
                .bind(json_value(&d.payload))
                .bind(d.created_at)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EventDelivery>> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| delivery_sql::claim(param, "FOR UPDATE SKIP LOCKED"));
        let rows = sqlx::query(SQL.as_str())
            .bind(lease_until)
            .bind(now)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        let mut claimed = rows
            .iter()
            .map(decode_row::<EventDelivery>)
            .collect::<Result<Vec<_>>>()?;
        claimed.sort_by_key(|d| (d.created_at, d.id));
        Ok(claimed)
    }

    async fn finish_delivery(&self, id: IntegrationId, update: &DeliveryUpdate) -> Result<()> {
        static SQL: LazyLock<String> = LazyLock::new(|| delivery_sql::finish(param));
        sqlx::query(SQL.as_str())
            .bind(&update.status)
            .bind(update.attempts)
            .bind(update.next_attempt_at)
            .bind(&update.last_error)
            .bind(update.delivered_at)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn recent_deliveries(
        &self,
        integration: IntegrationId,
        limit: u32,
    ) -> Result<Vec<EventDelivery>> {
        static SQL: LazyLock<String> = LazyLock::new(|| delivery_sql::recent(param));
        let rows = sqlx::query(SQL.as_str())
            .bind(integration.0)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<EventDelivery>).collect()
    }
}
