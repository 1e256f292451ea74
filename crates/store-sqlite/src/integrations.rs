use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::id::{IntegrationId, WorkspaceId};
use confab_core::model::*;
use confab_core::ports::IntegrationStore;
use confab_core::{time, Error, Result};

use crate::{db_err, decode_row, json_text, ts, SqliteStore};

#[async_trait]
impl IntegrationStore for SqliteStore {
    async fn create_integration(&self, new: &NewIntegration) -> Result<Integration> {
        let row = self
            .write_row(
                sqlx::query(
                    "INSERT INTO integrations
               (integration_id, workspace_id, app_name, app_id, integration_type, config,
                credentials, scopes, channel_id, installed_by, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *",
                )
                .bind(new.id.to_string())
                .bind(new.workspace_id.to_string())
                .bind(new.app_name.clone())
                .bind(new.app_id.clone())
                .bind(new.integration_type.clone())
                .bind(json_text(&new.config))
                .bind(new.credentials.as_ref().map(json_text))
                .bind(serde_json::to_string(&new.scopes).map_err(Error::internal)?)
                .bind(new.channel_id.map(|c| c.to_string()))
                .bind(new.installed_by.to_string())
                .bind(ts(new.created_at))
                .bind(ts(new.created_at)),
            )
            .await?
            .ok_or(Error::Internal("the write returned no row".into()))?;
        decode_row::<Integration>(&row)
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
}
