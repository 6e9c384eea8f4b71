//! `homeward user …`: users and their API keys, straight in the case store (this is how the
//! first admin and every key come to exist). Keys are printed once and stored only as hashes.

use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;

use homeward_activities::CaseStore;
use homeward_activities::users::NewUser;
use homeward_workflows::domain::CountryCode;
use homeward_workflows::tasks::{Role, check_user_scope};

use crate::cli::UserCommand;
use crate::settings::Settings;

async fn store(settings: &Settings) -> anyhow::Result<CaseStore> {
    let store = CaseStore::connect(settings.database.url.expose_secret(), 1)
        .await
        .context("failed to open the case store (database.url)")?;
    store.migrate().await.context("failed to migrate")?;
    Ok(store)
}

fn expiry(d: Option<Duration>) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    d.map(|d| {
        chrono::Duration::from_std(d)
            .ok()
            .and_then(|d| chrono::Utc::now().checked_add_signed(d))
            .context("--expires-in is too far in the future")
    })
    .transpose()
}

/// The first line of standard input: a password is never an argument (`ps` shows those).
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("--password: cannot read standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    homeward_activities::accounts::hash_password(&password)
        .map_err(|e| anyhow::anyhow!("--password: {e}"))?;
    Ok(password)
}

/// Runs a `homeward user` command.
pub async fn run(settings: &Settings, command: UserCommand) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    match command {
        UserCommand::Create {
            name,
            role,
            office,
            country,
            supervisor,
            expires_in,
            username,
            password,
            oidc_subject,
        } => {
            let issuer = oidc_subject
                .as_ref()
                .map(|_| oidc_issuer(settings))
                .transpose()?;
            let role = Role::from(role);
            check_user_scope(role, office.is_some(), country.is_some())
                .map_err(|e| anyhow::anyhow!("--{e}"))?;
            if supervisor && !matches!(role, Role::ReturnOfficer | Role::Operations | Role::Finance)
            {
                anyhow::bail!(
                    "--supervisor: only return officers, operations and finance supervise an office"
                );
            }
            let office = office
                .map(|o| CountryCode::parse_field(&o, "office"))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--{e}"))?;
            let country = country
                .map(|c| CountryCode::parse_field(&c, "country"))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--{e}"))?;
            if name.trim().is_empty() {
                anyhow::bail!("--name must not be empty");
            }
            let expires_at = expiry(expires_in)?;
            let password = password.then(read_password).transpose()?;
            let new = NewUser {
                name: name.trim(),
                role,
                office: office.as_ref(),
                country: country.as_ref(),
                supervisor,
            };
            let store = store(settings).await?;
            if let (Some(issuer), Some(subject)) = (&issuer, &oidc_subject)
                && store.oidc_subject_holder(issuer, subject).await?.is_some()
            {
                anyhow::bail!("--oidc-subject: is already linked to another user");
            }
            let (user, key) = store
                .create_user(&new, expires_at, now)
                .await
                .context("failed to create the user")?;
            if let (Some(username), Some(password)) = (&username, &password) {
                store
                    .set_credentials(&user.id, username.trim(), password)
                    .await
                    .map_err(|e| anyhow::anyhow!("--{e}"))?;
            }
            if let (Some(issuer), Some(subject)) = (&issuer, &oidc_subject) {
                store
                    .link_oidc(&user.id, issuer, subject)
                    .await
                    .map_err(|e| anyhow::anyhow!("--{e}"))?;
            }
            println!("user:    {}", user.id);
            println!("role:    {}", user.role);
            println!("office:  {}", user.office.as_deref().unwrap_or("(all)"));
            if user.supervisor {
                println!("supervisor of the office");
            }
            if let Some(c) = &user.country {
                println!("country: {c}");
            }
            if let Some(e) = expires_at {
                println!("expires: {}", e.format("%Y-%m-%d %H:%M UTC"));
            }
            if let Some(username) = &username {
                println!("sign in: {} (web interface)", username.trim());
            }
            if let Some(subject) = &oidc_subject {
                println!(
                    "sign in: {} at {} (OpenID Connect)",
                    subject.trim(),
                    issuer.as_deref().unwrap_or_default()
                );
            }
            println!("API key: {key}");
            println!("Keep the key now: it is stored only as a hash and cannot be shown again.");
        }
        UserCommand::Password { user, username } => {
            let password = read_password()?;
            store(settings)
                .await?
                .set_credentials(&user, username.trim(), &password)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{user} signs in as {}", username.trim());
        }
        UserCommand::LinkOidc { user, subject } => {
            let issuer = oidc_issuer(settings)?;
            store(settings)
                .await?
                .link_oidc(&user, &issuer, &subject)
                .await
                .map_err(|e| anyhow::anyhow!("--{e}"))?;
            println!("{user} signs in at {issuer} as {}", subject.trim());
        }
        UserCommand::Deactivate { user } => {
            if !store(settings).await?.deactivate_user(&user, now).await? {
                anyhow::bail!("user: no active user {user}");
            }
            println!("{user} deactivated: sessions ended, keys revoked");
        }
        UserCommand::List => {
            let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "-".into())
            };
            println!("USER  ROLE  OFFICE  COUNTRY  NAME");
            for (user, keys) in store(settings).await?.list_users().await? {
                println!(
                    "{}  {}{}  {}  {}  {}",
                    user.id,
                    user.role,
                    if user.supervisor { " (supervisor)" } else { "" },
                    user.office.as_deref().unwrap_or("(all)"),
                    user.country.as_deref().unwrap_or("-"),
                    user.name
                );
                for k in keys {
                    println!(
                        "    key {}…  created {}  expires {}  last used {}  revoked {}",
                        k.prefix,
                        when(Some(k.created_at)),
                        when(k.expires_at),
                        when(k.last_used_at),
                        when(k.revoked_at)
                    );
                }
            }
        }
        UserCommand::Revoke { user } => {
            let n = store(settings).await?.revoke_keys(&user, now).await?;
            if n == 0 {
                anyhow::bail!("user {user:?} has no live key (or does not exist)");
            }
            println!("revoked {n} key(s) of {user}; they are refused from now on");
        }
        UserCommand::Rotate { user, expires_in } => {
            let expires_at = expiry(expires_in)?;
            let Some(key) = store(settings)
                .await?
                .rotate_key(&user, expires_at, now)
                .await?
            else {
                anyhow::bail!("no user {user:?}");
            };
            println!("API key: {key}");
            println!("The user's other keys are revoked. Keep this one now: it is shown once.");
        }
    }
    Ok(())
}

/// The configured OpenID Connect issuer users are linked under.
fn oidc_issuer(settings: &Settings) -> anyhow::Result<String> {
    settings
        .web
        .oidc
        .as_ref()
        .map(|o| o.issuer.clone())
        .ok_or_else(|| {
            anyhow::anyhow!("key web.oidc.issuer: no OpenID Connect provider is configured")
        })
}
