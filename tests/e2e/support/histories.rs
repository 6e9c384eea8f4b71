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
