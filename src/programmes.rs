//! Programme rules from `config/programmes/*.toml`, loaded and checked at start-up.
//!
//! Each file's version is the `version` it declares plus a hash of its content, so two cases
//! opened under different edits of the same file show different versions; each case carries
//! the rules it was opened under in its workflow input.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

use homeward_workflows::domain::ProgrammeId;
use homeward_workflows::programme::ProgrammeRules;

use crate::settings::ConfigError;

/// Every programme, by id.
pub type Catalogue = BTreeMap<ProgrammeId, ProgrammeRules>;

/// Loads every `*.toml` file in `dir`. A bad file is a configuration error naming the file and
/// the key.
pub fn load(dir: &Path) -> Result<Catalogue, ConfigError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        ConfigError::new(format!(
            "cannot read programmes folder {}: {e}",
            dir.display()
        ))
    })?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut catalogue = Catalogue::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError::new(format!("cannot read {}: {e}", path.display())))?;
        let mut rules: ProgrammeRules = toml::from_str(&text).map_err(|e| {
            ConfigError::new(
                format!(
                    "{}: {}",
                    path.display(),
                    e.message().trim().replace('\n', " ")
                ) + &e
                    .span()
                    .map(|s| format!(" (at byte {})", s.start))
                    .unwrap_or_default(),
            )
        })?;
        rules
            .check()
            .map_err(|e| ConfigError::new(format!("{}: key {e}", path.display())))?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if rules.id.as_str() != stem {
            return Err(ConfigError::new(format!(
                "{}: key id: {:?} must match the file name {stem:?}",
                path.display(),
                rules.id.as_str()
            )));
        }
        let digest = hex::encode(Sha256::digest(text.as_bytes()));
        rules.version = format!("{}+{}", rules.version, &digest[..8]);
        catalogue.insert(rules.id.clone(), rules);
    }
    if catalogue.is_empty() {
        return Err(ConfigError::new(format!(
            "no programmes in {}; at least one *.toml is needed",
            dir.display()
        )));
    }
    Ok(catalogue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_poll_that_would_spin_is_refused_naming_the_key() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/programmes/nl-avrr.toml");
        let text = std::fs::read_to_string(shipped).expect("shipped programme");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("nl-avrr.toml");
        std::fs::write(&file, &text).expect("write");
        let catalogue = load(dir.path()).expect("the shipped programme loads");
        assert!(
            catalogue
                .values()
                .all(|r| r.deadlines.payment_status_poll.get().as_secs() >= 1)
        );
        std::fs::write(
            &file,
            text.replace(
                "payment_status_poll = \"6h\"",
                "payment_status_poll = \"0s\"",
            ),
        )
        .expect("write");
        let err = load(dir.path()).expect_err("refused").to_string();
        assert!(err.contains("key deadlines.payment_status_poll"), "{err}");
    }
}
