//! `homeward bench` end to end, small: its own multi-process stack, three cases through the API,
//! the twin, and the checks against the sandbox ledger. (Figures are not asserted here: speed is
//! measured by running the benchmark, see docs/BENCHMARKS.md.)

use serde_json::Value;

#[tokio::test]
async fn the_benchmark_closes_every_case_and_finds_nothing_lost_or_paid_twice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report.json");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_homeward"))
        .args([
            "bench",
            "--cases",
            "3",
            "--parallel",
            "4",
            "--timeout",
            "180s",
            "--compare-protection",
            "--parked",
            "3",
            "--out",
        ])
        .arg(&report)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("HOMEWARD_CONFIG")
        .output()
        .await
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(&report).expect("report written")).expect("json");
    let checks = &report["checks"];
    assert_eq!(checks["closed"], 3, "{checks}");
    assert_eq!(checks["duplicate_orders"], 0);
    assert_eq!(checks["duplicate_payments"], 0);
    assert_eq!(checks["payment_mismatches"], 0);
    assert_eq!(checks["pending_payments"], 0);
    // Payments were pending at the sandbox and settled by its signed webhook, through the API.
    assert!(
        checks["webhooks_sent"].as_u64().unwrap_or(0) >= 3,
        "{checks}"
    );
    assert_eq!(checks["lost_completions"], 0);
    assert_eq!(report["twin"]["completed"], 3, "{}", report["twin"]);
    // Every case ran its whole story: tasks were completed through the API, grants were paid.
    let completed = report["approval_latency"]["count"].as_u64().unwrap_or(0);
    assert!(completed >= 3 * 15);
    // The simulated staff claimed each task before completing it.
    assert!(
        checks["claimed"].as_u64().unwrap_or(0) >= completed,
        "{checks}"
    );
    assert!(report["history"]["events_median"].as_f64().unwrap_or(0.0) > 100.0);
    assert!(stdout.contains("goals"), "{stdout}");
    // The protected run named people to partners (read from the vault at call time); the
    // comparison run, on its own stack without records or codec, closed its cases too.
    assert_eq!(report["setup"]["protected"], true);
    assert!(
        checks["people_shared"].as_u64().unwrap_or(0) >= 3,
        "{checks}"
    );
    let protection = &report["protection"];
    assert!(
        protection["plain_per_second"].as_f64().unwrap_or(0.0) > 0.0,
        "{protection}"
    );
    assert!(protection["protected_per_second"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(stdout.contains("protection throughput cost"), "{stdout}");
    // With cases parked, the web pages were loaded signed in as an officer, and timed.
    let parked = &report["parked"][0];
    for page in ["web_inbox", "web_cases", "web_case"] {
        assert_eq!(parked[page]["count"], 40, "{page}: {parked}");
    }
}
