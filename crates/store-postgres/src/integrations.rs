use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::id::{IntegrationId, WorkspaceId};
use confab_core::model::*;
use confab_core::ports::IntegrationStore;
use confab_core::{time, Error, Result};

use crate::{db_err, decode_row, json_value, PostgresStore};

#[async_trait]
impl IntegrationStore for PostgresStore {
    async fn create_integration(&self, new: &NewIntegration) -> Result<Integration> {
        let row = sqlx::query(
            "INSERT INTO integrations
               (integration_id, workspace_id, app_name, app_id, integration_type, config,
                credentials, scopes, channel_id, installed_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *",
        )
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
        .bind(new.created_at)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        decode_row::<Integration>(&row)
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
}
