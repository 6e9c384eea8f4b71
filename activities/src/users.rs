//! Users and their API keys, in the case store. A key is 256 random bits shown once and stored
//! only as its SHA-256; it can expire, be revoked (refused from the next request on: nothing is
//! cached) or rotated (a new key, the old ones revoked), and records when it was last used.

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use homeward_workflows::domain::CountryCode;
use homeward_workflows::tasks::Role;

use crate::store::{CaseStore, StoreError, format_ts, parse_ts};

/// A user of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// A random identifier (not the name).
    pub id: String,
    /// The display name.
    pub name: String,
    /// One of the roles in DOMAIN.md.
    pub role: String,
    /// The office (host country) whose cases the user sees; for a partner, the office that
    /// hands cases over to them. Absent only for auditors and admins.
    pub office: Option<String>,
    /// For a partner: the country of origin they work in.
    pub country: Option<String>,
    /// A supervisor of their office (assigns tasks, sees colleagues' work).
    pub supervisor: bool,
}

/// A user to create: the scope rule (`homeward_workflows::tasks::check_user_scope`) has been
/// applied by the caller.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Display name.
    pub name: &'a str,
    /// Role.
    pub role: Role,
    /// Office (host country).
    pub office: Option<&'a CountryCode>,
    /// Country of origin (partners).
    pub country: Option<&'a CountryCode>,
    /// A supervisor of the office (not for partners, auditors or admins).
    pub supervisor: bool,
}

/// One API key as `homeward user list` shows it: never the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's first characters (`hwk_…`), to tell keys apart.
    pub prefix: String,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A user from a row with the columns id, name, role, office, country and supervisor.
pub(crate) fn user_of(row: &sqlx::any::AnyRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: row.try_get("role")?,
        office: row.try_get("office")?,
        country: row.try_get("country")?,
        supervisor: row.try_get::<i64, _>("supervisor")? != 0,
    })
}

fn hash_key(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("hwk_{}", hex::encode(bytes))
}

fn opt_ts(column: &'static str, raw: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    raw.map(|r| parse_ts(column, &r)).transpose()
}

/// How stale `last_used_at` may get before a request writes it again (one write a minute per
/// key, not one per request).
const LAST_USED_RESOLUTION: chrono::Duration = chrono::Duration::seconds(60);

impl CaseStore {
    /// Creates a user and their first API key (expiring at `expires_at`, if given). Returns the
    /// user and the key's secret, which is stored only as a hash and cannot be shown again.
    pub async fn create_user(
        &self,
        new: &NewUser<'_>,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(User, String), StoreError> {
        let mut id_bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut id_bytes);
        let user = User {
            id: format!("u-{}", hex::encode(id_bytes)),
            name: new.name.to_owned(),
            role: new.role.as_str().to_owned(),
            office: new.office.map(|c| c.as_str().to_owned()),
            country: new.country.map(|c| c.as_str().to_owned()),
            supervisor: new.supervisor,
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO users (id, name, role, office, country, supervisor, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&user.id)
        .bind(&user.name)
        .bind(&user.role)
        .bind(user.office.as_deref())
        .bind(user.country.as_deref())
        .bind(i64::from(user.supervisor))
        .bind(format_ts(now))
        .execute(&mut *tx)
        .await?;
        let secret = insert_key(&mut tx, &user.id, expires_at, now).await?;
        tx.commit().await?;
        Ok((user, secret))
    }

    /// The user an API key belongs to, if the key exists, is not revoked and has not expired.
    /// Records the key's use (at most once a minute).
    pub async fn authenticate(
        &self,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError> {
        let hash = hash_key(secret);
        let row = sqlx::query(
            "SELECT u.id, u.name, u.role, u.office, u.country, u.supervisor, k.expires_at, \
             k.last_used_at \
             FROM api_keys k JOIN users u ON u.id = k.user_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
        )
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let expires = opt_ts("api_keys.expires_at", row.try_get("expires_at")?)?;
        if expires.is_some_and(|e| e <= now) {
            return Ok(None);
        }
        let last_used = opt_ts("api_keys.last_used_at", row.try_get("last_used_at")?)?;
        if last_used.is_none_or(|t| now - t >= LAST_USED_RESOLUTION) {
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE key_hash = $2")
                .bind(format_ts(now))
                .bind(&hash)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(user_of(&row)?))
    }

    /// One user, by id.
    pub async fn get_user(&self, id: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, role, office, country, supervisor FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(user_of(&row)?))
    }

    /// Every user with their keys, oldest first.
    pub async fn list_users(&self) -> Result<Vec<(User, Vec<KeyInfo>)>, StoreError> {
        let users = sqlx::query(
            "SELECT id, name, role, office, country, supervisor FROM users \
             ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        let keys = sqlx::query(
            "SELECT user_id, prefix, created_at, expires_at, last_used_at, revoked_at \
             FROM api_keys ORDER BY created_at",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(users.len());
        for row in users {
            let user = user_of(&row)?;
            let mut mine = Vec::new();
            for k in keys.iter() {
                if k.try_get::<String, _>("user_id")? != user.id {
                    continue;
                }
                mine.push(KeyInfo {
                    prefix: k.try_get("prefix")?,
                    created_at: parse_ts(
                        "api_keys.created_at",
                        &k.try_get::<String, _>("created_at")?,
                    )?,
                    expires_at: opt_ts("api_keys.expires_at", k.try_get("expires_at")?)?,
                    last_used_at: opt_ts("api_keys.last_used_at", k.try_get("last_used_at")?)?,
                    revoked_at: opt_ts("api_keys.revoked_at", k.try_get("revoked_at")?)?,
                });
            }
            out.push((user, mine));
        }
        Ok(out)
    }

    /// Revokes every live key of a user; how many. A revoked key is refused from the next
    /// request on.
    pub async fn revoke_keys(&self, user_id: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(format_ts(now))
        .bind(user_id)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Issues a user a new key and revokes their others, at once; the new key's secret.
    /// `None` if there is no such user.
    pub async fn rotate_key(
        &self,
        user_id: &str,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT id FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            return Ok(None);
        }
        sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(format_ts(now))
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        let secret = insert_key(&mut tx, user_id, expires_at, now).await?;
        tx.commit().await?;
        Ok(Some(secret))
    }
}

async fn insert_key(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<String, StoreError> {
    let secret = new_secret();
    sqlx::query(
        "INSERT INTO api_keys (key_hash, prefix, user_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(hash_key(&secret))
    .bind(&secret[..12])
    .bind(user_id)
    .bind(format_ts(now))
    .bind(expires_at.map(format_ts))
    .execute(&mut **tx)
    .await?;
    Ok(secret)
}
