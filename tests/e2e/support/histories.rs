//! Recording the replay corpus (`tests/histories/`, format in `homeward::histories`).
//!
//! `RECORD_HISTORIES=tests/histories cargo test --test e2e lifecycle::` writes the history of
//! every case a lifecycle test replays, named after the test (a test that replays several cases
//! gets `-2`, `-3`, … for the later ones). Recorded files are never edited: a release adds its
//! own, recorded on the code it ships.

use std::path::PathBuf;

use homeward::histories::Scenario;
use temporalio_common::protos::temporal::api::history::v1::History;

use super::project_dir;

/// The corpus folder.
pub fn corpus_dir() -> PathBuf {
    project_dir().join("tests/histories")
}

/// Writes the case's runs to `$RECORD_HISTORIES/<test name>.json` when that variable is set;
/// does nothing otherwise.
pub fn record_if_asked(reference: &str, runs: Vec<History>) {
    let Some(dir) = std::env::var_os("RECORD_HISTORIES") else {
        return;
    };
    let dir = project_dir().join(dir);
    let test = std::thread::current()
        .name()
        .unwrap_or(reference)
        .rsplit("::")
        .next()
        .unwrap_or(reference)
        .to_owned();
    let mut name = test.clone();
    let mut n = 1;
    while dir.join(format!("{name}.json")).exists() {
        n += 1;
        name = format!("{test}-{n}");
    }
    Scenario::new(name.clone(), runs)
        .write(&dir.join(format!("{name}.json")))
        .expect("history written");
}

/// Keeps the runs of a case whose history did not replay in `target/failed-histories/`, in the
/// corpus format, so the failure can be replayed and read afterwards; returns where.
pub fn keep_failed(reference: &str, runs: &[History]) -> String {
    let dir = project_dir().join("target/failed-histories");
    let path = dir.join(format!("{reference}.json"));
    let written = std::fs::create_dir_all(&dir)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            Scenario::new(reference.to_owned(), runs.to_vec())
                .write(&path)
                .map_err(|e| e.to_string())
        });
    match written {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("nowhere: {e}"),
    }
}
