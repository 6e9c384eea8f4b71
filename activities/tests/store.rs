//! Every case-store test runs against SQLite (a fresh file) and PostgreSQL (a fresh database on
//! the throwaway server `make test` starts; its URL arrives in TEST_POSTGRES_URL).

use chrono::{Duration, TimeZone, Utc};
use homeward_activities::store::{Backend, CaseStore, NewAuditEvent};
use homeward_activities::users::NewUser;
use homeward_activities::vault::{IndexKey, LocalKeys, Vault, VaultError};
use homeward_workflows::domain::{
    CaseRef, CountryCode, HouseholdSize, Intake, OpenCase, ProgrammeId, Stage,
};
use homeward_workflows::tasks::Role;

/// A fresh store on each backend. The SQLite file lives as long as the returned guard.
async fn stores() -> Vec<(CaseStore, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite_url = format!("sqlite://{}", dir.path().join("cases.db").display());
    let sqlite = CaseStore::connect(&sqlite_url, 4).await.expect("sqlite");
    sqlite.migrate().await.expect("sqlite migrations");
    assert_eq!(sqlite.backend(), Backend::Sqlite);

    let admin_url = std::env::var("TEST_POSTGRES_URL").expect(
        "TEST_POSTGRES_URL is not set: run the tests with `make test`, which starts PostgreSQL",
    );
    let admin = CaseStore::connect(&admin_url, 1)
        .await
        .expect("postgres admin");
    let db = format!("hw_{:016x}", rand_u64());
    admin
        .execute_raw(&format!("CREATE DATABASE {db}"))
        .await
        .expect("create database");
    admin.close().await;
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .expect("url has a database");
    let pg = CaseStore::connect(&format!("{base}/{db}"), 4)
        .await
        .expect("postgres");
    pg.migrate().await.expect("postgres migrations");
    assert_eq!(pg.backend(), Backend::Postgres);
    vec![(sqlite, Some(dir)), (pg, None)]
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

fn case(n: u64) -> OpenCase {
    OpenCase {
        reference: CaseRef::from_entropy(n),
        intake: Intake {
            programme: ProgrammeId::parse("nl-avrr").unwrap(),
            host_country: CountryCode::parse("NLD").unwrap(),
            origin_country: CountryCode::parse("IRQ").unwrap(),
            household_size: HouseholdSize::parse(4).unwrap(),
            members: vec![],
            language: None,
            immigration_status: None,
        },
        opened_at: Utc.with_ymd_and_hms(2026, 11, 1, 9, 30, 0).unwrap(),
        rules: toml::from_str(include_str!("../../config/programmes/nl-avrr.toml"))
            .expect("the shipped programme parses"),
    }
}

#[tokio::test]
async fn recording_a_case_twice_writes_it_once_with_one_audit_event() {
    for (store, _guard) in stores().await {
        let c = case(42);
        assert!(store.record_case_opened(&c).await.unwrap());
        assert!(
            !store.record_case_opened(&c).await.unwrap(),
            "{:?}",
            store.backend()
        );
        let row = store.get_case(&c.reference).await.unwrap().expect("row");
        assert_eq!(row.stage, "intake");
        assert_eq!(row.household_size, 4);
        assert_eq!(row.opened_at, c.opened_at);
        let trail = store.audit_trail(&c.reference).await.unwrap();
        assert_eq!(trail.len(), 1, "{:?}", store.backend());
        assert_eq!(trail[0].event.action, "case_opened");
    }
}

#[tokio::test]
async fn a_stale_stage_write_never_moves_a_case_backwards() {
    for (store, _guard) in stores().await {
        let c = case(7);
        store.record_case_opened(&c).await.unwrap();
        let t1 = c.opened_at + Duration::minutes(5);
        let t2 = c.opened_at + Duration::minutes(10);
        store
            .record_stage(&c.reference, Stage::Consent, t2)
            .await
            .unwrap();
        // A retried, older write arrives late.
        store
            .record_stage(&c.reference, Stage::Counselling, t1)
            .await
            .unwrap();
        let row = store.get_case(&c.reference).await.unwrap().expect("row");
        assert_eq!(row.stage, "consent", "{:?}", store.backend());
        assert_eq!(row.updated_at, t2);
    }
}

#[tokio::test]
async fn the_audit_trail_refuses_updates_and_deletes() {
    for (store, _guard) in stores().await {
        let c = case(9);
        store.record_case_opened(&c).await.unwrap();
        let id = store
            .append_audit(&NewAuditEvent {
                case_ref: Some(c.reference.clone()),
                actor: "u-1".into(),
                role: "operations".into(),
                action: "eligibility_approved".into(),
                outcome: "accepted".into(),
                detail: None,
                occurred_at: c.opened_at,
            })
            .await
            .unwrap();
        let update = store
            .execute_raw(&format!(
                "UPDATE audit_events SET outcome = 'rejected' WHERE id = {id}"
            ))
            .await;
        assert!(update.is_err(), "{:?} allowed an update", store.backend());
        let delete = store.execute_raw("DELETE FROM audit_events").await;
        assert!(delete.is_err(), "{:?} allowed a delete", store.backend());
        let trail = store.audit_trail(&c.reference).await.unwrap();
        assert_eq!(trail.len(), 2);
        assert_eq!(trail[1].event.outcome, "accepted");
    }
}

fn officer<'a>(office: &'a CountryCode) -> NewUser<'a> {
    NewUser {
        name: "Amina",
        role: Role::Operations,
        office: Some(office),
        country: None,
        supervisor: false,
    }
}

