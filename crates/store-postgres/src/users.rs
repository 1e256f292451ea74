use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use confab_core::columns::{
    email_verification_sql, insert_single_use_token_sql, password_reset_sql,
};
use confab_core::id::UserId;
use confab_core::model::{NewUser, ProfileUpdate, User, UserStatus};
use confab_core::ports::UserStore;
use confab_core::{time, Error, Result};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use crate::{db_err, decode_row, PostgresStore};

impl PostgresStore {
    async fn user_where(&self, clause: &str, value: String) -> Result<Option<User>> {
        let sql = format!("SELECT * FROM users WHERE {clause}");
        sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<User>)
            .transpose()
    }

    /// Run `UPDATE users SET <assignments> WHERE user_id = $n`; NotFound if no row.
    async fn update_user(
        &self,
        id: UserId,
        assign: impl FnOnce(&mut QueryBuilder<'_, Postgres>),
    ) -> Result<PgRow> {
        let mut q = QueryBuilder::<Postgres>::new("UPDATE users SET updated_at = ");
        q.push_bind(time::now());
        assign(&mut q);
        q.push(" WHERE user_id = ")
            .push_bind(id.0)
            .push(" RETURNING *");
        q.build()
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .ok_or(Error::NotFound("user"))
    }
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn create_user(&self, user: &NewUser) -> Result<User> {
        let row = sqlx::query(
            "INSERT INTO users (user_id, email, username, display_name, password_hash, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING *",
        )
        .bind(user.id.0)
        .bind(&user.email)
        .bind(&user.username)
        .bind(&user.display_name)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        decode_row::<User>(&row)
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE user_id = $1")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<User>)
            .transpose()
    }

    async fn get_users(&self, ids: &[UserId]) -> Result<Vec<User>> {
        let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
        let rows = sqlx::query("SELECT * FROM users WHERE user_id = ANY($1)")
            .bind(&ids)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<User>).collect()
    }

    async fn scan_users(&self, after: Option<UserId>, limit: u32) -> Result<Vec<User>> {
        let rows = sqlx::query(
            "SELECT * FROM users WHERE $1::uuid IS NULL OR user_id > $1 ORDER BY user_id LIMIT $2",
        )
        .bind(after.map(|id| id.0))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(decode_row::<User>).collect()
    }

    async fn count_users(&self) -> Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(count as u64)
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        self.user_where("lower(email) = lower($1)", email.to_owned())
            .await
    }

    async fn find_user_by_username(&self, username: &str) -> Result<Option<User>> {
        self.user_where("lower(username) = lower($1)", username.to_owned())
            .await
    }

    async fn find_users_by_usernames(&self, usernames: &[String]) -> Result<Vec<User>> {
        let lowered: Vec<String> = usernames.iter().map(|n| n.to_lowercase()).collect();
        let rows = sqlx::query("SELECT * FROM users WHERE lower(username) = ANY($1)")
            .bind(&lowered)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(decode_row::<User>).collect()
    }

    async fn update_profile(&self, id: UserId, update: &ProfileUpdate) -> Result<User> {
        let row = self
            .update_user(id, |q| {
                if let Some(v) = &update.display_name {
                    q.push(", display_name = ").push_bind(v.clone());
                }
                if let Some(v) = &update.avatar_url {
                    q.push(", avatar_url = ").push_bind(v.clone());
                }
                if let Some(v) = &update.timezone {
                    q.push(", timezone = ").push_bind(v.clone());
                }
                if let Some(v) = &update.title {
                    q.push(", title = ").push_bind(v.clone());
                }
                if let Some(v) = &update.phone {
                    q.push(", phone = ").push_bind(v.clone());
                }
                if let Some(v) = &update.bio {
                    q.push(", bio = ").push_bind(v.clone());
                }
                if let Some(v) = &update.pronouns {
                    q.push(", pronouns = ").push_bind(v.clone());
                }
                if let Some(v) = &update.notification_settings {
                    q.push(", notification_settings = ").push_bind(v.clone());
                }
                if let Some(v) = &update.theme_preferences {
                    q.push(", theme_preferences = ").push_bind(v.clone());
                }
                if let Some(v) = &update.language {
                    q.push(", language = ").push_bind(v.clone());
                }
            })
            .await?;
        decode_row::<User>(&row)
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> Result<()> {
        let hash = hash.to_owned();
        self.update_user(id, |q| {
            q.push(", password_hash = ").push_bind(hash);
        })
        .await
        .map(drop)
    }

    async fn set_mfa(&self, id: UserId, enabled: bool, secret: Option<&str>) -> Result<()> {
        let secret = secret.map(str::to_owned);
        self.update_user(id, |q| {
            q.push(", mfa_enabled = ").push_bind(enabled);
            q.push(", mfa_secret = ").push_bind(secret);
        })
        .await
        .map(drop)
    }

    async fn set_user_status(&self, id: UserId, status: UserStatus) -> Result<()> {
        self.update_user(id, |q| {
            q.push(", status = ").push_bind(status.as_str());
        })
        .await
        .map(drop)
    }

    async fn record_login(&self, id: UserId, at: DateTime<Utc>) -> Result<()> {
        self.update_user(id, |q| {
            q.push(", last_login_at = ").push_bind(at);
        })
        .await
        .map(drop)
    }

    async fn create_email_verification(
        &self,
        user: UserId,
        token_hash: &str,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            insert_single_use_token_sql("email_verifications", |n| format!("${n}"))
        });
        self.keep_token(&SQL, user, token_hash, at, expires_at)
            .await
    }

    async fn use_email_verification(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<User>> {
        static SQL: LazyLock<[String; 3]> =
            LazyLock::new(|| email_verification_sql(|n| format!("${n}")));
        self.use_token(&SQL, token_hash, at, None).await
    }

    async fn create_password_reset(
        &self,
        user: UserId,
        token_hash: &str,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        static SQL: LazyLock<String> =
            LazyLock::new(|| insert_single_use_token_sql("password_resets", |n| format!("${n}")));
        self.keep_token(&SQL, user, token_hash, at, expires_at)
            .await
    }

    async fn use_password_reset(
        &self,
        token_hash: &str,
        at: DateTime<Utc>,
        password_hash: &str,
    ) -> Result<Option<User>> {
        static SQL: LazyLock<[String; 3]> =
            LazyLock::new(|| password_reset_sql(|n| format!("${n}")));
        self.use_token(&SQL, token_hash, at, Some(password_hash))
            .await
    }
}

