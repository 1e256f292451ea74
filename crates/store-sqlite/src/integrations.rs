use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::columns::{delivery_sql, token_sql, token_with_user_sql};
use confab_core::id::{IntegrationId, UserId, WorkspaceId};
use confab_core::model::*;
use confab_core::ports::IntegrationStore;
use confab_core::{time, Error, Result};
use sqlx::SqliteConnection;

use crate::channels::insert_channel_member;
use crate::workspaces::insert_member;
use crate::{db_err, decode_row, json_text, ts, SqliteStore};

fn param(n: usize) -> String {
    format!("?{n}")
}

async fn insert_integration(
    conn: &mut SqliteConnection,
    new: &NewIntegration,
) -> Result<Integration> {
    static SQL: LazyLock<String> = LazyLock::new(|| token_sql::insert_integration(param));
    let row = sqlx::query(SQL.as_str())
        .bind(new.id.to_string())
        .bind(new.workspace_id.to_string())
        .bind(&new.app_name)
        .bind(&new.app_id)
        .bind(&new.integration_type)
        .bind(json_text(&new.config))
        .bind(new.credentials.as_ref().map(json_text))
        .bind(json_text(&new.scopes))
        .bind(new.channel_id.map(|c| c.to_string()))
        .bind(new.installed_by.to_string())
        .bind(ts(new.created_at))
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    decode_row::<Integration>(&row)
}

async fn insert_token(conn: &mut SqliteConnection, new: &NewApiToken) -> Result<ApiToken> {
    static SQL: LazyLock<String> = LazyLock::new(|| token_sql::insert(param));
    let row = sqlx::query(SQL.as_str())
        .bind(new.id.to_string())
        .bind(&new.token_hash)
        .bind(new.kind.as_str())
        .bind(new.user_id.to_string())
        .bind(new.workspace_id.to_string())
        .bind(new.integration_id.map(|i| i.to_string()))
        .bind(&new.label)
        .bind(json_text(&new.scopes))
        .bind(ts(new.created_at))
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    decode_row::<ApiToken>(&row)
}

#[async_trait]
impl IntegrationStore for SqliteStore {
    async fn create_integration(&self, new: &NewIntegration) -> Result<Integration> {
        let new = new.clone();
        self.write(move |conn| Box::pin(async move { insert_integration(conn, &new).await }))
            .await
    }

    async fn get_integration(&self, id: IntegrationId) -> Result<Option<Integration>> {
        sqlx::query("SELECT * FROM integrations WHERE integration_id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<Integration>)
            .transpose()
    }

    async fn list_integrations(&self, workspace: WorkspaceId) -> Result<Vec<Integration>> {
        let rows = sqlx::query(
            "SELECT * FROM integrations WHERE workspace_id = ? ORDER BY integration_id",
        )
        .bind(workspace.to_string())
        .fetch_all(&self.reader)
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
        let row = self
            .write_row(
                sqlx::query(
                    "UPDATE integrations SET status = ?, last_error = ?, updated_at = ?
                     WHERE integration_id = ? RETURNING *",
                )
                .bind(status.to_owned())
                .bind(last_error.map(str::to_owned))
                .bind(ts(time::now()))
                .bind(id.to_string()),
            )
            .await?
            .ok_or(Error::NotFound("integration"))?;
        decode_row::<Integration>(&row)
    }

    async fn touch_integration(&self, id: IntegrationId, at: DateTime<Utc>) -> Result<()> {
        let done = self
            .write_exec(
                sqlx::query("UPDATE integrations SET last_used_at = ? WHERE integration_id = ?")
                    .bind(ts(at))
                    .bind(id.to_string()),
            )
            .await?;
        if done == 0 {
            return Err(Error::NotFound("integration"));
        }
        Ok(())
    }

    async fn create_bot(&self, bot: &NewBot) -> Result<(User, Integration)> {
        let bot = bot.clone();
        self.write(move |conn| {
            Box::pin(async move {
                static SQL: LazyLock<String> =
                    LazyLock::new(|| token_sql::insert_bot_user(param, "1"));
                let row = sqlx::query(SQL.as_str())
                    .bind(bot.user.id.to_string())
                    .bind(&bot.user.email)
                    .bind(&bot.user.username)
                    .bind(&bot.user.display_name)
                    .bind(ts(bot.user.created_at))
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(db_err)?;
                let user = decode_row::<User>(&row)?;
                insert_member(conn, &bot.member).await?;
                let integration = insert_integration(conn, &bot.integration).await?;
                if let Some(token) = &bot.token {
                    insert_token(conn, token).await?;
                }
                if let Some(membership) = &bot.channel_member {
                    insert_channel_member(conn, membership).await?;
                }
                Ok((user, integration))
            })
        })
        .await
    }

    async fn create_api_token(&self, token: &NewApiToken) -> Result<ApiToken> {
        let token = token.clone();
        self.write(move |conn| Box::pin(async move { insert_token(conn, &token).await }))
            .await
    }

    async fn get_api_token(&self, id: IntegrationId) -> Result<Option<ApiToken>> {
        sqlx::query("SELECT * FROM api_tokens WHERE token_id = ?")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<ApiToken>)
            .transpose()
    }