#[tokio::test]
async fn api_keys_are_stored_hashed_and_authenticate_their_user() {
    let nld = CountryCode::parse("NLD").unwrap();
    for (store, _guard) in stores().await {
        let (user, secret) = store
            .create_user(&officer(&nld), None, Utc::now())
            .await
            .unwrap();
        let found = store
            .authenticate(&secret, Utc::now())
            .await
            .unwrap()
            .expect("user");
        assert_eq!(found, user);
        assert!(
            store
                .authenticate("hwk_wrong", Utc::now())
                .await
                .unwrap()
                .is_none()
        );
        // The secret itself is stored nowhere: no key row matches it verbatim.
        let plaintext_rows = store
            .execute_raw(&format!(
                "UPDATE api_keys SET prefix = prefix WHERE key_hash = '{secret}'"
            ))
            .await
            .unwrap();
        assert_eq!(
            plaintext_rows,
            0,
            "{:?} stores the plaintext key",
            store.backend()
        );
    }
}

#[tokio::test]
async fn keys_expire_are_revoked_at_once_rotate_and_record_their_last_use() {
    let nld = CountryCode::parse("NLD").unwrap();
    for (store, _guard) in stores().await {
        let now = Utc::now();
        let day = Duration::days(1);
        let (user, secret) = store
            .create_user(&officer(&nld), Some(now + day), now)
            .await
            .unwrap();
        assert!(store.authenticate(&secret, now).await.unwrap().is_some());
        assert!(
            store
                .authenticate(&secret, now + day * 2)
                .await
                .unwrap()
                .is_none(),
            "{:?}: an expired key still works",
            store.backend()
        );
        let listed = store.list_users().await.unwrap();
        let (_, keys) = listed
            .iter()
            .find(|(u, _)| u.id == user.id)
            .expect("listed");
        assert_eq!(
            keys[0].last_used_at.map(|t| t.timestamp()),
            Some(now.timestamp())
        );
        assert!(keys[0].prefix.starts_with("hwk_") && !secret.ends_with(&keys[0].prefix));

        let fresh = store
            .rotate_key(&user.id, None, now)
            .await
            .unwrap()
            .expect("user");
        assert!(
            store.authenticate(&secret, now).await.unwrap().is_none(),
            "old key revoked"
        );
        assert!(store.authenticate(&fresh, now).await.unwrap().is_some());
        assert_eq!(store.revoke_keys(&user.id, now).await.unwrap(), 1);
        assert!(
            store.authenticate(&fresh, now).await.unwrap().is_none(),
            "{:?}: a revoked key still works",
            store.backend()
        );
        assert!(
            store
                .rotate_key("u-nobody", None, now)
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn a_decision_the_case_records_twice_is_audited_once() {
    use homeward_workflows::activities::{AcceptedDecision, DecisionsAccepted};
    for (store, _guard) in stores().await {
        let c = case(rand_u64());
        store.record_case_opened(&c).await.unwrap();
        let accepted = DecisionsAccepted {
            reference: c.reference.clone(),
            decisions: vec![AcceptedDecision {
                index: 0,
                task_id: 1,
                what: "counselling_session".into(),
                actor: "u-officer".into(),
                role: Role::ReturnOfficer,
                at: Utc::now(),
            }],
        };
        store.record_decisions(&accepted).await.unwrap();
        store.record_decisions(&accepted).await.unwrap();
        let trail = store.audit_trail(&c.reference).await.unwrap();
        let recorded: Vec<_> = trail
            .iter()
            .filter(|e| e.event.action == "decision:counselling_session")
            .collect();
        assert_eq!(recorded.len(), 1, "{:?}", store.backend());
        assert_eq!(recorded[0].event.actor, "u-officer");
        assert_eq!(recorded[0].event.outcome, "recorded");
    }
}

#[tokio::test]
async fn a_new_sqlite_store_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("private/cases.db");
    let store = CaseStore::connect(&format!("sqlite://{}", file.display()), 1)
        .await
        .expect("sqlite");
    store.migrate().await.expect("migrate");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(file.parent().unwrap()), 0o700);
    for side in ["cases.db-wal", "cases.db-shm"] {
        let side = dir.path().join("private").join(side);
        if side.exists() {
            assert_eq!(mode(&side), 0o600, "{}", side.display());
        }
    }
    store.close().await;
    // A file left readable by an older version is tightened when the store opens it.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let again = CaseStore::connect(&format!("sqlite://{}", file.display()), 1)
        .await
        .expect("sqlite");
    assert_eq!(mode(&file), 0o600);
    again.close().await;
}

#[tokio::test]
async fn an_unknown_url_scheme_is_a_clear_error() {
    let err = CaseStore::connect("mysql://localhost/db", 1)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("database.url"), "{err}");
}