impl PostgresStore {
    /// Keep a single-use token with `insert` (see `insert_single_use_token_sql`).
    async fn keep_token(
        &self,
        insert: &str,
        user: UserId,
        token_hash: &str,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(insert)
            .bind(token_hash)
            .bind(user.0)
            .bind(at)
            .bind(expires_at)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Use a single-use token with `sql` (see `single_use_token_sql`),
    /// binding `value` as the change's own value.
    async fn use_token(
        &self,
        sql: &[String; 3],
        token_hash: &str,
        at: DateTime<Utc>,
        value: Option<&str>,
    ) -> Result<Option<User>> {
        let [take, forget, change] = sql;
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let used: Option<(Uuid, DateTime<Utc>)> = sqlx::query_as(take)
            .bind(token_hash)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?;
        let user = match used {
            Some((user, expires_at)) if expires_at > at => {
                sqlx::query(forget)
                    .bind(user)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                let mut update = sqlx::query(change).bind(user).bind(at);
                if let Some(value) = value {
                    update = update.bind(value);
                }
                let row = update.fetch_one(&mut *tx).await.map_err(db_err)?;
                Some(decode_row::<User>(&row)?)
            }
            _ => None,
        };
        tx.commit().await.map_err(db_err)?;
        Ok(user)
    }
}