    async fn token_with_user(&self, hash: &str) -> Result<Option<(ApiToken, User)>> {
        static SQL: LazyLock<String> = LazyLock::new(|| token_with_user_sql("?"));
        sqlx::query(SQL.as_str())
            .bind(hash)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<(ApiToken, User)>)
            .transpose()
    }

    async fn user_api_tokens(&self, user: UserId, workspace: WorkspaceId) -> Result<Vec<ApiToken>> {
        static SQL: LazyLock<String> = LazyLock::new(|| token_sql::of_user(param));
        let rows = sqlx::query(SQL.as_str())
            .bind(user.to_string())
            .bind(workspace.to_string())
            .fetch_all(&self.reader)
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
        self.write_exec(
            sqlx::query(SQL.as_str())
                .bind(ts(at))
                .bind(id.map(|i| i.to_string()))
                .bind(integration.map(|i| i.to_string())),
        )
        .await
    }

    async fn touch_api_token(&self, token: &ApiToken, at: DateTime<Utc>) -> Result<()> {
        static SQL: LazyLock<[String; 2]> = LazyLock::new(|| token_sql::touch(param));
        let ids = [Some(token.id), token.integration_id];
        self.write(move |conn| {
            Box::pin(async move {
                for (sql, id) in SQL.iter().zip(ids) {
                    sqlx::query(sql)
                        .bind(ts(at))
                        .bind(id.map(|i| i.to_string()))
                        .execute(&mut *conn)
                        .await
                        .map_err(db_err)?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn update_integration(
        &self,
        id: IntegrationId,
        config: &serde_json::Value,
        status: &str,
        last_error: Option<&str>,
    ) -> Result<Integration> {
        static SQL: LazyLock<String> = LazyLock::new(|| delivery_sql::update_integration(param));
        let row = self
            .write_row(
                sqlx::query(SQL.as_str())
                    .bind(json_text(config))
                    .bind(status.to_owned())
                    .bind(last_error.map(str::to_owned))
                    .bind(ts(time::now()))
                    .bind(id.to_string()),
            )
            .await?
            .ok_or(Error::NotFound("integration"))?;
        decode_row::<Integration>(&row)
    }

    async fn enqueue_deliveries(&self, deliveries: &[NewEventDelivery]) -> Result<()> {
        static SQL: LazyLock<String> = LazyLock::new(|| delivery_sql::insert(param));
        let deliveries = deliveries.to_vec();
        self.write(move |conn| {
            Box::pin(async move {
                for d in &deliveries {
                    sqlx::query(SQL.as_str())
                        .bind(d.id.to_string())
                        .bind(d.integration_id.to_string())
                        .bind(&d.event_id)
                        .bind(json_text(&d.payload))
                        .bind(ts(d.created_at))
                        .execute(&mut *conn)
                        .await
                        .map_err(db_err)?;
                }
                Ok(())
            })
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EventDelivery>> {
        static SQL: LazyLock<String> = LazyLock::new(|| delivery_sql::claim(param, ""));
        let mut claimed = self
            .write(move |conn| {
                Box::pin(async move {
                    let rows = sqlx::query(SQL.as_str())
                        .bind(ts(lease_until))
                        .bind(ts(now))
                        .bind(i64::from(limit))
                        .fetch_all(&mut *conn)
                        .await
                        .map_err(db_err)?;
                    rows.iter()
                        .map(decode_row::<EventDelivery>)
                        .collect::<Result<Vec<_>>>()
                })
            })
            .await?;
        claimed.sort_by_key(|d| (d.created_at, d.id));
        Ok(claimed)
    }

    async fn finish_delivery(&self, id: IntegrationId, update: &DeliveryUpdate) -> Result<()> {
        static SQL: LazyLock<String> = LazyLock::new(|| delivery_sql::finish(param));
        self.write_exec(
            sqlx::query(SQL.as_str())
                .bind(update.status.clone())
                .bind(update.attempts)
                .bind(ts(update.next_attempt_at))
                .bind(update.last_error.clone())
                .bind(update.delivered_at.map(ts))
                .bind(id.to_string()),
        )
        .await?;
        Ok(())
    }

    async fn recent_deliveries(
        &self,
        integration: IntegrationId,
        limit: u32,
    ) -> Result<Vec<EventDelivery>> {
        static SQL: LazyLock<String> = LazyLock::new(|| delivery_sql::recent(param));
        let rows = sqlx::query(SQL.as_str())
            .bind(integration.to_string())
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<EventDelivery>).collect()
    }
}
