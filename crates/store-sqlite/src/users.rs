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
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite};

use crate::{db_err, decode_row, json_text, ts, SqliteStore};

impl SqliteStore {
    async fn user_where(&self, clause: &str, value: String) -> Result<Option<User>> {
        let sql = format!("SELECT * FROM users WHERE {clause}");
        sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .as_ref()
            .map(decode_row::<User>)
            .transpose()
    }

    /// Run `UPDATE users SET <assignments> WHERE user_id = ?`; NotFound if no row.
    async fn update_user(
        &self,
        id: UserId,
        assign: impl FnOnce(&mut QueryBuilder<'static, Sqlite>),
    ) -> Result<SqliteRow> {
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE users SET updated_at = ");
        q.push_bind(ts(time::now()));
        assign(&mut q);
        q.push(" WHERE user_id = ")
            .push_bind(id.to_string())
            .push(" RETURNING *");
        self.write_built(q).await?.ok_or(Error::NotFound("user"))
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: &NewUser) -> Result<User> {
        let query = sqlx::query(
            "INSERT INTO users (user_id, email, username, display_name, password_hash, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
        )
        .bind(user.id.to_string())
        .bind(user.email.clone())
        .bind(user.username.clone())
        .bind(user.display_name.clone())
        .bind(user.password_hash.clone())
        .bind(ts(user.created_at))
        .bind(ts(user.created_at));
        let row = self
            .write_row(query)
            .await?
            .ok_or(Error::NotFound("user"))?;
        decode_row::<User>(&row)
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>> {
        self.user_where("user_id = ?", id.to_string()).await
    }

    async fn get_users(&self, ids: &[UserId]) -> Result<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM users WHERE user_id IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id.to_string());
        }
        q.push(")");
        let rows = q.build().fetch_all(&self.reader).await.map_err(db_err)?;
        rows.iter().map(decode_row::<User>).collect()
    }

    async fn scan_users(&self, after: Option<UserId>, limit: u32) -> Result<Vec<User>> {
        let rows = sqlx::query(
            "SELECT * FROM users WHERE ?1 IS NULL OR user_id > ?1 ORDER BY user_id LIMIT ?2",
        )
        .bind(after.map(|id| id.to_string()))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(decode_row::<User>).collect()
    }

    async fn count_users(&self) -> Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(count as u64)
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<User>> {
        self.user_where("lower(email) = lower(?)", email.to_owned())
            .await
    }

    async fn find_user_by_username(&self, username: &str) -> Result<Option<User>> {
        self.user_where("lower(username) = lower(?)", username.to_owned())
            .await
    }

    async fn find_users_by_usernames(&self, usernames: &[String]) -> Result<Vec<User>> {
        if usernames.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM users WHERE lower(username) IN (");
        let mut list = q.separated(", ");
        for name in usernames {
            list.push_bind(name.to_lowercase());
        }
        q.push(")");
        let rows = q.build().fetch_all(&self.reader).await.map_err(db_err)?;
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
                    q.push(", notification_settings = ").push_bind(json_text(v));
                }
                if let Some(v) = &update.theme_preferences {
                    q.push(", theme_preferences = ").push_bind(json_text(v));
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
            q.push(", last_login_at = ").push_bind(ts(at));
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
            insert_single_use_token_sql("email_verifications", |n| format!("?{n}"))
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
            LazyLock::new(|| email_verification_sql(|n| format!("?{n}")));
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
            LazyLock::new(|| insert_single_use_token_sql("password_resets", |n| format!("?{n}")));
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
            LazyLock::new(|| password_reset_sql(|n| format!("?{n}")));
        self.use_token(&SQL, token_hash, at, Some(password_hash.to_owned()))
            .await
    }
}

impl SqliteStore {
    /// Keep a single-use token with `insert` (see `insert_single_use_token_sql`).
    async fn keep_token(
        &self,
        insert: &'static str,
        user: UserId,
        token_hash: &str,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        let query = sqlx::query(insert)
            .bind(token_hash.to_owned())
            .bind(user.to_string())
            .bind(ts(at))
            .bind(ts(expires_at));
        self.write_row(query).await.map(drop)
    }

    /// Use a single-use token with `sql` (see `single_use_token_sql`),
    /// binding `value` as the change's own value.
    async fn use_token(
        &self,
        sql: &'static [String; 3],
        token_hash: &str,
        at: DateTime<Utc>,
        value: Option<String>,
    ) -> Result<Option<User>> {
        let token_hash = token_hash.to_owned();
        self.write(move |conn| {
            Box::pin(async move {
                let [take, forget, change] = sql;
                let used: Option<(String, String)> = sqlx::query_as(take)
                    .bind(token_hash)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?;
                // Timestamps are stored in one fixed format: text order is time order.
                let Some((user, _)) = used.filter(|(_, expires_at)| *expires_at > ts(at)) else {
                    return Ok(None);
                };
                sqlx::query(forget)
                    .bind(&user)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_err)?;
                let mut update = sqlx::query(change).bind(&user).bind(ts(at));
                if let Some(value) = value {
                    update = update.bind(value);
                }
                let row = update.fetch_one(&mut *conn).await.map_err(db_err)?;
                decode_row::<User>(&row).map(Some)
            })
        })
        .await
    }
}
