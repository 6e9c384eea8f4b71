//! The sentinel test: cases whose people carry unique strings (names in Latin and Arabic
//! script, document numbers, phones) run past their departure on a real multi-process stack
//! (Temporal dev server, sandbox, API, worker, each logging at debug level); then the raw
//! bytes of Temporal's database, the case store (SQLite file, or every row of every
//! PostgreSQL table), the sandbox's ledger and every log line hold none of those strings,
//! while the API shows them to the officer. A control run without the payload codec shows the
//! scan finds them when they are there.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use homeward::bench::stack::Stack;

use crate::support::{client_with_key, project_dir};

/// One returnee's unique strings.
struct Sentinels {
    latin_given: String,
    latin_family: String,
    arabic: String,
    document: String,
    phone: String,
}

impl Sentinels {
    fn new(i: usize) -> Self {
        let n = rand::random::<u32>() % 9_000_000 + 1_000_000;
        // Arabic-Indic digits keep the Arabic sentinel in one script.
        let arabic_digits: String = format!("{n}{i}")
            .chars()
            .map(|c| char::from_u32(0x0660 + c.to_digit(10).unwrap_or(0)).unwrap_or('٠'))
            .collect();
        Self {
            latin_given: format!("Sntlgiven{n}x{i}"),
            latin_family: format!("Sntlfamily{n}x{i}"),
            arabic: format!("صقرسنتل{arabic_digits}"),
            document: format!("SNTL{n}{i}"),
            phone: format!("+96477{n}"),
        }
    }

    fn all(&self) -> [&str; 5] {
        [
            &self.latin_given,
            &self.latin_family,
            &self.arabic,
            &self.document,
            &self.phone,
        ]
    }

