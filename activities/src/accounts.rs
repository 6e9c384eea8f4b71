//! People signing in to the web interface: usernames and passwords (argon2id hashes, RustCrypto
//! `argon2`), a lock-out after repeated failures, and server-side sessions. A session's cookie
//! token is stored only as its SHA-256 hash; each session carries its own CSRF token, which every
//! form posts back. API keys (`users.rs`) remain for machines.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::store::{CaseStore, StoreError, format_ts, parse_ts};
use crate::users::{User, user_of};

/// Consecutive failed sign-ins that lock an account.
pub const MAX_FAILED_SIGN_INS: i64 = 5;
/// How long a locked account stays locked.
pub const LOCK_OUT: Duration = Duration::minutes(15);
/// How long a session lasts from sign-in.
pub const SESSION_LIFETIME: Duration = Duration::hours(10);
/// The shortest password accepted (NCSC and NIST SP 800-63B: length over composition rules).
pub const MIN_PASSWORD_CHARS: usize = 12;

/// What a sign-in attempt came to.
#[derive(Debug)]
pub enum SignIn {
    /// The password was right: the user.
    Accepted(Box<User>),
    /// Unknown username, no password set, deactivated, or the wrong password (one answer for
    /// all, so the page does not tell which usernames exist).
    Refused,
    /// Too many failures: locked until then.
    Locked(DateTime<Utc>),
}

/// A signed-in session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The user.
    pub user: User,
    /// The CSRF token every form of this session must post back.
    pub csrf: String,
    /// The user's interface language (ISO 639-1).
    pub language: String,
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// An argon2id hash (PHC string) of `password`.
pub fn hash_password(password: &str) -> Result<String, String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).ok().is_some_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A hash no password matches, verified for unknown usernames so that they take as long.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$\
                     1D1B7tBXKPE6yQYydhSxRgwlThc5fcJdRuEFMGgGKlU";

impl CaseStore {
    /// Gives a user a username (unique) and a password; the password is stored as an argon2id
    /// hash and unlocks the account.
    pub async fn set_credentials(
        &self,
        user_id: &str,
        username: &str,
        password: &str,
    ) -> Result<(), StoreError> {
        let hash = hash_password(password).map_err(|problem| StoreError::Invalid {
            field: "password",
            problem,
        })?;
        let updated = sqlx::query(
            "UPDATE users SET username = $1, password_hash = $2, failed_sign_ins = 0, \
             locked_until = NULL WHERE id = $3",
        )
        .bind(username)
        .bind(hash)
        .bind(user_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(StoreError::Invalid {
                field: "user",
                problem: format!("no user {user_id}"),
            });
        }
        Ok(())
    }

    /// Links a user to their subject at an OpenID Connect provider: they may then sign in
    /// through it. A subject belongs to one user at most.
    pub async fn link_oidc(
        &self,
        user_id: &str,
        issuer: &str,
        subject: &str,
    ) -> Result<(), StoreError> {
        let subject = subject.trim();
        if subject.is_empty() || subject.len() > 255 {
            return Err(StoreError::Invalid {
                field: "oidc-subject",
                problem: "must be the provider's subject identifier (1 to 255 characters)".into(),
            });
        }
        if self
            .oidc_subject_holder(issuer, subject)
            .await?
            .is_some_and(|holder| holder != user_id)
        {
            return Err(StoreError::Invalid {
                field: "oidc-subject",
                problem: "is already linked to another user".into(),
            });
        }
        let updated =
            sqlx::query("UPDATE users SET oidc_issuer = $1, oidc_subject = $2 WHERE id = $3")
                .bind(issuer)
                .bind(subject)
                .bind(user_id)
                .execute(&self.pool)
                .await?
                .rows_affected();
        if updated == 0 {
            return Err(StoreError::Invalid {
                field: "user",
                problem: format!("no user {user_id}"),
            });
        }
        Ok(())
    }