fn amal() -> homeward_workflows::person::Person {
    serde_json::from_value(serde_json::json!({
        "names": {"document": {"given": "Amal", "family": "Hassan"}},
        "date_of_birth": "1990-04-02"
    }))
    .expect("a person")
}

fn vault(store: &CaseStore, kek: [u8; 32], previous: Vec<[u8; 32]>) -> Vault {
    Vault::new(
        store.clone(),
        std::sync::Arc::new(LocalKeys::new(kek, previous)),
        IndexKey::new([9; 32]),
    )
}

#[tokio::test]
async fn a_record_is_stored_sealed_and_opens_only_with_its_key_or_after_a_rewrap() {
    for (store, _guard) in stores().await {
        let c = case(7);
        store.record_case_opened(&c).await.unwrap();
        let old = vault(&store, [1; 32], vec![]);
        old.put(&c.reference, 0, &amal(), c.opened_at)
            .await
            .unwrap();
        // Rotated without the old key: start-up check and reads refuse, naming no data.
        let stranger = vault(&store, [2; 32], vec![]);
        assert!(matches!(
            stranger.check_keys().await,
            Err(VaultError::Key(_))
        ));
        assert!(matches!(
            stranger.people(&c.reference).await,
            Err(VaultError::Key(_))
        ));

        // Rotated with the old key listed: readable, and re-wrapping moves every key over.
        let rotated = vault(&store, [2; 32], vec![[1; 32]]);
        rotated.check_keys().await.unwrap();
        assert_eq!(rotated.rewrap_all().await.unwrap(), 1);
        assert_eq!(rotated.rewrap_all().await.unwrap(), 0, "idempotent");
        let new_only = vault(&store, [2; 32], vec![]);
        new_only.check_keys().await.unwrap();
        let people = new_only.people(&c.reference).await.unwrap();
        assert_eq!(people.len(), 1);
        assert_eq!(people[0].person.names.document.family.as_str(), "Hassan");
        assert!(matches!(old.check_keys().await, Err(VaultError::Key(_))));
    }
}

