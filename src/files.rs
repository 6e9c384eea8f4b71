//! File permissions of what Homeward writes on disk: the data folder is private to the user
//! running it (0700), and every database file in it (the case store, Temporal's, the sandbox's
//! ledger, their WAL and shared-memory files) and every key file is 0600. Files created by
//! `homeward dev` and its children get those modes from the process umask (077); files left by
//! an older version are tightened at start, with a log line for each.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Makes new files of this process and its children private (umask 077).
pub fn private_umask() {
    use nix::sys::stat::{Mode, umask};
    umask(Mode::from_bits_truncate(0o077));
}

/// Creates `dir` (0700) if missing; tightens it and the files in it (and one level of folders
/// below, e.g. `keys/`) to 0700/0600 where they are wider. Returns how many it tightened.
pub fn secure_data_dir(dir: &Path) -> std::io::Result<usize> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let mut tightened = tighten(dir, 0o700)?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            tightened += tighten(&path, 0o700)?;
            for inner in std::fs::read_dir(&path)? {
                let inner = inner?.path();
                if inner.is_file() {
                    tightened += tighten(&inner, 0o600)?;
                }
            }
        } else if path.is_file() {
            tightened += tighten(&path, 0o600)?;
        }
    }
    Ok(tightened)
}

/// Sets `path` to `mode` if it grants more; 1 if it did.
pub fn tighten(path: &Path, mode: u32) -> std::io::Result<usize> {
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current & !mode == 0 {
        return Ok(0);
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    tracing::warn!(
        path = %path.display(),
        was = format!("{current:o}"),
        now = format!("{mode:o}"),
        "tightened file permissions: other local users could read it"
    );
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_readable_data_folder_and_its_databases_are_made_private() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        for f in ["temporal.db", "homeward.db", "homeward.db-wal"] {
            std::fs::write(data.join(f), b"x").unwrap();
            std::fs::set_permissions(data.join(f), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        std::fs::create_dir(data.join("keys")).unwrap();
        std::fs::write(data.join("keys/decisions.key"), b"k").unwrap();
        std::fs::set_permissions(
            data.join("keys/decisions.key"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        assert_eq!(secure_data_dir(&data).unwrap(), 6);
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("temporal.db")), 0o600);
        assert_eq!(mode(&data.join("homeward.db-wal")), 0o600);
        assert_eq!(mode(&data.join("keys/decisions.key")), 0o600);
        assert_eq!(secure_data_dir(&data).unwrap(), 0, "already private");
    }
}
