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

#[test]
fn a_bad_programme_file_exits_2_naming_the_file_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/programmes/nl-avrr.toml"),
    )
    .expect("shipped programme");
    let bad = good.replace("consent = \"7days\"", "consent = \"a week\"");
    std::fs::write(dir.path().join("nl-avrr.toml"), bad).expect("write");
    let out = homeward()
        .env("HOMEWARD_PROGRAMMES__DIR", dir.path())
        .arg("api")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nl-avrr.toml") && err.contains("a week"),
        "{err}"
    );
}

#[test]
fn the_shipped_programmes_load_with_pinned_versions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/programmes");
    let catalogue = homeward::programmes::load(&dir).expect("programmes load");
    assert!(catalogue.len() >= 2);
    for rules in catalogue.values() {
        let (declared, hash) = rules.version.split_once('+').expect("version+hash");
        assert!(!declared.is_empty() && hash.len() == 8, "{}", rules.version);
    }
    let nl = catalogue
        .values()
        .find(|r| r.id.as_str() == "nl-avrr")
        .expect("nl");
    let uk = catalogue
        .values()
        .find(|r| r.id.as_str() == "uk-vrs")
        .expect("uk");
    assert_ne!(
        nl.tranches.len(),
        uk.tranches.len(),
        "the examples differ in their rules"
    );
}