#[tokio::test]
async fn the_retention_sweep_erases_only_cases_closed_longer_than_their_programme_keeps_data() {
    use homeward_activities::retention::sweep;
    use homeward_workflows::programme::Span;
    let at = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap();
    for (store, _guard) in stores().await {
        let v = vault(&store, [1; 32], vec![]);
        let (long_closed, lately_closed, open) = (case(1), case(2), case(3));
        for c in [&long_closed, &lately_closed, &open] {
            store.record_case_opened(c).await.unwrap();
            v.put(&c.reference, 0, &amal(), c.opened_at).await.unwrap();
        }
        // The long-closed case closed two years and a day before `now`.
        store
            .record_stage(&long_closed.reference, Stage::Closed, at(2026, 11, 28))
            .await
            .unwrap();
        store
            .record_stage(&lately_closed.reference, Stage::Closed, at(2028, 6, 1))
            .await
            .unwrap();
        let retention = [(
            "nl-avrr".to_owned(),
            Span::new(std::time::Duration::from_secs(2 * 365 * 86_400)),
        )]
        .into();
        let now = at(2028, 11, 28);
        assert_eq!(sweep(&v, &retention, now).await.unwrap(), 1);
        assert!(matches!(
            v.people(&long_closed.reference).await,
            Err(VaultError::Erased)
        ));
        assert_eq!(v.people(&lately_closed.reference).await.unwrap().len(), 1);
        assert_eq!(v.people(&open.reference).await.unwrap().len(), 1);
        let trail = store.audit_trail(&long_closed.reference).await.unwrap();
        let erased: Vec<_> = trail
            .iter()
            .filter(|e| e.event.action == "personal_data_erased")
            .collect();
        assert_eq!(erased.len(), 1, "{trail:?}");
        assert_eq!(erased[0].event.actor, "system");
        assert!(
            erased[0]
                .event
                .detail
                .as_deref()
                .unwrap()
                .contains("retention")
        );
        // The case row stays for statistics; a second sweep finds nothing more.
        assert!(
            store
                .get_case(&long_closed.reference)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(sweep(&v, &retention, now).await.unwrap(), 0);
        // A programme without a retention rule keeps its data.
        assert_eq!(
            sweep(&v, &Default::default(), at(2040, 1, 1))
                .await
                .unwrap(),
            0
        );
    }
}

fn projection(
    n: u64,
    revision: u64,
    tasks: &[(u32, homeward_workflows::tasks::TaskType, Option<&str>, i64)],
) -> homeward_workflows::work::TaskProjection {
    let base = Utc.with_ymd_and_hms(2027, 1, 1, 9, 0, 0).unwrap();
    homeward_workflows::work::TaskProjection {
        reference: CaseRef::from_entropy(n),
        revision,
        host_country: "NLD".into(),
        origin_country: "IRQ".into(),
        programme: "nl-avrr".into(),
        tasks: tasks
            .iter()
            .map(
                |(id, t, holder, due_days)| homeward_workflows::work::OpenTaskRow {
                    task_id: *id,
                    task_type: *t,
                    role: t.role(),
                    subject: None,
                    opened_at: base,
                    due_at: (*due_days >= 0).then(|| base + Duration::days(*due_days)),
                    requested_by: None,
                    assignee: holder.map(str::to_owned),
                    claimed_at: holder.map(|_| base),
                },
            )
            .collect(),
    }
}

#[tokio::test]
async fn the_open_task_projection_keeps_the_newest_revision_and_pages_by_keyset() {
    use homeward_activities::work::{Holder, InboxQuery};
    use homeward_workflows::tasks::TaskType::*;
    for (store, _guard) in stores().await {
        let b = store.backend();
        // Three cases; case 1 is rewritten, then an older write of it arrives late.
        assert!(
            store
                .project_tasks(&projection(1, 1, &[(1, CounsellingSession, None, 3)]))
                .await
                .unwrap()
        );
        assert!(
            store
                .project_tasks(&projection(
                    1,
                    3,
                    &[(2, Consent, Some("u-ann"), 1), (3, Consent, None, -1)]
                ))
                .await
                .unwrap()
        );
        assert!(
            !store
                .project_tasks(&projection(1, 2, &[(1, CounsellingSession, None, 3)]))
                .await
                .unwrap(),
            "{b:?}"
        );
        store
            .project_tasks(&projection(2, 1, &[(1, CounsellingSession, None, 2)]))
            .await
            .unwrap();
        store
            .project_tasks(&projection(3, 1, &[(4, EligibilityApproval, None, 0)]))
            .await
            .unwrap();
        let all = store.all_open_tasks().await.unwrap();
        assert_eq!(all.len(), 4, "{b:?}: {all:?}");
        assert!(
            !all.iter()
                .any(|t| t.task_type == CounsellingSession
                    && t.reference == CaseRef::from_entropy(1))
        );

        // An officer's inbox: unheld and Bob's own (none), earliest due first, undated last.
        let q = |holder: Holder, after, limit| InboxQuery {
            user: "u-bob".into(),
            role: Some(Role::ReturnOfficer),
            office: Some("NLD".into()),
            origin_country: None,
            holder,
            task_type: None,
            due_before: None,
            after,
            limit,
        };
        let mut seen = vec![];
        let mut after = None;
        loop {
            let page = store
                .inbox(&q(Holder::MineAndPool, after.clone(), 1))
                .await
                .unwrap();
            let Some(t) = page.last() else { break };
            seen.push((t.reference.clone(), t.task_id));
            after = Some((t.due_at, t.reference.clone(), t.task_id));
        }
        assert_eq!(
            seen,
            [(CaseRef::from_entropy(2), 1), (CaseRef::from_entropy(1), 3)],
            "{b:?}"
        );
        let anns = store
            .inbox(&InboxQuery {
                user: "u-ann".into(),
                ..q(Holder::Mine, None, 10)
            })
            .await
            .unwrap();
        assert_eq!(anns.len(), 1);
        assert_eq!(anns[0].assignee.as_deref(), Some("u-ann"));
        let ops = store
            .inbox(&InboxQuery {
                role: Some(Role::Operations),
                ..q(Holder::Anyone, None, 10)
            })
            .await
            .unwrap();
        assert_eq!(ops.len(), 1);
        let elsewhere = store
            .inbox(&InboxQuery {
                office: Some("GBR".into()),
                ..q(Holder::Anyone, None, 10)
            })
            .await
            .unwrap();
        assert!(elsewhere.is_empty());

        // The workload counts per holder and type; overdue against `now`.
        let now = Utc.with_ymd_and_hms(2027, 1, 2, 0, 0, 0).unwrap();
        let load = store.workload(Some("NLD"), now).await.unwrap();
        let consent_pool = load
            .iter()
            .find(|l| l.assignee.is_none() && l.task_type == Consent)
            .expect("pool line");
        assert_eq!((consent_pool.open, consent_pool.overdue), (1, 0));
        let anns_line = load
            .iter()
            .find(|l| l.assignee.as_deref() == Some("u-ann"))
            .unwrap();
        assert_eq!((anns_line.open, anns_line.overdue), (1, 0));
        let eligibility = load
            .iter()
            .find(|l| l.task_type == EligibilityApproval)
            .unwrap();
        assert_eq!(eligibility.overdue, 1);

        // The overdue sweep's read: each task once; a rewrite keeps the mark.
        let due = store
            .unescalated_overdue("nl-avrr", now, 100)
            .await
            .unwrap();
        assert_eq!(due.len(), 1, "{due:?}");
        assert!(
            store
                .mark_escalated(&due[0].reference, due[0].task_id, now)
                .await
                .unwrap()
        );
        assert!(
            !store
                .mark_escalated(&due[0].reference, due[0].task_id, now)
                .await
                .unwrap()
        );
        store
            .project_tasks(&projection(
                3,
                2,
                &[(4, EligibilityApproval, Some("u-sue"), 0)],
            ))
            .await
            .unwrap();
        assert!(
            store
                .unescalated_overdue("nl-avrr", now, 100)
                .await
                .unwrap()
                .is_empty()
        );

        // A closed case writes no tasks: its rows go.
        store.project_tasks(&projection(1, 4, &[])).await.unwrap();
        assert_eq!(store.all_open_tasks().await.unwrap().len(), 2);
        assert_eq!(
            store
                .task_revision(&CaseRef::from_entropy(1))
                .await
                .unwrap(),
            Some(4)
        );
    }
}

#[tokio::test]
async fn overdue_tasks_past_their_programmes_grace_are_escalated_to_supervisors_once() {
    use homeward_activities::escalation::escalate;
    use homeward_activities::http_partners::{Endpoint, HttpPartner};
    use homeward_activities::notices::Templates;
    use homeward_activities::partners::Partners;
    use homeward_workflows::programme::Span;
    use homeward_workflows::tasks::TaskType::*;
    use std::sync::Arc;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let gateway = MockServer::start().await;
    let http = || {
        Arc::new(
            HttpPartner::new(
                "outreach",
                Endpoint {
                    base_url: gateway.uri().parse().expect("url"),
                    token: None,
                    timeout: std::time::Duration::from_secs(2),
                },
            )
            .expect("client"),
        )
    };
    let partners = Partners {
        travel: http(),
        payments: http(),
        outreach: http(),
        templates: Arc::new(Templates::builtin()),
        routes: Arc::new(homeward_activities::travel::Routes::default()),
        offices: Arc::new(homeward_activities::offices::Offices::default()),
    };
    let days = |d: u64| Span::new(std::time::Duration::from_secs(d * 24 * 3600));
    let grace = [
        ("nl-avrr".to_owned(), days(2)),
        ("uk-vrs".to_owned(), days(10)),
    ]
    .into_iter()
    .collect();
    // Projections start 2027-01-01 09:00; tasks due after 1 day (nl: past grace on the 4th)
    // and after 10 days (not yet); a uk-vrs task due after 1 day is within its 10-day grace.
    let now = Utc.with_ymd_and_hms(2027, 1, 5, 9, 0, 0).unwrap();
    for (store, _guard) in stores().await {
        gateway.reset().await;
        store
            .project_tasks(&projection(
                1,
                1,
                &[(1, EligibilityApproval, None, 1), (2, Consent, None, 10)],
            ))
            .await
            .unwrap();
        let mut uk = projection(2, 1, &[(1, EligibilityApproval, None, 1)]);
        uk.programme = "uk-vrs".into();
        store.project_tasks(&uk).await.unwrap();

        // The gateway is down: nothing is marked, the sweep fails and will be retried.
        Mock::given(method("POST"))
            .and(path("/messages"))
            .respond_with(ResponseTemplate::new(503))
            .up_to_n_times(1)
            .mount(&gateway)
            .await;
        assert!(escalate(&store, &partners, &grace, now).await.is_err());
        Mock::given(method("POST"))
            .and(path("/messages"))
            .respond_with(
                ResponseTemplate::new(202).set_body_json(serde_json::json!({"status": "queued"})),
            )
            .mount(&gateway)
            .await;
        assert_eq!(escalate(&store, &partners, &grace, now).await.unwrap(), 1);
        // Once per task: the next sweep sends nothing.
        assert_eq!(escalate(&store, &partners, &grace, now).await.unwrap(), 0);

        let sent = gateway.received_requests().await.unwrap();
        assert_eq!(sent.len(), 2, "the failed attempt and the notice");
        let reference = CaseRef::from_entropy(1);
        for request in &sent {
            // Both attempts carry the same key: the gateway sends the notice once.
            assert_eq!(
                request.headers.get("idempotency-key").unwrap(),
                &format!("{reference}:task_overdue:1")
            );
        }
        let body: serde_json::Value = serde_json::from_slice(&sent[1].body).unwrap();
        assert_eq!(body["to"]["audience"], "supervisors");
        assert_eq!(body["to"]["case"], reference.as_str());
        assert_eq!(body["template"], "task_overdue");
        assert!(
            body["text"]
                .as_str()
                .unwrap()
                .contains("eligibility approval"),
            "{body}"
        );
        let audit = store.audit_trail(&reference).await.unwrap();
        assert_eq!(
            audit
                .iter()
                .filter(|e| e.event.action == "task_escalated")
                .count(),
            1
        );
        // The uk-vrs case's task is escalated once its own grace is over.
        let later = now + Duration::days(8);
        assert_eq!(escalate(&store, &partners, &grace, later).await.unwrap(), 1);
    }
}

/// Grants paid are counted per month and currency (the dashboard's chart and the donors'
/// figures), within the reader's scope; a case's stages read back in order for its timeline.
#[tokio::test]
async fn grants_are_counted_per_month_and_a_cases_stages_read_back_in_order() {
    use homeward_workflows::activities::CaseOutcome;
    use homeward_workflows::programme::Money;
    use homeward_workflows::tasks::Scope;
    for (store, _guard) in stores().await {
        let c = case(rand_u64());
        store.record_case_opened(&c).await.unwrap();
        let at = |m: u32, d: u32| Utc.with_ymd_and_hms(2027, m, d, 10, 0, 0).unwrap();
        for (tranche, month, day, minor) in
            [(0, 1, 5, 30_000), (1, 1, 28, 20_000), (2, 3, 2, 50_000)]
        {
            store
                .record_outcome(&CaseOutcome::TranchePaid {
                    reference: c.reference.clone(),
                    tranche,
                    amount: Money {
                        minor,
                        currency: "EUR".into(),
                    },
                    at: at(month, day),
                })
                .await
                .unwrap();
        }
        let stats = store
            .statistics(&Scope::HostCountry("NLD".into()))
            .await
            .unwrap();
        let month = |m: &str| {
            stats
                .grants_by_month
                .get(m)
                .and_then(|c| c.get("EUR"))
                .map(|g| (g.amount_minor, g.tranches))
        };
        assert_eq!(
            month("2027-01"),
            Some((50_000, 2)),
            "{:?}",
            stats.grants_by_month
        );
        assert_eq!(month("2027-03"), Some((50_000, 1)));
        assert_eq!(stats.grants_by_month.len(), 2);
        let other = store
            .statistics(&Scope::HostCountry("GBR".into()))
            .await
            .unwrap();
        assert!(other.grants_by_month.is_empty(), "another office's grants");

        // Sustainability scores, averaged per follow-up round.
        for (follow_up, economic) in [(0, 0.5), (1, 0.75)] {
            store
                .record_outcome(&CaseOutcome::Scored {
                    reference: c.reference.clone(),
                    follow_up,
                    scores: homeward_workflows::tasks::RssScores {
                        economic,
                        social: 0.5,
                        psychosocial: 0.5,
                        composite: 0.5,
                    },
                    at: at(4, 1 + follow_up),
                })
                .await
                .unwrap();
        }
        let stats = store
            .statistics(&Scope::HostCountry("NLD".into()))
            .await
            .unwrap();
        let rounds: Vec<(i64, Option<f64>)> = stats
            .rss_by_round
            .iter()
            .map(|(round, r)| (*round, r.economic))
            .collect();
        assert_eq!(rounds, [(1, Some(0.5)), (2, Some(0.75))]);
        assert_eq!(stats.rss.follow_ups, 2);

        store
            .record_stage(&c.reference, Stage::Consent, at(1, 2))
            .await
            .unwrap();
        store
            .record_stage(&c.reference, Stage::EligibilityApproval, at(1, 3))
            .await
            .unwrap();
        let stages: Vec<String> = store
            .stage_history(&c.reference)
            .await
            .unwrap()
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(
            stages.last().map(String::as_str),
            Some("eligibility_approval"),
            "{stages:?}"
        );
        assert!(
            stages.iter().position(|s| s == "consent")
                < stages.iter().position(|s| s == "eligibility_approval")
        );
    }
}

/// The request for travel documents carries the request pack of the members who agreed to share
/// with the consulate (read from the vault now, and audited), from the case's office, in the
/// consulate's language; without an office contact it waits for the configuration, and without
/// anyone's consent it goes without a pack. A reminder carries none.
#[tokio::test]
async fn the_consulates_request_carries_the_pack_of_the_members_who_agreed() {
    use homeward_activities::http_partners::{Endpoint, HttpPartner};
    use homeward_activities::notices::Templates;
    use homeward_activities::offices::Offices;
    use homeward_activities::partners::{Partners, prepare_notice};
    use homeward_workflows::activities::{Audience, Notice, NoticeTemplate};
    use homeward_workflows::domain::Language;
    use std::sync::Arc;

    // Never called: the notice is prepared, not sent.
    let unused = Arc::new(
        HttpPartner::new(
            "outreach",
            Endpoint {
                base_url: "http://127.0.0.1:9".parse().expect("url"),
                token: None,
                timeout: std::time::Duration::from_secs(1),
            },
        )
        .expect("client"),
    );
    let offices: Offices = serde_json::from_value(serde_json::json!({"NLD": {
        "name": "Return office The Hague (placeholder)",
        "email": "returns@nld.example.org",
        "phone": "+31700000000",
    }}))
    .expect("offices");
    let templates = Templates::builtin().with_consulate_languages(
        [(
            CountryCode::parse("MAR").unwrap(),
            Language::parse("fr").unwrap(),
        )]
        .into(),
    );
    let partners = |offices: Offices| Partners {
        travel: unused.clone(),
        payments: unused.clone(),
        outreach: unused.clone(),
        templates: Arc::new(templates.clone()),
        routes: Arc::new(homeward_activities::travel::Routes::default()),
        offices: Arc::new(offices),
    };
    let person =
        |given: &str, family: &str, consulate: bool| -> homeward_workflows::person::Person {
            serde_json::from_value(serde_json::json!({
            "names": {"document": {"given": given, "family": family}},
            "sex": "male",
            "date_of_birth": "1985",
            "place_of_birth": "Oujda",
            "nationality": "MAR",
            "documents": [{"kind": "passport", "number": "XK1234567", "issuing_country": "MAR"}],
            "phone": "+212612345678",
            "consents": [{"purpose": "consulate", "given": consulate, "recorded_by": "u-1",
                          "recorded_at": "2026-11-01T09:00:00Z"}]
        }))
        .expect("a person")
        };
    let notice = |c: &OpenCase, template| Notice {
        idempotency_key: format!("{}:{template}:1", c.reference),
        reference: c.reference.clone(),
        template,
        audience: Audience::Consulate,
        language: None,
        task: None,
        flight: None,
        safe_phone_only: false,
    };
    let contains = |pdf: &[u8], text: &str| pdf.windows(text.len()).any(|w| w == text.as_bytes());
    for (store, _guard) in stores().await {
        let v = vault(&store, [1; 32], vec![]);
        let mut c = case(rand_u64());
        c.intake.origin_country = CountryCode::parse("MAR").unwrap();
        store.record_case_opened(&c).await.unwrap();
        v.put(
            &c.reference,
            0,
            &person("Youssef", "BENALI", true),
            c.opened_at,
        )
        .await
        .unwrap();
        v.put(
            &c.reference,
            1,
            &person("Samir", "ELIDRISSI", false),
            c.opened_at,
        )
        .await
        .unwrap();
        v.put(
            &c.reference,
            2,
            &person("Karim", "BENALI", true),
            c.opened_at,
        )
        .await
        .unwrap();

        let (message, phone) = prepare_notice(
            &partners(offices.clone()),
            &v,
            notice(&c, NoticeTemplate::DocumentsRequested),
        )
        .await
        .expect("prepared");
        assert_eq!((message.language.as_str(), phone), ("fr", None));
        assert!(message.text.contains("jointe"), "{}", message.text);
        assert_eq!(message.attachments.len(), 1);
        let pdf = &message.attachments[0].content;
        assert!(pdf.starts_with(b"%PDF-"));
        for text in [
            "(Youssef) Tj",
            "(Karim) Tj",
            "(1985) Tj",
            "(XK1234567) Tj",
            "(Family name / Nom de famille) Tj",
        ] {
            assert!(contains(pdf, text), "{text}");
        }
        assert!(!contains(pdf, "ELIDRISSI"), "no consent, not in the pack");
        assert!(!contains(pdf, "+212612345678"), "no phone for a consulate");
        let shares: Vec<String> = store
            .audit_trail(&c.reference)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event.action == "personal_data_shared")
            .filter_map(|e| e.event.detail)
            .collect();
        assert_eq!(
            shares,
            [
                "consulate: members 0,2; fields name,sex,date_of_birth,place_of_birth,nationality,documents"
            ]
        );

        // A reminder: the consulate's language, no pack, nothing shared.
        let (reminder, _) = prepare_notice(
            &partners(offices.clone()),
            &v,
            notice(&c, NoticeTemplate::DocumentsReminder),
        )
        .await
        .expect("prepared");
        assert_eq!(
            (reminder.language.as_str(), reminder.attachments.len()),
            ("fr", 0)
        );

        // The office has no contact configured: retried until it has (no pack without one).
        assert!(
            prepare_notice(
                &partners(Offices::default()),
                &v,
                notice(&c, NoticeTemplate::DocumentsRequested),
            )
            .await
            .is_err()
        );

        // No one agreed (or the data was erased): the notice goes without a pack.
        let none = case(rand_u64());
        store.record_case_opened(&none).await.unwrap();
        v.put(
            &none.reference,
            0,
            &person("Samir", "ELIDRISSI", false),
            none.opened_at,
        )
        .await
        .unwrap();
        let (bare, _) = prepare_notice(
            &partners(offices.clone()),
            &v,
            notice(&none, NoticeTemplate::DocumentsRequested),
        )
        .await
        .expect("prepared");
        assert_eq!((bare.language.as_str(), bare.attachments.len()), ("en", 0));
    }
}

