//! The `homeward` binary's command line and configuration errors, run as a user would.

use std::process::Command;

fn homeward() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_homeward"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (key, _) in std::env::vars() {
        if key.starts_with("HOMEWARD_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

#[test]
fn help_explains_every_subcommand() {
    let out = homeward().arg("--help").output().expect("runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for sub in ["dev", "worker", "api", "migrate"] {
        assert!(help.contains(sub), "--help does not mention {sub}: {help}");
    }
}

#[test]
fn a_wrong_value_exits_2_with_one_line_naming_the_key() {
    let out = homeward()
        .env("HOMEWARD_API__PORT", "eighty")
        .arg("migrate")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("api.port"), "{err}");
    assert!(err.contains("HOMEWARD_API__PORT"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_unknown_key_is_reported_not_ignored() {
    let out = homeward()
        .env("HOMEWARD_API__PROT", "9000")
        .arg("migrate")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("prot"), "{err}");
}

#[test]
fn a_bad_database_url_is_named_without_printing_its_secret() {
    let out = homeward()
        .env(
            "HOMEWARD_DATABASE__URL",
            "mysql://admin:hunter2@db/homeward",
        )
        .arg("migrate")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database.url"), "{err}");
    assert!(!err.contains("hunter2"), "secret printed: {err}");
}

#[test]
fn a_missing_config_file_is_named() {
    let out = homeward()
        .args(["--config", "config/nope.toml", "migrate"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("config/nope.toml"));
}

#[test]
fn migrate_creates_and_migrates_a_sqlite_store_idempotently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("nested/cases.db").display());
    for _ in 0..2 {
        let out = homeward()
            .env("HOMEWARD_DATABASE__URL", &url)
            .arg("migrate")
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(dir.path().join("nested/cases.db").is_file());
}