    /// The user (active or not) a subject at `issuer` is linked to, if any.
    pub async fn oidc_subject_holder(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query("SELECT id FROM users WHERE oidc_issuer = $1 AND oidc_subject = $2")
                .bind(issuer)
                .bind(subject.trim())
                .fetch_optional(&self.pool)
                .await?
                .map(|row| row.try_get::<String, _>("id"))
                .transpose()?,
        )
    }

    /// The active user linked to `subject` at `issuer`, if any.
    pub async fn oidc_user(&self, issuer: &str, subject: &str) -> Result<Option<User>, StoreError> {
        sqlx::query(
            "SELECT id, name, role, office, country, supervisor FROM users \
             WHERE oidc_issuer = $1 AND oidc_subject = $2 AND deactivated_at IS NULL",
        )
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| user_of(&row))
        .transpose()
    }

    /// Whether a username is taken.
    pub async fn username_taken(&self, username: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT id FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Sets a user's interface language (ISO 639-1, checked by the caller).
    pub async fn set_language(&self, user_id: &str, language: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET language = $1 WHERE id = $2")
            .bind(language)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Checks a username and password. Counts failures; the fifth in a row locks the account
    /// for [`LOCK_OUT`]; a success resets the count.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        now: DateTime<Utc>,
    ) -> Result<SignIn, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, role, office, country, supervisor, password_hash, \
             failed_sign_ins, locked_until, deactivated_at FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            verify(password, DECOY);
            return Ok(SignIn::Refused);
        };
        let locked = row
            .try_get::<Option<String>, _>("locked_until")?
            .map(|t| parse_ts("users.locked_until", &t))
            .transpose()?;
        if let Some(until) = locked.filter(|u| *u > now) {
            return Ok(SignIn::Locked(until));
        }
        let hash: Option<String> = row.try_get("password_hash")?;
        let active = row
            .try_get::<Option<String>, _>("deactivated_at")?
            .is_none();
        let user = user_of(&row)?;
        if active && verify(password, hash.as_deref().unwrap_or(DECOY)) && hash.is_some() {
            sqlx::query("UPDATE users SET failed_sign_ins = 0, locked_until = NULL WHERE id = $1")
                .bind(&user.id)
                .execute(&self.pool)
                .await?;
            return Ok(SignIn::Accepted(Box::new(user)));
        }
        let failures = row.try_get::<i64, _>("failed_sign_ins")? + 1;
        let lock = (failures >= MAX_FAILED_SIGN_INS).then(|| now + LOCK_OUT);
        sqlx::query("UPDATE users SET failed_sign_ins = $1, locked_until = $2 WHERE id = $3")
            .bind(if lock.is_some() { 0 } else { failures })
            .bind(lock.map(format_ts))
            .bind(&user.id)
            .execute(&self.pool)
            .await?;
        Ok(match lock {
            Some(until) => SignIn::Locked(until),
            None => SignIn::Refused,
        })
    }

    /// Starts a session; the cookie token (shown once, stored hashed).
    pub async fn start_session(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let token = random_hex();
        sqlx::query(
            "INSERT INTO web_sessions (token_hash, user_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash(&token))
        .bind(user_id)
        .bind(random_hex())
        .bind(format_ts(now))
        .bind(format_ts(now + SESSION_LIFETIME))
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// The session of a cookie token, unless it expired or its user was deactivated.
    pub async fn session(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.role, u.office, u.country, u.supervisor, u.language, \
             s.csrf, s.expires_at FROM web_sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND u.deactivated_at IS NULL",
        )
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let expires = parse_ts(
            "web_sessions.expires_at",
            &row.try_get::<String, _>("expires_at")?,
        )?;
        if expires <= now {
            return Ok(None);
        }
        Ok(Some(Session {
            user: user_of(&row)?,
            csrf: row.try_get("csrf")?,
            language: row.try_get("language")?,
        }))
    }

    /// Ends a session (sign-out).
    pub async fn end_session(&self, token: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Deactivates a user: no sign-in, no session, no API key from now on.
    pub async fn deactivate_user(
        &self,
        user_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE users SET deactivated_at = $1 WHERE id = $2 AND deactivated_at IS NULL",
        )
        .bind(format_ts(now))
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
        )
        .bind(format_ts(now))
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(n == 1)
    }
}