/// Links are kept in both directions and audited on both cases; message receipts keep the
/// latest word per message. On SQLite and PostgreSQL.
#[tokio::test]
async fn links_and_message_receipts_are_kept_alike_on_both_databases() {
    use homeward_activities::http_partners::message_receipts::Receipt;
    use homeward_activities::links::{LinkKind, Linker};
    use homeward_activities::notices::Delivery;
    for (store, _guard) in stores().await {
        let (a, b) = (case(71), case(72));
        let by = Linker {
            id: "u1".into(),
            role: "return_officer".into(),
        };
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let pair = (&a.reference, &b.reference);
        assert!(
            store
                .link_cases(pair, LinkKind::Family, true, &by, at)
                .await
                .unwrap()
        );
        assert!(
            !store
                .link_cases(pair, LinkKind::Group, false, &by, at)
                .await
                .unwrap()
        );
        let seen = store.links_of(&b.reference).await.unwrap();
        assert_eq!(seen.len(), 1, "{:?}", store.backend());
        assert_eq!(
            (&seen[0].case, seen[0].kind, seen[0].departs_together),
            (&a.reference, LinkKind::Group, false)
        );
        let trail = store.audit_trail(&a.reference).await.unwrap();
        assert_eq!(
            trail
                .iter()
                .filter(|e| e.event.action == "case_linked")
                .count(),
            2
        );
        assert!(store.unlink_cases(pair, &by, at).await.unwrap());
        assert!(!store.unlink_cases(pair, &by, at).await.unwrap());
        assert!(store.links_of(&a.reference).await.unwrap().is_empty());

        let key = format!("{}:flight_details:3", a.reference);
        let receipt = |delivery| Receipt {
            id: format!("evt_{key}_{delivery:?}"),
            reference: a.reference.clone(),
            idempotency_key: key.clone(),
            delivery,
            error_code: None,
        };
        store
            .record_message_receipt(&receipt(Delivery::NotDelivered), at)
            .await
            .unwrap();
        store
            .record_message_receipt(&receipt(Delivery::Delivered), at + Duration::minutes(5))
            .await
            .unwrap();
        let messages = store.message_receipts(&a.reference).await.unwrap();
        assert_eq!(messages.len(), 1, "{:?}", store.backend());
        assert!(messages[0].delivered);
        assert_eq!(messages[0].template, "flight_details");
    }
}

