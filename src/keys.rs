//! Secret keys from configuration (`[keys]`): each 32 random bytes written as 64 hex characters,
//! set in production from the environment (`HOMEWARD_KEYS__DECISIONS=…`) or a secrets file.
//! `homeward dev` creates any that is missing under `keys.dir` (mode 0600) and reuses it on the
//! next start; `homeward api` and `homeward worker` refuse to start without them, naming the key.
//!
//! Keys (see ARCHITECTURE.md, "Keys"):
//! - `keys.decisions`: seals every decision the API sends a case; every api and worker process
//!   needs the same one (`homeward_workflows::seal`).
//! - `keys.kek` (and `keys.previous_keks`): wraps each case's data key in the person vault
//!   (`homeward_activities::vault`).
//! - `keys.blind_index`: keys the index that finds people without decrypting them.
//! - `keys.payloads` (and `keys.previous_payloads`): the payload codec's key: every payload in
//!   Temporal's history is encrypted with it (`homeward_activities::codec`).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use std::sync::Arc;

use homeward_activities::codec::PayloadCodecKeys;
use homeward_activities::vault::{IndexKey, LocalKeys};
use homeward_workflows::seal::DecisionKey;

use crate::settings::{ConfigError, Settings};

/// The keys a process works with, parsed.
#[derive(Clone)]
pub struct Keys {
    /// Seals decisions (api) and checks the seals (worker).
    pub decisions: DecisionKey,
    /// Wraps and unwraps the person vault's data keys.
    pub kek: Arc<LocalKeys>,
    /// The blind index's key.
    pub index: IndexKey,
    /// The payload codec's keys.
    pub payloads: PayloadCodecKeys,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys([REDACTED])")
    }
}

/// A key's bytes from its hex text, or a config error naming it.
fn parse(name: &str, hex_text: &str) -> Result<Vec<u8>, ConfigError> {
    match hex::decode(hex_text.trim()) {
        Ok(bytes) if bytes.len() == 32 => Ok(bytes),
        _ => Err(ConfigError::new(format!(
            "key keys.{name}: must be 32 random bytes as 64 hex characters \
             (e.g. `openssl rand -hex 32`)"
        ))),
    }
}

/// A required key's 32 bytes, or a config error naming it.
fn required(name: &str, value: Option<&SecretString>) -> Result<[u8; 32], ConfigError> {
    let value = value.ok_or_else(|| {
        ConfigError::new(format!(
            "key keys.{name}: is required (64 hex characters; the same for every api and \
             worker); set HOMEWARD_KEYS__{}",
            name.to_ascii_uppercase()
        ))
    })?;
    array(name, value)
}

fn array(name: &str, value: &SecretString) -> Result<[u8; 32], ConfigError> {
    let bytes = parse(name, value.expose_secret())?;
    bytes
        .try_into()
        .map_err(|_| ConfigError::new(format!("key keys.{name}: must be 32 bytes")))
}

impl Keys {
    /// The keys in `settings`; a missing or malformed one is a config error naming it.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let k = &settings.keys;
        let decisions = DecisionKey::new(&required("decisions", k.decisions.as_ref())?)
            .ok_or_else(|| ConfigError::new("key keys.decisions: too short"))?;
        let previous_keks = k
            .previous_keks
            .iter()
            .map(|p| array("previous_keks", p))
            .collect::<Result<Vec<_>, _>>()?;
        let previous_payloads = k
            .previous_payloads
            .iter()
            .map(|p| array("previous_payloads", p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            decisions,
            kek: Arc::new(LocalKeys::new(
                required("kek", k.kek.as_ref())?,
                previous_keks,
            )),
            index: IndexKey::new(required("blind_index", k.blind_index.as_ref())?),
            payloads: PayloadCodecKeys::new(
                required("payloads", k.payloads.as_ref())?,
                previous_payloads,
            ),
        })
    }
}

/// For `homeward dev`: fills every key the configuration leaves unset from `keys.dir`,
/// creating the file (0600, in a 0700 folder) with fresh random bytes the first time.
pub fn fill_dev_keys(settings: &mut Settings) -> anyhow::Result<()> {
    let dir = settings.keys.dir.clone();
    let k = &mut settings.keys;
    for (name, slot) in [
        ("decisions", &mut k.decisions),
        ("kek", &mut k.kek),
        ("blind_index", &mut k.blind_index),
        ("payloads", &mut k.payloads),
    ] {
        if slot.is_none() {
            *slot = Some(SecretString::from(dev_key(&dir, name)?));
        }
    }
    Ok(())
}

fn dev_key(dir: &Path, name: &str) -> anyhow::Result<String> {
    use anyhow::Context;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("failed to create {}", dir.display()))?;
    let path = dir.join(format!("{name}.key"));
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            parse(name, &text).with_context(|| format!("{} is not a key", path.display()))?;
            Ok(text.trim().to_owned())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut bytes = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut bytes);
            let text = hex::encode(bytes);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("failed to create {}", path.display()))?;
            file.write_all(text.as_bytes())
                .with_context(|| format!("failed to write {}", path.display()))?;
            tracing::info!(key = name, path = %path.display(), "created a development key");
            Ok(text)
        }
        Err(e) => Err(e).with_context(|| format!("failed to read {}", path.display())),
    }
}

/// A vault failure at start-up: a key that does not open the stored data is a config error
/// naming `keys.kek`; anything else is the store failing.
pub fn vault_start_error(e: homeward_activities::vault::VaultError) -> anyhow::Error {
    match e {
        homeward_activities::vault::VaultError::Key(_) => ConfigError::new(format!(
            "key keys.kek: {e}; set the key the data was written with (or list it in \
             keys.previous_keks)"
        ))
        .into(),
        other => anyhow::Error::new(other).context("failed to check the person vault's keys"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_must_be_32_bytes_of_hex_and_its_error_names_it() {
        assert!(parse("decisions", &"ab".repeat(32)).is_ok());
        for bad in ["", "zz", &"ab".repeat(16)] {
            let e = parse("decisions", bad).unwrap_err().to_string();
            assert!(e.contains("key keys.decisions:"), "{e}");
        }
    }

    #[test]
    fn a_dev_key_is_created_once_private_and_then_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let first = dev_key(&keys, "decisions").unwrap();
        assert_eq!(dev_key(&keys, "decisions").unwrap(), first);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&keys.join("decisions.key")), 0o600);
        assert_eq!(mode(&keys), 0o700);
    }
}
