//! `homeward keys rewrap|check`: the person vault's key-encryption key, rotated without
//! touching a record (see `homeward_activities::vault`).

use anyhow::Context;
use secrecy::ExposeSecret;

use homeward_activities::CaseStore;
use homeward_activities::vault::Vault;

use crate::cli::KeysCommand;
use crate::keys::{Keys, vault_start_error};
use crate::settings::Settings;

/// Runs a `homeward keys` command.
pub async fn run(settings: &Settings, command: KeysCommand) -> anyhow::Result<()> {
    let keys = Keys::from_settings(settings)?;
    let store = CaseStore::connect(settings.database.url.expose_secret(), 1)
        .await
        .context("failed to open the case store (database.url)")?;
    store.migrate().await.context("failed to migrate")?;
    let vault = Vault::new(store, keys.kek.clone(), keys.index.clone());
    match command {
        KeysCommand::Check => {
            vault.check_keys().await.map_err(vault_start_error)?;
            println!("the configured keys open every stored data key");
        }
        KeysCommand::Rewrap => {
            vault.check_keys().await.map_err(vault_start_error)?;
            let n = vault.rewrap_all().await.map_err(vault_start_error)?;
            println!(
                "re-wrapped {n} data key(s) with the current keys.kek; the previous keys may go"
            );
        }
    }
    Ok(())
}