/// Suppliers are kept per office, listed by name, read back by id, and their registration is
/// audited. On SQLite and PostgreSQL.
#[tokio::test]
async fn suppliers_are_registered_per_office_alike_on_both_databases() {
    for (store, _guard) in stores().await {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let tools = store
            .add_supplier(
                "NLD",
                ("Erbil Tools Ltd", "GB82WEST12345698765432"),
                ("u-fin", "finance"),
                at,
            )
            .await
            .unwrap();
        store
            .add_supplier(
                "NLD",
                ("Baghdad Bakery Supplies", "GB33BUKB20201555555555"),
                ("u-fin", "finance"),
                at,
            )
            .await
            .unwrap();
        store
            .add_supplier(
                "GBR",
                ("London Tools", "GB82WEST12345698765432"),
                ("u-uk", "finance"),
                at,
            )
            .await
            .unwrap();
        assert!(homeward_activities::suppliers::is_supplier_id(&tools.id));
        let names: Vec<String> = store
            .suppliers("NLD")
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(
            names,
            ["Baghdad Bakery Supplies", "Erbil Tools Ltd"],
            "{:?}",
            store.backend()
        );
        assert_eq!(
            store.supplier(&tools.id).await.unwrap(),
            Some(tools.clone())
        );
        assert_eq!(store.supplier("sup-0000000000000000").await.unwrap(), None);
        let trail = store.audit_export(None, 0, 1000).await.unwrap();
        assert!(
            trail.iter().any(|e| e.event.action == "supplier_registered"
                && e.event.detail.as_deref() == Some(&format!("{} for office NLD", tools.id))),
            "{:?}",
            store.backend()
        );
    }
}