    fn record(&self) -> Value {
        json!({
            "names": {
                "document": {"given": self.latin_given, "family": self.latin_family},
                "original": {"given": self.arabic, "family": "حسن", "script": "Arab"}
            },
            "date_of_birth": "1989-03-14",
            "documents": [{"kind": "passport", "number": self.document, "issuing_country": "IRQ"}],
            "phone": self.phone,
            "consents": [{"purpose": "travel_partner", "given": true}]
        })
    }
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Value {
    let mut req = client.request(method, url.clone());
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or_default();
    assert!(status.is_success(), "{url}: {status} {body}");
    body
}

/// Completes the case's open task of this type (waiting for it to open).
async fn complete(api: &str, who: &reqwest::Client, r: &str, task: &str, outcome: Value) {
    complete_because(api, who, r, task, outcome, "recorded").await;
}

/// Like [`complete`], with a reason (free text: people write names in it).
async fn complete_because(
    api: &str,
    who: &reqwest::Client,
    r: &str,
    task: &str,
    outcome: Value,
    reason: &str,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let id = loop {
        let view = call(
            who,
            reqwest::Method::GET,
            format!("{api}/api/v1/cases/{r}"),
            None,
        )
        .await;
        if let Some(id) = view["tasks"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["task_type"] == task))
            .and_then(|t| t["id"].as_u64())
        {
            break id;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{r}: no {task} task: {view}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    call(
        who,
        reqwest::Method::POST,
        format!("{api}/api/v1/cases/{r}/tasks/{id}"),
        Some(json!({"outcome": outcome, "reason": reason})),
    )
    .await;
}

/// Every occurrence of a sentinel in the files of `dir` (databases, their WAL files, logs).
fn found_in_files(dir: &Path, sentinels: &[Sentinels]) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("dir").flatten() {
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        for s in sentinels.iter().flat_map(Sentinels::all) {
            if bytes.windows(s.len()).any(|w| w == s.as_bytes()) {
                found.push(format!("{s} in {}", path.display()));
            }
        }
    }
    found
}

/// Runs `cases` cases past departure on a stack whose case store is `database` (SQLite in the
/// stack's folder if `None`); answers the folder, the sentinels and the store's URL.
async fn run_past_departure(
    database: Option<String>,
    cases: usize,
    plain_payloads: bool,
) -> (tempfile::TempDir, Vec<Sentinels>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings =
        homeward::settings::Settings::load(&project_dir().join("config"), None).expect("config");
    let mut overrides = vec![("HOMEWARD_LOG__FILTER", "debug".to_owned())];
    if let Some(url) = database {
        overrides.push(("HOMEWARD_DATABASE__URL", url));
    }
    let stack = Stack::start_with(
        &settings,
        &project_dir().join("config"),
        dir.path().to_owned(),
        100,
        env!("CARGO_BIN_EXE_homeward").into(),
        &overrides,
        plain_payloads,
    )
    .await
    .expect("stack");
    let store = homeward_activities::CaseStore::connect(&stack.database_url, 1)
        .await
        .expect("store");
    let key = |role, office: bool| {
        let store = store.clone();
        async move {
            use homeward_workflows::domain::CountryCode;
            let nld = CountryCode::parse("NLD").expect("NLD");
            let irq = CountryCode::parse("IRQ").expect("IRQ");
            let new = homeward_activities::users::NewUser {
                name: "sentinel test",
                role,
                office: Some(&nld),
                country: office.then_some(&irq),
                supervisor: false,
            };
            let (_, key) = store
                .create_user(&new, None, chrono::Utc::now())
                .await
                .expect("user");
            client_with_key(&key)
        }
    };
    use homeward_workflows::tasks::Role;
    let officer = key(Role::ReturnOfficer, false).await;
    let ops = key(Role::Operations, false).await;
    let api = stack.api_url.clone();
    let sentinels: Vec<Sentinels> = (0..cases).map(Sentinels::new).collect();
    let mut refs = Vec::new();
    for s in &sentinels {
        let opened = call(
            &officer,
            reqwest::Method::POST,
            format!("{api}/api/v1/cases"),
            Some(json!({
                "programme": "bench", "host_country": "NLD", "origin_country": "IRQ",
                "household_size": 1, "people": [s.record()]
            })),
        )
        .await;
        refs.push(opened["reference"].as_str().expect("ref").to_owned());
    }
    let expires = (chrono::Utc::now() + chrono::Duration::days(365)).date_naive();
    for (r, s) in refs.iter().zip(&sentinels) {
        complete(
            &api,
            &officer,
            r,
            "counselling_session",
            json!({"type": "counselling", "decision": "wants_to_return"}),
        )
        .await;
        // A reason naming the person: it lives in the case's history, encrypted by the codec.
        let reason = format!("{} {} signed in person", s.latin_given, s.latin_family);
        complete_because(
            &api,
            &officer,
            r,
            "consent",
            json!({"type": "consent", "signed": true}),
            &reason,
        )
        .await;
        complete(
            &api,
            &ops,
            r,
            "eligibility_approval",
            json!({"type": "approval", "approved": true}),
        )
        .await;
        complete(
            &api,
            &officer,
            r,
            "travel_document",
            json!({"type": "travel_document", "expires_on": expires}),
        )
        .await;
    }
    for r in &refs {
        complete(
            &api,
            &officer,
            r,
            "departure_confirmation",
            json!({"type": "departure", "departed": true}),
        )
        .await;
    }
    // The API shows the officer what was recorded.
    let shown = call(
        &officer,
        reqwest::Method::GET,
        format!("{api}/api/v1/cases/{}/people/0", refs[0]),
        None,
    )
    .await;
    assert_eq!(
        shown["fields"]["phone"],
        sentinels[0].phone.as_str(),
        "{shown}"
    );
    let url = stack.database_url.clone();
    store.close().await;
    stack.stop().await;
    (dir, sentinels, url)
}

#[tokio::test]
async fn no_personal_value_reaches_temporal_the_case_store_in_clear_or_a_log_line() {
    // SQLite: Temporal's database, the case store, the sandbox ledger and the logs are files.
    let (dir, sentinels, _) = run_past_departure(None, 20, false).await;
    let logs: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .collect();
    assert!(logs.len() >= 3, "api, worker and sandbox logs");
    assert!(dir.path().join("temporal.db").is_file() && dir.path().join("homeward.db").is_file());
    let found = found_in_files(dir.path(), &sentinels);
    assert!(
        found.is_empty(),
        "personal data in clear:\n{}",
        found.join("\n")
    );

    // PostgreSQL: every row of every table of the case store.
    let admin_url = std::env::var("TEST_POSTGRES_URL").expect("make test starts PostgreSQL");
    let admin = homeward_activities::CaseStore::connect(&admin_url, 1)
        .await
        .expect("pg");
    let db = format!("hw_sentinel_{:08x}", rand::random::<u32>());
    admin
        .execute_raw(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create");
    admin.close().await;
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).expect("url");
    let (dir, sentinels, url) = run_past_departure(Some(format!("{base}/{db}")), 5, false).await;
    let found = found_in_files(dir.path(), &sentinels);
    assert!(
        found.is_empty(),
        "personal data in clear:\n{}",
        found.join("\n")
    );
    let store = homeward_activities::CaseStore::connect(&url, 1)
        .await
        .expect("pg");
    let dump = store.dump_text().await.expect("dump");
    assert!(dump.len() > 1000, "the dump holds the case store's rows");
    for s in sentinels.iter().flat_map(Sentinels::all) {
        assert!(!dump.contains(s), "{s} in PostgreSQL");
    }

    // The control: without the payload codec the same steps leave the names (of the consent
    // reason) in Temporal's database, so the scan above can fail.
    let (dir, sentinels, _) = run_past_departure(None, 1, true).await;
    let found = found_in_files(dir.path(), &sentinels);
    assert!(
        found.iter().any(|f| f.contains("temporal.db")),
        "the scan found nothing without the codec: {found:?}"
    );
}
