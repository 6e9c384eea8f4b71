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
        .env("HOMEWARD_PARTNERS__WEBHOOK_SECRET", "a-secret-of-our-own")
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

#[test]
fn a_user_who_would_see_every_case_must_be_an_auditor_or_admin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("h.db").display());
    let create = |args: &[&str]| {
        homeward()
            .env("HOMEWARD_DATABASE__URL", &db)
            .args(["user", "create", "--name", "X"])
            .args(args)
            .output()
            .expect("runs")
    };
    for (args, named) in [
        (&["--role", "operations"][..], "--office"),
        (&["--role", "partner", "--office", "NLD"][..], "--country"),
        (&["--role", "partner", "--country", "IRQ"][..], "--office"),
        (&["--role", "auditor", "--office", "NLD"][..], "--office"),
    ] {
        let out = create(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(err.contains(named), "{args:?}: {err}");
    }
    let out = create(&["--role", "partner", "--office", "NLD", "--country", "IRQ"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = create(&["--role", "auditor"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let help = homeward()
        .args(["user", "create", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("only auditors and admins see every case"),
        "{help}"
    );
}

#[test]
fn keys_are_listed_without_secrets_and_revoked_or_rotated_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("h.db").display());
    let run = |args: &[&str]| {
        let out = homeward()
            .env("HOMEWARD_DATABASE__URL", &db)
            .args(["user"])
            .args(args)
            .output()
            .expect("runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, created, err) = run(&[
        "create",
        "--name",
        "Ops",
        "--role",
        "operations",
        "--office",
        "NLD",
        "--expires-in",
        "90days",
    ]);
    assert!(ok, "{err}");
    let key = created
        .lines()
        .find_map(|l| l.strip_prefix("API key: "))
        .expect("a key")
        .to_owned();
    let user = created
        .lines()
        .find_map(|l| l.strip_prefix("user:"))
        .expect("a user")
        .trim()
        .to_owned();
    assert!(created.contains("expires:"), "{created}");
    let (_, listed, _) = run(&["list"]);
    assert!(
        listed.contains(&user) && listed.contains(&key[..12]),
        "{listed}"
    );
    assert!(!listed.contains(&key), "the list shows a secret: {listed}");
    let (ok, rotated, err) = run(&["rotate", &user]);
    assert!(ok, "{err}");
    assert!(rotated.contains("API key: hwk_"), "{rotated}");
    let (ok, revoked, err) = run(&["revoke", &user]);
    assert!(ok && revoked.contains("revoked 1"), "{revoked} {err}");
    let (ok, _, err) = run(&["revoke", &user]);
    assert!(!ok && err.contains("no live key"), "{err}");
}

#[test]
fn users_are_linked_to_an_openid_connect_subject_once_and_only_with_a_provider_configured() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("h.db").display());
    let run = |with_provider: bool, args: &[&str]| {
        let mut cmd = homeward();
        cmd.env("HOMEWARD_DATABASE__URL", &db);
        if with_provider {
            cmd.env("HOMEWARD_WEB__OIDC__ISSUER", "https://login.example")
                .env("HOMEWARD_WEB__OIDC__CLIENT_ID", "homeward")
                .env(
                    "HOMEWARD_WEB__OIDC__REDIRECT_URL",
                    "https://homeward.example/sign-in/oidc/callback",
                );
        }
        let out = cmd.args(["user"]).args(args).output().expect("runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let create = [
        "create",
        "--name",
        "Ana",
        "--role",
        "operations",
        "--office",
        "NLD",
    ];
    let with_subject = [&create[..], &["--oidc-subject", "sub-ana"]].concat();
    let (ok, _, err) = run(false, &with_subject);
    assert!(!ok && err.contains("web.oidc.issuer"), "{err}");
    let (ok, created, err) = run(true, &with_subject);
    assert!(ok, "{err}");
    assert!(
        created.contains("sign in: sub-ana at https://login.example"),
        "{created}"
    );
    let (ok, _, err) = run(true, &with_subject);
    assert!(
        !ok && err.contains("--oidc-subject: is already linked"),
        "{err}"
    );
    let (ok, other, err) = run(true, &create);
    assert!(ok, "{err}");
    let other = other
        .lines()
        .find_map(|l| l.strip_prefix("user:"))
        .expect("a user")
        .trim()
        .to_owned();
    let (ok, _, err) = run(true, &["link-oidc", &other, "--subject", "sub-ana"]);
    assert!(!ok && err.contains("already linked"), "{err}");
    let (ok, linked, err) = run(true, &["link-oidc", &other, "--subject", "sub-other"]);
    assert!(ok && linked.contains("sub-other"), "{linked} {err}");
    let (_, listed, _) = run(true, &["list"]);
    assert_eq!(listed.matches("Ana").count(), 2, "no orphan user: {listed}");
}

#[test]
fn the_api_key_never_appears_on_the_command_line() {
    let out = homeward()
        .args(["case", "list", "--api-key", "hwk_visible_in_ps"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--api-key"), "{err}");
    let help = homeward()
        .args(["case", "list", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--api-key-file") && help.contains("HOMEWARD_API_KEY"),
        "{help}"
    );
}

#[test]
fn the_published_sandbox_secret_is_refused_outside_dev() {
    for command in ["api", "worker"] {
        let out = homeward().arg(command).output().expect("runs");
        assert_eq!(out.status.code(), Some(2), "{command}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("key partners.webhook_secret"),
            "{command}: {err}"
        );
    }
}

#[tokio::test]
async fn a_kek_that_does_not_open_the_stored_data_stops_start_up_until_listed_then_rewrapped() {
    use homeward_activities::vault::{IndexKey, LocalKeys, Vault};
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("cases.db").display());
    let store = homeward_activities::CaseStore::connect(&url, 1)
        .await
        .expect("store");
    store.migrate().await.expect("migrate");
    use homeward_workflows::domain::{
        CaseRef, CountryCode, HouseholdSize, Intake, OpenCase, ProgrammeId,
    };
    let reference = CaseRef::from_entropy(5);
    store
        .record_case_opened(&OpenCase {
            reference: reference.clone(),
            intake: Intake {
                programme: ProgrammeId::parse("nl-avrr").unwrap(),
                host_country: CountryCode::parse("NLD").unwrap(),
                origin_country: CountryCode::parse("IRQ").unwrap(),
                household_size: HouseholdSize::parse(1).unwrap(),
                members: vec![],
                language: None,
                immigration_status: None,
            },
            opened_at: chrono::Utc::now(),
            rules: toml::from_str(include_str!("../../config/programmes/nl-avrr.toml")).unwrap(),
        })
        .await
        .expect("case");
    let person = serde_json::from_value(serde_json::json!({
        "names": {"document": {"given": "Amal", "family": "Hassan"}}
    }))
    .expect("person");
    Vault::new(
        store.clone(),
        std::sync::Arc::new(LocalKeys::new([1; 32], vec![])),
        IndexKey::new([9; 32]),
    )
    .put(&reference, 0, &person, chrono::Utc::now())
    .await
    .expect("put");
    store.close().await;

    let keys = |command: &str, previous: Option<&str>| {
        let mut cmd = homeward();
        cmd.env("HOMEWARD_DATABASE__URL", &url)
            .env("HOMEWARD_KEYS__DECISIONS", "33".repeat(32))
            .env("HOMEWARD_KEYS__BLIND_INDEX", "09".repeat(32))
            .env("HOMEWARD_KEYS__PAYLOADS", "44".repeat(32))
            .env(
                "HOMEWARD_PARTNERS__WEBHOOK_SECRET",
                "a-test-secret-of-enough-length",
            )
            .env("HOMEWARD_KEYS__KEK", "02".repeat(32))
            .args(match command {
                "api" | "worker" => vec![command],
                _ => vec!["keys", command],
            });
        if let Some(p) = previous {
            cmd.env("HOMEWARD_KEYS__PREVIOUS_KEKS", format!("[\"{p}\"]"));
        }
        cmd.output().expect("runs")
    };
    // `api` and `worker` check the same way before serving anything.
    for command in ["check", "api", "worker"] {
        let out = keys(command, None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        assert!(err.contains("keys.kek"), "{command}: {err}");
        assert!(!err.contains("02020202"), "a key printed: {err}");
    }

    let out = keys("rewrap", Some(&"01".repeat(32)));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-wrapped 1"));
    let out = keys("check", None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