/// A restricted case keeps who is named on it; naming and removing are audited; a plain case
/// is not restricted. On SQLite and PostgreSQL.
#[tokio::test]
async fn restricted_cases_keep_their_named_staff_alike_on_both_databases() {
    for (store, _guard) in stores().await {
        let (a, plain) = (case(81), case(82));
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        store.restrict_case(&a.reference, "u-a", at).await.unwrap();
        store.restrict_case(&a.reference, "u-a", at).await.unwrap();
        assert_eq!(store.case_access(&plain.reference).await.unwrap(), None);
        assert!(
            store
                .grant_access(&a.reference, "u-b", ("u-a", "return_officer"), at)
                .await
                .unwrap()
        );
        assert!(
            !store
                .grant_access(&a.reference, "u-b", ("u-a", "return_officer"), at)
                .await
                .unwrap()
        );
        let named: Vec<String> = store
            .case_access(&a.reference)
            .await
            .unwrap()
            .expect("restricted")
            .into_iter()
            .map(|x| x.user)
            .collect();
        assert_eq!(named, ["u-a", "u-b"], "{:?}", store.backend());
        let among = store
            .restricted_among(&[a.reference.clone(), plain.reference.clone()])
            .await
            .unwrap();
        assert_eq!(among.len(), 1);
        assert!(
            store
                .revoke_access(&a.reference, "u-b", ("u-sup", "operations"), at)
                .await
                .unwrap()
        );
        assert!(
            !store
                .revoke_access(&a.reference, "u-b", ("u-sup", "operations"), at)
                .await
                .unwrap()
        );
        let trail = store.audit_trail(&a.reference).await.unwrap();
        let actions: Vec<&str> = trail.iter().map(|e| e.event.action.as_str()).collect();
        assert_eq!(actions, ["case_access_granted", "case_access_revoked"]);
    }
}
