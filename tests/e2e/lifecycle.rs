//! The ReturnCase lifecycle on the real time-skipping test server: a full year in seconds, and
//! one test per branch.

use homeward_devkit::ledger::Confirmation;

use crate::support::lifecycle::{
    Lifecycle, child_protection, days, finance, officer, ops, partner,
};

pub(crate) fn hours(n: u64) -> std::time::Duration {
    std::time::Duration::from_secs(n * 3600)
}
use homeward_workflows::activities::{Audience, NoticeTemplate, PaymentSettlement, PaymentState};
use homeward_workflows::domain::Stage;
use homeward_workflows::return_case::{ClosureReason, Compensation, ReturnCase};
use homeward_workflows::tasks::{
    CounsellingDecision, Resolution, RssAnswers, SupportArea, TaskOutcome, TaskType,
};

pub(crate) fn wants_to_return() -> TaskOutcome {
    TaskOutcome::Counselling {
        decision: CounsellingDecision::WantsToReturn,
    }
}
pub(crate) fn approve() -> TaskOutcome {
    TaskOutcome::Approval { approved: true }
}
pub(crate) fn signed() -> TaskOutcome {
    TaskOutcome::Consent { signed: true }
}
pub(crate) fn survey(score: u8) -> TaskOutcome {
    TaskOutcome::Survey {
        reached: true,
        answers: Some(RssAnswers {
            economic: [score; 5],
            social: [score; 5],
            psychosocial: [score; 5],
        }),
    }
}

/// What each tranche paid, in order: (tranche, minor units).
fn paid_by_tranche(view: &homeward_workflows::return_case::CaseView) -> Vec<(String, i64)> {
    view.facts
        .payments
        .iter()
        .map(|p| (p.tranche.clone(), p.amount.minor))
        .collect()
}

/// Counselling, consent from both adults and eligibility approval.
pub(crate) async fn to_documents(lc: &Lifecycle, r: &str) {
    lc.complete(
        r,
        TaskType::CounsellingSession,
        officer(),
        wants_to_return(),
    )
    .await;
    lc.complete(r, TaskType::Consent, officer(), signed()).await;
    lc.complete(r, TaskType::Consent, officer(), signed()).await;
    lc.complete(r, TaskType::EligibilityApproval, ops(), approve())
        .await;
}

/// Records a travel document valid for a year.
pub(crate) async fn record_document(lc: &Lifecycle, r: &str) {
    let expires_on = (lc.now().await + chrono::Duration::days(365)).date_naive();
    lc.complete(
        r,
        TaskType::TravelDocument,
        officer(),
        TaskOutcome::TravelDocument { expires_on },
    )
    .await;
}

/// Waits for the booking, then lets time pass to the flight.
pub(crate) async fn to_flight_day(lc: &Lifecycle, r: &str) -> String {
    let view = lc
        .wait_for(r, "a booked flight", |v| {
            v.stage == Stage::Departure && v.facts.order.is_some()
        })
        .await;
    let order = view.facts.order.expect("order");
    lc.advance_to(order.departs_at + chrono::Duration::hours(1))
        .await;
    lc.task(r, TaskType::DepartureConfirmation).await;
    order.order_id
}

/// From the travel document to an approved plan (the run then continues as new).
pub(crate) async fn to_reintegration(lc: &Lifecycle, r: &str) {
    to_plan(lc, r).await;
    lc.complete(
        r,
        TaskType::ReintegrationPlan,
        partner(),
        TaskOutcome::Plan {
            support: vec![SupportArea::Economic],
            lines: vec![],
        },
    )
    .await;
    lc.complete(r, TaskType::PlanApproval, ops(), approve())
        .await;
}

/// From the travel document to the returnees received and their baseline survey, the plan
/// next.
pub(crate) async fn to_plan(lc: &Lifecycle, r: &str) {
    to_arrival(lc, r).await;
    lc.complete(r, TaskType::BaselineSurvey, partner(), survey(4))
        .await;
}

/// From the travel document to the returnees received.
pub(crate) async fn to_arrival(lc: &Lifecycle, r: &str) {
    record_document(lc, r).await;
    to_flight_day(lc, r).await;
    lc.complete(
        r,
        TaskType::DepartureConfirmation,
        officer(),
        TaskOutcome::Departure {
            departed: true,
            changed_mind: false,
        },
    )
    .await;
    lc.complete(
        r,
        TaskType::ArrivalConfirmation,
        partner(),
        TaskOutcome::Arrival {
            received: true,
            hand_over: None,
        },
    )
    .await;
}

/// Verifies and approves the next tranche; in kind, finance record the supplier's invoice.
pub(crate) async fn pay_next_tranche(lc: &Lifecycle, r: &str) {
    let verify = lc.task(r, TaskType::MilestoneVerification).await;
    let index = usize::try_from(verify.subject.unwrap_or(0)).expect("index");
    lc.complete(
        r,
        TaskType::MilestoneVerification,
        partner(),
        TaskOutcome::Milestone {
            reached: true,
            amended_lines: None,
        },
    )
    .await;
    lc.complete(r, TaskType::TrancheApproval, finance(), approve())
        .await;
    if lc.tranche_kind(r, index).await == homeward_workflows::programme::PaymentKind::InKind {
        lc.invoice(r).await;
    }
}

#[tokio::test]
async fn a_full_twelve_month_case_completes_in_seconds() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    to_reintegration(&lc, &r).await;

    // Reintegration: the cash tranche (on arrival) and the start tranche (plan approved).
    pay_next_tranche(&lc, &r).await;
    pay_next_tranche(&lc, &r).await;
    // 3 months: the first survey.
    lc.advance(days(92)).await;
    lc.complete(&r, TaskType::MonitoringSurvey, partner(), survey(4))
        .await;
    // 6 months: the review tranche, then the survey.
    lc.advance(days(92)).await;
    pay_next_tranche(&lc, &r).await;
    lc.complete(&r, TaskType::MonitoringSurvey, partner(), survey(4))
        .await;
    // 12 months: the last survey, then the support period ends.
    lc.advance(days(183)).await;
    lc.complete(&r, TaskType::MonitoringSurvey, partner(), survey(5))
        .await;
    lc.advance(days(5)).await;

    let closure = lc.closure(&r).await;
    assert_eq!(closure.reason, ClosureReason::SupportPeriodEnded);
    let view = lc.view(&r).await;
    assert_eq!(view.stage, Stage::Closed);
    assert_eq!(view.facts.payments.len(), 3);
    // NL: two adults; EUR 615 each after arrival, start EUR 1,500 each in kind, review EUR 500
    // each.
    let paid = paid_by_tranche(&view);
    assert_eq!(
        paid,
        [
            ("cash".to_owned(), 123000),
            ("start".to_owned(), 300000),
            ("six-month-review".to_owned(), 100000)
        ]
    );
    assert_eq!(view.facts.scores.len(), 3);
    let ledger = lc.ledger.snapshot();
    assert_eq!(ledger.orders.len(), 1);
    assert_eq!(ledger.payments.len(), 3);
    // Two runs (continue-as-new after the plan), each small, both replaying cleanly.
    let events = lc.replay(&r).await;
    eprintln!("history events per run (newest first): {events:?}");
    assert_eq!(events.len(), 2);
    assert!(events.iter().sum::<usize>() < 1000, "{events:?}");
    lc.stop().await;
}

/// In-kind support is paid to a supplier of the office against its invoice: finance register
/// the supplier (name and IBAN; bad input named), record the invoice on the tranche (never more
/// than the grant, only in its currency, only a supplier of the case's own office), and the
/// provider is paid the invoiced amount with the supplier as payee; the returnee gets no
/// "payment sent to you" for it.
#[tokio::test]
async fn an_in_kind_tranche_is_paid_to_the_offices_supplier_against_its_invoice() {
    use crate::support::client_with_key;
    use homeward_workflows::tasks::Role;
    use serde_json::{Value, json};
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    to_reintegration(&lc, &r).await;
    pay_next_tranche(&lc, &r).await; // cash, to the returnee
    lc.wait_for(&r, "the cash tranche paid", |v| v.facts.payments.len() == 1)
        .await;

    // The register: finance of the office add a supplier; others may not.
    let finance_key = client_with_key(&lc.key("finance", Some("NLD")).await);
    let uk_finance = client_with_key(&lc.key("finance", Some("GBR")).await);
    let partner_key = client_with_key(&lc.key("partner", Some("NLD/IRQ")).await);
    let add = |client: &reqwest::Client, body: Value| {
        let req = client.post(lc.api_url("/api/v1/suppliers")).json(&body);
        async move {
            let resp = req.send().await.expect("post");
            (
                resp.status().as_u16(),
                resp.json::<Value>().await.unwrap_or_default(),
            )
        }
    };
    let (status, err) = add(
        &finance_key,
        json!({"name": " ", "iban": "NL91ABNA0417164301"}),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["fields"]["name"].is_string() && err["fields"]["iban"].is_string(),
        "{err}"
    );
    assert_eq!(
        add(
            &lc.http,
            json!({"name": "A", "iban": "GB82WEST12345698765432"})
        )
        .await
        .0,
        403
    );
    let (status, made) = add(
        &finance_key,
        json!({"name": "Erbil Bakery Supplies", "iban": "GB33BUKB20201555555555"}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    let ours = made["id"].as_str().expect("id").to_owned();
    let (status, _) = add(
        &uk_finance,
        json!({"name": "London Tools", "iban": "GB82WEST12345698765432"}),
    )
    .await;
    assert_eq!(status, 201);
    let listed: Value = finance_key
        .get(lc.api_url("/api/v1/suppliers"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let names: Vec<&str> = listed["suppliers"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["Erbil Bakery Supplies", "Erbil Tools Ltd"],
        "not the UK office's"
    );
    // The partner costs plans with them: names and ids, not the office's bank details.
    let seen: Value = partner_key
        .get(lc.api_url("/api/v1/suppliers"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let seen = seen["suppliers"].as_array().expect("list");
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s["iban"] == "" && s["name"].as_str().is_some_and(|n| !n.is_empty())),
        "{seen:?}"
    );

    // The start tranche: verified, approved, then finance record the invoice.
    lc.complete(
        &r,
        TaskType::MilestoneVerification,
        partner(),
        TaskOutcome::Milestone {
            reached: true,
            amended_lines: None,
        },
    )
    .await;
    lc.complete(&r, TaskType::TrancheApproval, finance(), approve())
        .await;
    let task = lc.task(&r, TaskType::SupplierInvoice).await;
    assert_eq!(task.role, Role::Finance);
    assert_eq!(task.note.as_deref(), Some("start: up to 3000.00 EUR"));
    // (That the API refuses another office's supplier: api_lists. The API's seal follows the
    // wall clock, which this server's skipped time has left behind, so decisions go directly.)
    let invoice = |minor: i64, currency: &str| TaskOutcome::Invoice {
        supplier: ours.clone(),
        invoice_reference: "INV-77".into(),
        amount: homeward_workflows::programme::Money {
            minor,
            currency: currency.into(),
        },
    };
    // An amount over the grant, another currency: each refused, naming why.
    let over = lc
        .try_complete(
            &r,
            TaskType::SupplierInvoice,
            finance(),
            invoice(300_001, "EUR"),
            "oven",
        )
        .await
        .expect_err("over the grant");
    assert!(over.to_string().contains("at most 3000.00 EUR"), "{over}");
    let gbp = lc
        .try_complete(
            &r,
            TaskType::SupplierInvoice,
            finance(),
            invoice(90_000, "GBP"),
            "oven",
        )
        .await
        .expect_err("another currency");
    assert!(gbp.to_string().contains("pays in EUR"), "{gbp}");
    // Within the grant: paid to the supplier, the invoiced amount.
    lc.complete(
        &r,
        TaskType::SupplierInvoice,
        finance(),
        invoice(245_050, "EUR"),
    )
    .await;
    let view = lc
        .wait_for(&r, "the start tranche paid", |v| {
            v.facts.payments.len() == 2
        })
        .await;
    assert_eq!(view.facts.payments[1].amount.minor, 245_050);
    let state = lc.ledger.snapshot();
    let (paid, _) = state
        .payments
        .get(&format!("{r}:tranche:start"))
        .expect("paid under the tranche's key");
    assert_eq!(
        paid.invoice,
        Some(homeward_workflows::activities::Invoice {
            supplier: ours.clone(),
            invoice_reference: "INV-77".into()
        })
    );
    // "Payment sent to you" went out for the cash tranche only.
    let paid_notices = state
        .notices
        .values()
        .filter(|m| m.notice.template == NoticeTemplate::TranchePaid)
        .count();
    assert_eq!(paid_notices, 1);
    lc.replay(&r).await;
    lc.stop().await;
}

fn rejection(e: temporalio_client::errors::WorkflowUpdateError) -> String {
    e.to_string()
}

#[tokio::test]
async fn an_undecided_returnee_gets_a_second_session_and_a_refusal_closes_the_case() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    let first = lc.task(&r, TaskType::CounsellingSession).await;
    let undecided = TaskOutcome::Counselling {
        decision: CounsellingDecision::Undecided,
    };
    lc.complete(&r, TaskType::CounsellingSession, officer(), undecided)
        .await;
    let second = lc
        .wait_for(&r, "a second session", |v| {
            v.tasks
                .iter()
                .any(|t| t.task_type == TaskType::CounsellingSession && t.id != first.id)
        })
        .await;
    assert_eq!(second.stage, Stage::Counselling);
    let refuse = TaskOutcome::Counselling {
        decision: CounsellingDecision::DoesNotWantToReturn,
    };
    lc.try_complete(
        &r,
        TaskType::CounsellingSession,
        officer(),
        refuse,
        "wants to stay",
    )
    .await
    .expect("refusal recorded");
    let closure = lc.closure(&r).await;
    assert_eq!(closure.reason, ClosureReason::DoesNotWantToReturn);
    assert_eq!(lc.view(&r).await.decisions.len(), 2);
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn consent_not_given_in_time_sends_the_case_back_to_counselling() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    lc.complete(
        &r,
        TaskType::CounsellingSession,
        officer(),
        wants_to_return(),
    )
    .await;
    lc.complete(&r, TaskType::Consent, officer(), signed())
        .await;
    // One adult signed; the other did not within the programme's 7 days.
    lc.advance(days(8)).await;
    let view = lc
        .wait_for(&r, "counselling again", |v| {
            v.stage == Stage::Counselling
                && v.tasks
                    .iter()
                    .any(|t| t.task_type == TaskType::CounsellingSession)
        })
        .await;
    assert!(!view.tasks.iter().any(|t| t.task_type == TaskType::Consent));
    let notices = lc.ledger.snapshot().notices;
    assert!(
        notices
            .values()
            .any(|n| n.notice.template == NoticeTemplate::ConsentExpired)
    );
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn withdrawal_at_each_stage_before_departure_unwinds_the_case() {
    let lc = Lifecycle::start().await;
    // Withdraw at counselling, consent, eligibility, documents and on the day of the flight.
    let mut cases = Vec::new();
    for stop_at in 0..5 {
        let r = lc.open_standard().await;
        if stop_at >= 1 {
            lc.complete(
                &r,
                TaskType::CounsellingSession,
                officer(),
                wants_to_return(),
            )
            .await;
            lc.task(&r, TaskType::Consent).await;
        }
        if stop_at >= 2 {
            lc.complete(&r, TaskType::Consent, officer(), signed())
                .await;
            lc.complete(&r, TaskType::Consent, officer(), signed())
                .await;
            lc.task(&r, TaskType::EligibilityApproval).await;
        }
        if stop_at >= 3 {
            lc.complete(&r, TaskType::EligibilityApproval, ops(), approve())
                .await;
            lc.task(&r, TaskType::TravelDocument).await;
        }
        let mut order = None;
        if stop_at >= 4 {
            record_document(&lc, &r).await;
            order = Some(to_flight_day(&lc, &r).await);
        }
        lc.withdraw(&r).await.expect("withdrawal accepted");
        let closure = lc.closure(&r).await;
        assert_eq!(
            closure.reason,
            ClosureReason::ConsentWithdrawn,
            "stop {stop_at}"
        );
        let view = lc.view(&r).await;
        assert!(
            view.tasks.is_empty(),
            "open tasks after withdrawal: {:?}",
            view.tasks
        );
        // The returnee never agreed to the consulate being contacted: it was not asked for a
        // document, and it is not told of the withdrawal either.
        assert!(
            !view
                .facts
                .compensations
                .contains(&Compensation::PartnerNotified),
            "stop {stop_at}"
        );
        assert_eq!(consulate_notices(&lc, &r), [], "stop {stop_at}");
        if let Some(order) = &order {
            assert!(
                view.facts
                    .compensations
                    .contains(&Compensation::OrderCancelled {
                        order_id: order.clone()
                    })
            );
            assert!(lc.ledger.snapshot().cancelled.contains(order));
        }
        assert!(view.facts.payments.is_empty());
        cases.push(r);
    }
    // A closed case takes no second withdrawal.
    let again = lc.withdraw(&cases[0]).await;
    assert!(again.is_err());
    for r in &cases {
        lc.replay(r).await;
    }
    lc.stop().await;
}

#[tokio::test]
async fn withdrawal_after_departure_is_refused() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    record_document(&lc, &r).await;
    to_flight_day(&lc, &r).await;
    lc.complete(
        &r,
        TaskType::DepartureConfirmation,
        officer(),
        TaskOutcome::Departure {
            departed: true,
            changed_mind: false,
        },
    )
    .await;
    lc.task(&r, TaskType::ArrivalConfirmation).await;
    let err = lc.withdraw(&r).await.expect_err("refused");
    assert!(rejection(err).contains("task_not_open"));
    lc.replay(&r).await;
    lc.stop().await;
}

/// An unaccompanied child from intake to consent given.
fn child_intake(born: Option<chrono::NaiveDate>) -> serde_json::Value {
    let mut intake = serde_json::json!({
        "programme": "nl-avrr", "host_country": "NLD", "origin_country": "IRQ",
        "household_size": 1,
        "members": [{"age_group": "minor_under16", "vulnerabilities": ["unaccompanied_child"]}]
    });
    if let Some(born) = born {
        intake["people"] = serde_json::json!([{
            "names": {"document": {"given": "Sami", "family": "Karim4471"}},
            "sex": "male", "date_of_birth": born.to_string(),
            "destination": {"place": "Erbil", "nearest_airport": "EBL"},
            "consents": [{"purpose": "travel_partner", "given": true}]
        }]);
    }
    intake
}

/// The open task types, sorted.
async fn open_tasks(lc: &Lifecycle, r: &str) -> Vec<TaskType> {
    let mut open: Vec<TaskType> = lc.view(r).await.tasks.iter().map(|t| t.task_type).collect();
    open.sort();
    open
}

/// Counselling, then an unaccompanied child's sequence, every step for return: the family
/// assessment at origin, the best-interests determination, the child's views and the
/// guardian's consent.
async fn decide_childs_return(lc: &Lifecycle, r: &str) {
    lc.complete(
        r,
        TaskType::CounsellingSession,
        officer(),
        wants_to_return(),
    )
    .await;
    let yes = TaskOutcome::Assessment {
        supports_return: true,
    };
    lc.complete(r, TaskType::FamilyAssessment, partner(), yes.clone())
        .await;
    lc.complete(
        r,
        TaskType::BestInterestsDetermination,
        child_protection(),
        yes,
    )
    .await;
    lc.complete(
        r,
        TaskType::ChildViews,
        officer(),
        TaskOutcome::ChildViews {
            heard: true,
            wants_to_return: true,
        },
    )
    .await;
    lc.complete(r, TaskType::GuardianConsent, officer(), signed())
        .await;
}

/// An unaccompanied child's return is decided in sequence (DOMAIN.md, "Informed consent"):
/// the family assessment in the country of origin by the reception partner, due on its own
/// deadline (weeks, not the 7-day consent timer); then the best-interests determination by a
/// child protection officer, never the return officer; then the child's views and the
/// guardian's consent. Nothing else moves before, and a negative assessment closes the case as
/// not in the child's best interests.
#[tokio::test]
async fn an_unaccompanied_childs_return_is_decided_in_sequence() {
    let lc = Lifecycle::start().await;
    let r = lc.open(child_intake(None)).await;
    lc.complete(
        &r,
        TaskType::CounsellingSession,
        officer(),
        wants_to_return(),
    )
    .await;
    let view = lc
        .wait_for(&r, "the family assessment", |v| {
            v.stage == Stage::Consent && !v.tasks.is_empty()
        })
        .await;
    assert_eq!(open_tasks(&lc, &r).await, [TaskType::FamilyAssessment]);
    let task = &view.tasks[0];
    assert_eq!(task.role, homeward_workflows::tasks::Role::Partner);
    assert_eq!(
        task.due_at.map(|d| d - task.opened_at),
        Some(chrono::Duration::days(42)),
        "its own deadline"
    );
    let yes = TaskOutcome::Assessment {
        supports_return: true,
    };
    // Made at origin: not by the host-country officer, nor by another country's partner.
    let err = lc
        .try_complete(&r, TaskType::FamilyAssessment, officer(), yes.clone(), "")
        .await
        .expect_err("the officer");
    assert!(rejection(err).contains("wrong_role"));
    let afg = homeward_workflows::tasks::Actor {
        country: Some("AFG".into()),
        ..partner()
    };
    let err = lc
        .try_complete(&r, TaskType::FamilyAssessment, afg, yes.clone(), "")
        .await
        .expect_err("another country's partner");
    assert!(rejection(err).contains("out_of_scope"));
    // Past the consent deadline, the assessment is still awaited: its deadline is its own.
    lc.advance(days(8)).await;
    assert_eq!(open_tasks(&lc, &r).await, [TaskType::FamilyAssessment]);
    lc.complete(&r, TaskType::FamilyAssessment, partner(), yes.clone())
        .await;
    lc.wait_for(&r, "the determination", |v| {
        v.tasks
            .iter()
            .any(|t| t.task_type == TaskType::BestInterestsDetermination)
    })
    .await;
    assert_eq!(
        open_tasks(&lc, &r).await,
        [TaskType::BestInterestsDetermination]
    );
    let err = lc
        .try_complete(
            &r,
            TaskType::BestInterestsDetermination,
            officer(),
            yes.clone(),
            "",
        )
        .await
        .expect_err("the officer who asked");
    assert!(rejection(err).contains("wrong_role"));
    lc.complete(
        &r,
        TaskType::BestInterestsDetermination,
        child_protection(),
        yes.clone(),
    )
    .await;
    let view = lc
        .wait_for(&r, "the child and the guardian", |v| {
            v.tasks.iter().any(|t| t.task_type == TaskType::ChildViews)
        })
        .await;
    assert_eq!(
        open_tasks(&lc, &r).await,
        [TaskType::GuardianConsent, TaskType::ChildViews]
    );
    let views = view
        .tasks
        .iter()
        .find(|t| t.task_type == TaskType::ChildViews)
        .expect("views");
    assert_eq!(views.subject, Some(0), "the child");
    // A view without the child heard is no view.
    let err = lc
        .try_complete(
            &r,
            TaskType::ChildViews,
            officer(),
            TaskOutcome::ChildViews {
                heard: false,
                wants_to_return: true,
            },
            "too young",
        )
        .await
        .expect_err("no view");
    assert!(rejection(err).contains("wants_to_return"));
    lc.complete(
        &r,
        TaskType::ChildViews,
        officer(),
        TaskOutcome::ChildViews {
            heard: true,
            wants_to_return: true,
        },
    )
    .await;
    assert!(
        !open_tasks(&lc, &r)
            .await
            .contains(&TaskType::EligibilityApproval)
    );
    lc.complete(&r, TaskType::GuardianConsent, officer(), signed())
        .await;
    lc.task(&r, TaskType::EligibilityApproval).await;

    // A family assessment against return closes the case before any determination.
    let r2 = lc.open(child_intake(None)).await;
    lc.complete(
        &r2,
        TaskType::CounsellingSession,
        officer(),
        wants_to_return(),
    )
    .await;
    lc.try_complete(
        &r2,
        TaskType::FamilyAssessment,
        partner(),
        TaskOutcome::Assessment {
            supports_return: false,
        },
        "no safe family placement",
    )
    .await
    .expect("recorded");
    assert_eq!(
        lc.closure(&r2).await.reason,
        ClosureReason::NotInChildsBestInterests
    );
    assert!(
        !lc.view(&r2)
            .await
            .decisions
            .iter()
            .any(|d| d.what == "best_interests_determination")
    );

    // A child, heard, who does not want to go home does not.
    let r3 = lc.open(child_intake(None)).await;
    lc.complete(
        &r3,
        TaskType::CounsellingSession,
        officer(),
        wants_to_return(),
    )
    .await;
    lc.complete(&r3, TaskType::FamilyAssessment, partner(), yes.clone())
        .await;
    lc.complete(
        &r3,
        TaskType::BestInterestsDetermination,
        child_protection(),
        yes,
    )
    .await;
    lc.try_complete(
        &r3,
        TaskType::ChildViews,
        officer(),
        TaskOutcome::ChildViews {
            heard: true,
            wants_to_return: false,
        },
        "wants to finish school here",
    )
    .await
    .expect("recorded");
    assert_eq!(
        lc.closure(&r3).await.reason,
        ClosureReason::DoesNotWantToReturn
    );
    lc.replay(&r).await;
    lc.replay(&r2).await;
    lc.replay(&r3).await;
    lc.stop().await;
}

#[tokio::test]
async fn a_document_that_expires_before_the_flight_is_rejected() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    let soon = (lc.now().await + chrono::Duration::days(20)).date_naive();
    let err = lc
        .try_complete(
            &r,
            TaskType::TravelDocument,
            officer(),
            TaskOutcome::TravelDocument { expires_on: soon },
            "",
        )
        .await
        .expect_err("rejected");
    let message = rejection(err);
    assert!(
        message.contains("invalid") && message.contains("expires_on"),
        "{message}"
    );
    // The task is still open and takes a valid document.
    record_document(&lc, &r).await;
    lc.wait_for(&r, "booking", |v| v.facts.order.is_some())
        .await;
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn late_documents_send_reminders_then_escalate() {
    let lc = Lifecycle::start().await;
    let r = lc.open_consulate_agreed(&[]).await;
    to_documents(&lc, &r).await;
    lc.task(&r, TaskType::TravelDocument).await;
    lc.advance(days(29)).await;
    lc.task(&r, TaskType::DocumentEscalation).await;
    let templates: Vec<NoticeTemplate> = lc
        .ledger
        .snapshot()
        .notices
        .values()
        .map(|n| n.notice.template)
        .collect();
    let reminders = templates
        .iter()
        .filter(|t| **t == NoticeTemplate::DocumentsReminder)
        .count();
    assert_eq!(reminders, 3, "{templates:?}");
    assert!(templates.contains(&NoticeTemplate::DocumentsOverdue));
    // Operations keep waiting; the document arrives and the case moves on.
    lc.complete(
        &r,
        TaskType::DocumentEscalation,
        ops(),
        TaskOutcome::Resolution {
            action: Resolution::Retry,
        },
    )
    .await;
    record_document(&lc, &r).await;
    lc.wait_for(&r, "booking", |v| v.facts.order.is_some())
        .await;
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn a_refused_booking_is_rebooked_after_operations_decide() {
    let lc = Lifecycle::start_with(homeward_devkit::ledger::Faults {
        refuse_orders: 1,
        ..Default::default()
    })
    .await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    record_document(&lc, &r).await;
    // The task carries the partner's own words.
    let failed = lc.task(&r, TaskType::BookingFailed).await;
    let note = failed.note.unwrap_or_default();
    assert!(note.contains("offer no longer available"), "{note}");
    lc.complete(
        &r,
        TaskType::BookingFailed,
        ops(),
        TaskOutcome::Resolution {
            action: Resolution::Retry,
        },
    )
    .await;
    let view = lc
        .wait_for(&r, "a booking", |v| v.facts.order.is_some())
        .await;
    assert_eq!(view.facts.booking_attempts, 2);
    let ledger = lc.ledger.snapshot();
    assert_eq!(ledger.orders.len(), 1);
    assert!(ledger.orders.keys().all(|k| k.ends_with(":booking:2")));
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn an_airline_cancellation_found_on_flight_day_goes_to_operations_who_rebook() {
    use homeward_activities::partners::TravelPartner;
    use homeward_workflows::activities::CancelRequest;
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    record_document(&lc, &r).await;
    let view = lc
        .wait_for(&r, "a booked flight", |v| {
            v.stage == Stage::Departure && v.facts.order.is_some()
        })
        .await;
    let order = view.facts.order.expect("order");
    // The airline cancels the flight; nobody tells Homeward.
    lc.ledger
        .cancel_order(&CancelRequest {
            idempotency_key: "airline".into(),
            order_id: order.order_id.clone(),
            escort_return_order_id: None,
        })
        .await
        .expect("cancelled");
    lc.advance_to(order.departs_at + chrono::Duration::hours(1))
        .await;
    // On flight day the case asks the travel partner and finds it: no departure to confirm,
    // operations decide.
    let failed = lc.task(&r, TaskType::BookingFailed).await;
    let note = failed.note.unwrap_or_default();
    assert!(
        note.contains("cancelled") && note.contains(&order.order_id),
        "{note}"
    );
    assert!(
        !lc.view(&r)
            .await
            .tasks
            .iter()
            .any(|t| t.task_type == TaskType::DepartureConfirmation)
    );
    lc.complete(
        &r,
        TaskType::BookingFailed,
        ops(),
        TaskOutcome::Resolution {
            action: Resolution::Retry,
        },
    )
    .await;
    let second = to_flight_day(&lc, &r).await;
    assert_ne!(second, order.order_id);
    let view = lc.view(&r).await;
    assert_eq!(view.facts.booking_attempts, 2);
    assert_eq!(view.facts.cancelled_orders, [order.order_id]);
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn a_no_show_cancels_the_order_and_operations_rebook() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    record_document(&lc, &r).await;
    let first = to_flight_day(&lc, &r).await;
    // Nobody confirms departure within the one-day grace.
    lc.advance(days(1)).await;
    lc.task(&r, TaskType::NoShow).await;
    assert!(lc.ledger.snapshot().cancelled.contains(&first));
    lc.complete(
        &r,
        TaskType::NoShow,
        ops(),
        TaskOutcome::Resolution {
            action: Resolution::Retry,
        },
    )
    .await;
    let second = to_flight_day(&lc, &r).await;
    assert_ne!(first, second);
    lc.complete(
        &r,
        TaskType::DepartureConfirmation,
        officer(),
        TaskOutcome::Departure {
            departed: true,
            changed_mind: false,
        },
    )
    .await;
    lc.task(&r, TaskType::ArrivalConfirmation).await;
    lc.replay(&r).await;
    lc.stop().await;
}

/// Voluntariness is re-confirmed on the day: a returnee who changes their mind at the airport
/// gives up their seat and goes back to counselling (not a no-show); after counselling and a
/// new consent the case books again, with the documents and eligibility it already has.
#[tokio::test]
async fn a_returnee_who_changes_their_mind_at_the_airport_goes_back_to_counselling() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    record_document(&lc, &r).await;
    let first = to_flight_day(&lc, &r).await;
    // "Departed" and "changed their mind" together are refused; so is no reason.
    let both = lc
        .try_complete(
            &r,
            TaskType::DepartureConfirmation,
            officer(),
            TaskOutcome::Departure {
                departed: true,
                changed_mind: true,
            },
            "recorded",
        )
        .await;
    assert!(both.is_err(), "departed and changed mind at once");
    let no_reason = lc
        .try_complete(
            &r,
            TaskType::DepartureConfirmation,
            officer(),
            TaskOutcome::Departure {
                departed: false,
                changed_mind: true,
            },
            " ",
        )
        .await;
    assert!(
        no_reason.is_err(),
        "a change of mind is recorded with what was said"
    );
    lc.complete(
        &r,
        TaskType::DepartureConfirmation,
        officer(),
        TaskOutcome::Departure {
            departed: false,
            changed_mind: true,
        },
    )
    .await;
    // Back to counselling: the seat is given up, no no-show task for operations.
    lc.task(&r, TaskType::CounsellingSession).await;
    let view = lc.view(&r).await;
    assert_eq!(view.stage, Stage::Counselling);
    assert_eq!(view.facts.changed_mind_at_airport, 1);
    assert!(view.tasks.iter().all(|t| t.task_type != TaskType::NoShow));
    assert!(lc.ledger.snapshot().cancelled.contains(&first));
    // Counselled again, they still want to go and consent again: a new booking, no new
    // eligibility approval or travel document needed.
    lc.complete(
        &r,
        TaskType::CounsellingSession,
        officer(),
        wants_to_return(),
    )
    .await;
    lc.complete(&r, TaskType::Consent, officer(), signed())
        .await;
    lc.complete(&r, TaskType::Consent, officer(), signed())
        .await;
    let second = to_flight_day(&lc, &r).await;
    assert_ne!(first, second);
    lc.complete(
        &r,
        TaskType::DepartureConfirmation,
        officer(),
        TaskOutcome::Departure {
            departed: true,
            changed_mind: false,
        },
    )
    .await;
    lc.task(&r, TaskType::ArrivalConfirmation).await;
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn no_reception_confirmation_in_time_escalates() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    record_document(&lc, &r).await;
    to_flight_day(&lc, &r).await;
    lc.complete(
        &r,
        TaskType::DepartureConfirmation,
        officer(),
        TaskOutcome::Departure {
            departed: true,
            changed_mind: false,
        },
    )
    .await;
    lc.task(&r, TaskType::ArrivalConfirmation).await;
    assert_eq!(lc.ledger.snapshot().hand_overs.len(), 1);
    lc.advance(days(3)).await;
    lc.task(&r, TaskType::ReceptionEscalation).await;
    // The partner confirms late; the escalation is withdrawn and the plan stage opens.
    lc.complete(
        &r,
        TaskType::ArrivalConfirmation,
        partner(),
        TaskOutcome::Arrival {
            received: true,
            hand_over: None,
        },
    )
    .await;
    let view = lc
        .wait_for(&r, "plan stage", |v| v.stage == Stage::ReintegrationPlan)
        .await;
    assert!(
        !view
            .tasks
            .iter()
            .any(|t| t.task_type == TaskType::ReceptionEscalation)
    );
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn a_rejected_plan_is_resubmitted_then_approved() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    record_document(&lc, &r).await;
    to_flight_day(&lc, &r).await;
    lc.complete(
        &r,
        TaskType::DepartureConfirmation,
        officer(),
        TaskOutcome::Departure {
            departed: true,
            changed_mind: false,
        },
    )
    .await;
    lc.complete(
        &r,
        TaskType::ArrivalConfirmation,
        partner(),
        TaskOutcome::Arrival {
            received: true,
            hand_over: None,
        },
    )
    .await;
    lc.complete(&r, TaskType::BaselineSurvey, partner(), survey(4))
        .await;
    let plan = TaskOutcome::Plan {
        support: vec![SupportArea::Economic, SupportArea::Psychosocial],
        lines: vec![],
    };
    lc.complete(&r, TaskType::ReintegrationPlan, partner(), plan.clone())
        .await;
    lc.complete(
        &r,
        TaskType::PlanApproval,
        ops(),
        TaskOutcome::Approval { approved: false },
    )
    .await;
    lc.complete(&r, TaskType::ReintegrationPlan, partner(), plan)
        .await;
    lc.complete(&r, TaskType::PlanApproval, ops(), approve())
        .await;
    lc.wait_for(&r, "reintegration", |v| v.stage == Stage::Reintegration)
        .await;
    let what: Vec<String> = lc
        .view(&r)
        .await
        .decisions
        .iter()
        .map(|d| d.what.clone())
        .collect();
    assert_eq!(what.iter().filter(|w| *w == "plan_approval").count(), 2);
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn the_requester_of_an_approval_cannot_grant_it() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    lc.complete(
        &r,
        TaskType::CounsellingSession,
        officer(),
        wants_to_return(),
    )
    .await;
    lc.complete(&r, TaskType::Consent, officer(), signed())
        .await;
    lc.complete(&r, TaskType::Consent, officer(), signed())
        .await;
    // The officer who asked for the return also holds an operations role.
    let same_person = homeward_workflows::tasks::Actor {
        id: officer().id,
        role: homeward_workflows::tasks::Role::Operations,
        office: Some("NLD".into()),
        country: None,
        supervisor: false,
    };
    let err = lc
        .try_complete(
            &r,
            TaskType::EligibilityApproval,
            same_person,
            approve(),
            "",
        )
        .await
        .expect_err("four-eyes");
    assert!(rejection(err).contains("four_eyes"));
    // Wrong role is refused too, and neither reached the history.
    let err = lc
        .try_complete(&r, TaskType::EligibilityApproval, finance(), approve(), "")
        .await
        .expect_err("wrong role");
    assert!(rejection(err).contains("wrong_role"));
    let view = lc.view(&r).await;
    assert_eq!(view.decisions.len(), 3);
    lc.complete(&r, TaskType::EligibilityApproval, ops(), approve())
        .await;
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn a_tranche_is_paid_exactly_once_when_answers_are_lost_and_retried() {
    let lc = Lifecycle::start_with(homeward_devkit::ledger::Faults {
        lose_payment_answers: 2,
        ..Default::default()
    })
    .await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    to_reintegration(&lc, &r).await;
    pay_next_tranche(&lc, &r).await;
    let view = lc
        .wait_for(&r, "the first payment", |v| !v.facts.payments.is_empty())
        .await;
    assert_eq!(view.facts.payments.len(), 1);
    let ledger = lc.ledger.snapshot();
    assert!(
        ledger.disburse_calls >= 3,
        "retries: {}",
        ledger.disburse_calls
    );
    assert_eq!(ledger.payments.len(), 1, "paid more than once");
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn a_pending_payment_is_recorded_only_once_the_provider_confirms_it_by_polling() {
    let lc = Lifecycle::start_with(homeward_devkit::ledger::Faults {
        confirmation: Confirmation::AfterPolls(2),
        ..Default::default()
    })
    .await;
    // The returnee reads Arabic.
    let r = lc
        .open(serde_json::json!({
            "programme": "nl-avrr",
            "host_country": "NLD",
            "origin_country": "IRQ",
            "household_size": 2,
            "language": "ar",
            "people": [{
                "names": {"document": {"given": "Rana", "family": "Aziz"}},
                "phone": "+9647705550101"
            }]
        }))
        .await;
    to_documents(&lc, &r).await;
    to_reintegration(&lc, &r).await;
    pay_next_tranche(&lc, &r).await;
    // The payment is pending at the provider: the case polls every 6 hours (skipped here).
    let view = lc
        .advance_until(&r, "the first payment", hours(6), |v| {
            !v.facts.payments.is_empty()
        })
        .await;
    let paid = &view.facts.payments[0];
    assert_eq!(paid.receipt.state, PaymentState::Confirmed);
    let ledger = lc.ledger.snapshot();
    assert_eq!(ledger.payments.len(), 1, "paid more than once");
    assert_eq!(
        ledger.disburse_calls, 1,
        "a pending payment is not paid again"
    );
    assert_eq!(
        ledger.payment(&paid.receipt.payment_id).map(|r| r.state),
        Some(PaymentState::Confirmed)
    );
    // The returnee hears of it by SMS in their language; staff notices are in English.
    let paid_notice = ledger
        .notices
        .values()
        .find(|m| m.notice.template == NoticeTemplate::TranchePaid)
        .expect("a tranche_paid notice");
    assert_eq!(paid_notice.language, "ar");
    assert!(paid_notice.text.contains("الإدماج"), "{}", paid_notice.text);
    let booked = ledger
        .notices
        .values()
        .filter(|m| m.notice.template == NoticeTemplate::FlightDetails)
        .collect::<Vec<_>>();
    let who = booked
        .iter()
        .map(|m| (m.notice.audience, m.language.as_str()))
        .collect::<Vec<_>>();
    assert_eq!(who.len(), 2, "{who:?}");
    assert!(who.contains(&(Audience::ReturnOfficer, "en")), "{who:?}");
    assert!(who.contains(&(Audience::Returnee, "ar")), "{who:?}");
    // Each tells the flight: date and time on Schiphol's clock, the airport, the meeting point.
    assert_eq!(ledger.orders.len(), 1);
    let departs = ledger.orders.values().next().expect("booked").departs_at;
    let local = departs.with_timezone(&chrono_tz::Europe::Amsterdam);
    for m in &booked {
        for part in [
            local.format("%Y-%m-%d").to_string(),
            local.format("%H:%M").to_string(),
            "Amsterdam Airport Schiphol (AMS)".to_owned(),
            homeward_activities::travel::DEFAULT_MEETING_POINT.to_owned(),
        ] {
            assert!(m.text.contains(&part), "{part} in {}", m.text);
        }
    }
    // The SMS went to the number on the person record, read at send time.
    let texted = ledger
        .notices
        .iter()
        .filter(|(_, m)| m.notice.audience == Audience::Returnee)
        .map(|(key, _)| ledger.people.get(key).and_then(|p| p[0].phone.clone()))
        .collect::<Vec<_>>();
    assert!(!texted.is_empty());
    assert!(
        texted
            .iter()
            .all(|p| p.as_deref() == Some("+9647705550101")),
        "{texted:?}"
    );
    lc.replay(&r).await;
    lc.stop().await;
}

/// The gateway's delivery receipts reach the case over a signed webhook: an SMS the returnee
/// never got is shown to the office (API and case page), a forged, replayed or malformed
/// receipt changes nothing, and partners do not see the returnee's messages.
#[tokio::test]
async fn delivery_receipts_are_recorded_and_an_undelivered_sms_is_shown_to_the_office() {
    use homeward_activities::http_partners::{message_receipts, payment_webhook};
    let lc = Lifecycle::start().await;
    let r = lc
        .open(serde_json::json!({
            "programme": "nl-avrr",
            "host_country": "NLD",
            "origin_country": "IRQ",
            "household_size": 2,
            "people": [{
                "names": {"document": {"given": "Rana", "family": "Aziz"}},
                "phone": "+9647705550000"
            }]
        }))
        .await;
    to_documents(&lc, &r).await;
    record_document(&lc, &r).await;
    lc.wait_for(&r, "the departure stage", |v| v.stage == Stage::Departure)
        .await;
    let ledger = lc.ledger.snapshot();
    let sms = ledger
        .notices
        .values()
        .find(|m| m.notice.reference.as_str() == r && m.notice.audience == Audience::Returnee)
        .expect("the flight SMS");
    let key = sms.notice.idempotency_key.clone();
    let hook = lc.api_url("/api/v1/webhooks/messages");
    let send = |secret: &'static str, body: Vec<u8>| {
        let hook = hook.clone();
        async move {
            let resp = reqwest::Client::new()
                .post(hook)
                .header("content-type", "application/json")
                .header(
                    payment_webhook::SIGNATURE_HEADER,
                    payment_webhook::sign(secret.as_bytes(), &body, chrono::Utc::now()),
                )
                .body(body)
                .send()
                .await
                .expect("webhook");
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap_or_default())
        }
    };
    const SECRET: &str = "sandbox-only-webhook-secret";
    let undelivered = message_receipts::body(&r, &key, "undelivered", Some("unknown_subscriber"));
    // Forged (another secret), malformed, or for no case: refused, nothing recorded.
    assert_eq!(send("not-the-secret", undelivered.clone()).await.0, 401);
    let (status, body) = send(SECRET, message_receipts::body(&r, &key, "read", None)).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("status"), "{body}");
    let nobody = "HW-000000000000";
    let stray = message_receipts::body(
        nobody,
        &format!("{nobody}:flight_details:1"),
        "delivered",
        None,
    );
    assert_eq!(send(SECRET, stray).await.0, 404);
    // The genuine receipt is recorded once; sent again, acknowledged and ignored.
    assert_eq!(send(SECRET, undelivered.clone()).await.0, 202);
    assert_eq!(send(SECRET, undelivered).await.0, 200);

    let client = reqwest::Client::new();
    let read = |key: String| {
        let client = client.clone();
        let url = lc.api_url(&format!("/api/v1/cases/{r}/messages"));
        async move {
            let resp = client.get(url).bearer_auth(key).send().await.expect("get");
            let status = resp.status().as_u16();
            (
                status,
                resp.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };
    let (status, seen) = read(lc.key("return_officer", Some("NLD")).await).await;
    assert_eq!(status, 200, "{seen}");
    let messages = seen["messages"].as_array().expect("messages").clone();
    assert_eq!(messages.len(), 1, "{seen}");
    assert_eq!(messages[0]["template"], "flight_details");
    assert_eq!(messages[0]["delivered"], false);
    assert_eq!(messages[0]["error_code"], "unknown_subscriber");
    assert!(
        !seen.to_string().contains("+964"),
        "no phone number: {seen}"
    );
    // A partner, even the one the case is handed over to, and another office: 404.
    assert_eq!(read(lc.key("partner", Some("NLD/IRQ")).await).await.0, 404);
    assert_eq!(
        read(lc.key("return_officer", Some("GBR")).await).await.0,
        404
    );
    // A later "delivered" receipt for the same message wins.
    let delivered = message_receipts::body(&r, &key, "delivered", None);
    assert_eq!(send(SECRET, delivered).await.0, 202);
    let (_, seen) = read(lc.key("operations", Some("NLD")).await).await;
    assert_eq!(seen["messages"][0]["delivered"], true, "{seen}");
    lc.replay(&r).await;
    lc.stop().await;
}

/// A returnee with no phone on record gets no SMS (the gateway would refuse one without a
/// number): their officer receives the message instead, to pass on.
#[tokio::test]
async fn a_returnee_without_a_phone_gets_no_sms_and_the_officer_is_told() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    record_document(&lc, &r).await;
    // Departure is entered after both "flight booked" messages went out.
    lc.wait_for(&r, "the departure stage", |v| v.stage == Stage::Departure)
        .await;
    let ledger = lc.ledger.snapshot();
    let booked: Vec<_> = ledger
        .notices
        .values()
        .filter(|m| m.notice.reference.as_str() == r)
        .filter(|m| m.notice.template == NoticeTemplate::FlightDetails)
        .collect();
    assert_eq!(booked.len(), 2, "{booked:?}");
    assert!(
        booked
            .iter()
            .all(|m| m.notice.audience == Audience::ReturnOfficer)
    );
    let instead = booked
        .iter()
        .find(|m| m.subject.starts_with("No phone on record"))
        .expect("the officer is told");
    assert!(instead.text.contains(&r), "{}", instead.text);
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn a_payment_the_provider_never_confirms_goes_to_finance_and_a_webhook_settles_it() {
    let lc = Lifecycle::start_with(homeward_devkit::ledger::Faults {
        // Polling never settles it: only the webhook's signal can.
        confirmation: Confirmation::WhenSettled,
        ..Default::default()
    })
    .await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    to_reintegration(&lc, &r).await;
    pay_next_tranche(&lc, &r).await;
    // After payment_confirmation (14 days), finance is asked; the note names the payment.
    lc.advance_until(&r, "a payment task", days(1), |v| {
        v.tasks
            .iter()
            .any(|t| t.task_type == TaskType::PaymentFailed)
    })
    .await;
    let task = lc.task(&r, TaskType::PaymentFailed).await;
    let note = task.note.unwrap_or_default();
    assert!(note.contains("pay-1") && note.contains("pending"), "{note}");
    lc.complete(
        &r,
        TaskType::PaymentFailed,
        finance(),
        TaskOutcome::Resolution {
            action: Resolution::Retry,
        },
    )
    .await;
    // Waiting again on the same payment; the provider settles it and its webhook arrives as a
    // signal (the case confirms with the provider before acting). Another case's settlement
    // and a pending notice change nothing.
    lc.ledger.settle("pay-1").await.expect("settle");
    let signal = |reference: &str, state| PaymentSettlement {
        reference: homeward_workflows::domain::CaseRef::parse(reference).expect("ref"),
        payment_id: "pay-1".into(),
        state,
    };
    for s in [
        signal("HW-0000000000AB", PaymentState::Confirmed),
        signal(&r, PaymentState::Pending),
        signal(&r, PaymentState::Confirmed),
    ] {
        lc.handle(&r)
            .signal(
                ReturnCase::payment_settled,
                s,
                temporalio_client::WorkflowSignalOptions::default(),
            )
            .await
            .expect("signal");
    }
    let view = lc
        .wait_for(&r, "the first payment", |v| !v.facts.payments.is_empty())
        .await;
    assert_eq!(
        view.facts.payments[0].receipt.state,
        PaymentState::Confirmed
    );
    assert_eq!(lc.ledger.snapshot().disburse_calls, 1, "never paid again");
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn a_payment_that_fails_at_the_provider_is_retried_under_a_new_key_after_finance_decide() {
    let lc = Lifecycle::start_with(homeward_devkit::ledger::Faults {
        failing_payments: 1,
        ..Default::default()
    })
    .await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    to_reintegration(&lc, &r).await;
    pay_next_tranche(&lc, &r).await;
    let task = lc.task(&r, TaskType::PaymentFailed).await;
    assert!(task.note.unwrap_or_default().contains("failed"));
    lc.complete(
        &r,
        TaskType::PaymentFailed,
        finance(),
        TaskOutcome::Resolution {
            action: Resolution::Retry,
        },
    )
    .await;
    let view = lc
        .wait_for(&r, "the first payment", |v| !v.facts.payments.is_empty())
        .await;
    let key = &view.facts.payments[0].receipt.idempotency_key;
    assert!(key.ends_with(":2"), "{key}");
    let ledger = lc.ledger.snapshot();
    let states: Vec<_> = ledger.payments.values().map(|(_, r)| r.state).collect();
    assert_eq!(states, [PaymentState::Failed, PaymentState::Confirmed]);
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn a_low_sustainability_score_opens_referrals() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    to_reintegration(&lc, &r).await;
    pay_next_tranche(&lc, &r).await;
    pay_next_tranche(&lc, &r).await;
    lc.advance(days(92)).await;
    let low = TaskOutcome::Survey {
        reached: true,
        answers: Some(RssAnswers {
            economic: [4; 5],
            social: [4; 5],
            psychosocial: [1, 2, 1, 2, 1],
        }),
    };
    lc.complete(&r, TaskType::MonitoringSurvey, partner(), low)
        .await;
    let view = lc
        .wait_for(&r, "a referral", |v| {
            v.tasks.iter().any(|t| t.task_type == TaskType::Referral)
        })
        .await;
    let referrals: Vec<_> = view
        .tasks
        .iter()
        .filter(|t| t.task_type == TaskType::Referral)
        .collect();
    // Only the psychosocial dimension (index 2) is low.
    assert_eq!(referrals.len(), 1);
    assert_eq!(referrals[0].subject, Some(2));
    assert!(view.facts.scores[0].scores.psychosocial < 0.33);
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn an_unreachable_returnee_is_retried_then_escalated() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    to_reintegration(&lc, &r).await;
    pay_next_tranche(&lc, &r).await;
    pay_next_tranche(&lc, &r).await;
    lc.advance(days(92)).await;
    lc.task(&r, TaskType::MonitoringSurvey).await;
    // Three tries (the first and two retries), each unanswered for its 14-day window.
    lc.advance(days(14 + 7 + 14 + 7 + 14 + 1)).await;
    lc.task(&r, TaskType::MonitoringEscalation).await;
    lc.try_complete(
        &r,
        TaskType::MonitoringEscalation,
        ops(),
        TaskOutcome::Resolution {
            action: Resolution::Close,
        },
        "no contact after three attempts and a home visit",
    )
    .await
    .expect("resolved");
    assert_eq!(lc.closure(&r).await.reason, ClosureReason::Unreachable);
    lc.replay(&r).await;
    lc.stop().await;
}

/// Operations answering "retry" to an unreachable returnee's escalation get the follow-up tried
/// again (it used to be skipped): a new survey for the same follow-up, and its scores count.
#[tokio::test]
async fn an_operations_retry_tries_the_unreachable_returnees_follow_up_again() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    to_reintegration(&lc, &r).await;
    pay_next_tranche(&lc, &r).await;
    pay_next_tranche(&lc, &r).await;
    lc.advance(days(92)).await;
    let first = lc.task(&r, TaskType::MonitoringSurvey).await;
    lc.advance(days(14 + 7 + 14 + 7 + 14 + 1)).await;
    lc.task(&r, TaskType::MonitoringEscalation).await;
    lc.complete(
        &r,
        TaskType::MonitoringEscalation,
        ops(),
        TaskOutcome::Resolution {
            action: Resolution::Retry,
        },
    )
    .await;
    let again = lc.task(&r, TaskType::MonitoringSurvey).await;
    assert_eq!(again.subject, first.subject, "the same follow-up");
    lc.complete(&r, TaskType::MonitoringSurvey, partner(), survey(4))
        .await;
    let view = lc
        .wait_for(&r, "the follow-up scored", |v| !v.facts.scores.is_empty())
        .await;
    assert_eq!(
        view.facts.scores[0].follow_up,
        first.subject.unwrap_or(u32::MAX)
    );
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn operations_can_close_a_case_early_and_unpaid_tranches_are_voided() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    to_reintegration(&lc, &r).await;
    pay_next_tranche(&lc, &r).await;
    lc.wait_for(&r, "a payment", |v| !v.facts.payments.is_empty())
        .await;
    let err = lc
        .close_early(&r, officer())
        .await
        .expect_err("officers cannot");
    assert!(rejection(err).contains("wrong_role"));
    lc.close_early(&r, ops()).await.expect("closed");
    let closure = lc.closure(&r).await;
    assert_eq!(closure.reason, ClosureReason::ReMigrated);
    let view = lc.view(&r).await;
    assert_eq!(view.facts.payments.len(), 1);
    let mut voided = view.facts.voided_tranches.clone();
    voided.sort();
    assert_eq!(voided, ["six-month-review", "start"]);
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test]
async fn editing_a_programme_never_changes_a_running_case() {
    let dir = tempfile::tempdir().expect("tempdir");
    let shipped =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/programmes/nl-avrr.toml");
    let file = dir.path().join("nl-avrr.toml");
    std::fs::copy(&shipped, &file).expect("copy");
    let mut lc = Lifecycle::start_in(Default::default(), dir.path().to_owned()).await;
    let old = lc.open_standard().await;
    let old_version = lc.view(&old).await.programme_version;

    // The programme shortens its consent deadline; a new deployment loads the new file.
    let edited = std::fs::read_to_string(&file)
        .expect("read")
        .replace("consent = \"7days\"", "consent = \"2days\"");
    std::fs::write(&file, edited).expect("write");
    lc.deploy_again().await;
    let new = lc.open_standard().await;
    let new_version = lc.view(&new).await.programme_version;
    assert_ne!(old_version, new_version);
    assert_eq!(lc.view(&old).await.programme_version, old_version);

    // The old case still gives 7 days for consent; the new one 2.
    for (r, days_allowed) in [(&old, 7), (&new, 2)] {
        lc.complete(
            r,
            TaskType::CounsellingSession,
            officer(),
            wants_to_return(),
        )
        .await;
        let task = lc.task(r, TaskType::Consent).await;
        let allowed = task.due_at.expect("due") - task.opened_at;
        assert_eq!(allowed, chrono::Duration::days(days_allowed), "case {r}");
    }
    lc.replay(&old).await;
    lc.stop().await;
}

#[tokio::test]
async fn a_booking_over_budget_waits_for_operations_approval() {
    let lc = Lifecycle::start_with(homeward_devkit::ledger::Faults {
        price_per_traveller: Some(120_000),
        ..Default::default()
    })
    .await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    record_document(&lc, &r).await;
    lc.task(&r, TaskType::BookingApproval).await;
    assert!(
        lc.ledger.snapshot().orders.is_empty(),
        "booked before approval"
    );
    lc.complete(&r, TaskType::BookingApproval, ops(), approve())
        .await;
    let view = lc
        .wait_for(&r, "a booking", |v| v.facts.order.is_some())
        .await;
    assert!(view.facts.order.expect("order").total.minor > 160_000);
    lc.replay(&r).await;
    lc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_complete_over_flaky_http_partners_with_one_order_and_one_payment_per_tranche() {
    use homeward_activities::http_partners::{Endpoint, HttpPartner};
    use homeward_devkit::sandbox::{Sandbox, SandboxFaults};
    use std::sync::Arc;
    use std::time::Duration;

    // The sandbox answers 30% of calls with a 503 (half of them after doing the work) and lets
    // 5% hang past the clients' timeout.
    let sandbox = Sandbox::new(
        SandboxFaults {
            error_rate: 0.3,
            timeout_rate: 0.05,
            hang: Duration::from_secs(3),
            latency: Duration::from_millis(5),
            // Payments stay pending a moment; the case polls until they confirm.
            confirm_after: Some(Duration::from_millis(100)),
            ..SandboxFaults::default()
        },
        7,
    );
    let ledger = sandbox.ledger.clone();
    let (addr, _task) = sandbox.serve(0).await.expect("serve");
    let endpoint = || Endpoint {
        base_url: format!("http://{addr}").parse().expect("url"),
        token: None,
        timeout: Duration::from_secs(1),
    };
    let partner = |name| Arc::new(HttpPartner::new(name, endpoint()).expect("client"));
    let partners = homeward_activities::Partners {
        travel: partner("travel"),
        payments: partner("payments"),
        outreach: partner("outreach"),
        templates: Arc::new(homeward_activities::notices::Templates::builtin()),
        routes: Arc::new(homeward_activities::travel::Routes::default()),
        offices: Arc::new(homeward_devkit::ledger::placeholder_offices()),
    };
    let lc = Lifecycle::start_partners(partners, ledger).await;

    let mut cases = Vec::new();
    for _ in 0..2 {
        let r = lc.open_standard().await;
        to_documents(&lc, &r).await;
        to_reintegration(&lc, &r).await;
        // Each payment stays pending a moment at the provider; the case polls every 6 hours.
        for n in 1..=2 {
            pay_next_tranche(&lc, &r).await;
            lc.advance_until(&r, "a confirmed payment", hours(6), |v| {
                v.facts.payments.len() == n
            })
            .await;
        }
        cases.push(r);
    }
    let seen: serde_json::Value = reqwest::get(format!("http://{addr}/ledger"))
        .await
        .expect("ledger")
        .json()
        .await
        .expect("json");
    assert!(
        seen["faults_injected"].as_u64().unwrap_or(0) > 5,
        "too few faults: {seen}"
    );
    let orders = seen["orders"].as_array().expect("orders");
    assert_eq!(orders.len(), 2, "one order per case: {seen}");
    let payments = seen["payments"].as_array().expect("payments");
    assert_eq!(payments.len(), 4, "one payment per tranche: {seen}");
    for r in &cases {
        for tranche in ["cash", "start"] {
            let n = payments
                .iter()
                .filter(|p| p["case"] == r.as_str() && p["tranche"] == tranche)
                .count();
            assert_eq!(n, 1, "{r} {tranche}: {seen}");
        }
        lc.replay(r).await;
    }
    lc.stop().await;
}

#[tokio::test]
async fn each_tranche_is_verified_against_its_milestone_and_approved_by_the_programmes_approver() {
    use homeward_workflows::tasks::Role;
    let shipped =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/programmes/nl-avrr.toml");
    let text = std::fs::read_to_string(&shipped).expect("shipped programme");
    // The shipped programme (finance approve), and the same with operations as the approver.
    for (approver, role) in [("finance", Role::Finance), ("operations", Role::Operations)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let edited = text.replace(
            "approver = \"finance\"",
            &format!("approver = \"{approver}\""),
        );
        std::fs::write(dir.path().join("nl-avrr.toml"), edited).expect("write");
        let lc = Lifecycle::start_in(Default::default(), dir.path().to_owned()).await;
        let r = lc.open_standard().await;
        to_documents(&lc, &r).await;
        to_reintegration(&lc, &r).await;
        // The first tranche due (cash, at arrival): the partner verifies what the file names.
        let verify = lc.task(&r, TaskType::MilestoneVerification).await;
        assert_eq!(
            verify.note.as_deref(),
            Some("returnee received and bank or mobile-money account confirmed")
        );
        lc.complete(
            &r,
            TaskType::MilestoneVerification,
            partner(),
            TaskOutcome::Milestone {
                reached: true,
                amended_lines: None,
            },
        )
        .await;
        let approval = lc.task(&r, TaskType::TrancheApproval).await;
        assert_eq!(approval.role, role, "{approver}");
        let (right, wrong) = if role == Role::Finance {
            (finance(), ops())
        } else {
            (ops(), finance())
        };
        let refused = lc
            .try_complete(&r, TaskType::TrancheApproval, wrong, approve(), "")
            .await
            .expect_err("the other role cannot approve");
        assert!(refused.to_string().contains("wrong_role"), "{refused}");
        lc.complete(&r, TaskType::TrancheApproval, right, approve())
            .await;
        lc.wait_for(&r, "the tranche paid", |v| !v.facts.payments.is_empty())
            .await;
        lc.replay(&r).await;
        lc.stop().await;
    }
}

/// Workflows carry members as numbers; at booking, hand-over and payment the activities read
/// the vault and send each partner its purpose's fields, only for the members who agreed to
/// share with it, and audit each share (purpose, members, fields; never a value).
#[tokio::test]
async fn partners_receive_their_fields_only_for_members_who_agreed_to_share_with_them() {
    use serde_json::json;
    let lc = Lifecycle::start().await;
    let person = |tag: &str, consents: serde_json::Value| {
        json!({
            "names": {"document": {"given": format!("Amal{tag}"), "family": format!("Hassan{tag}")}},
            "sex": "female",
            "date_of_birth": "1990-05-31",
            "phone": format!("+96477{tag}12"),
            "destination": {"place": format!("Erbil{tag}")},
            "consents": consents,
        })
    };
    let r = lc
        .open(json!({
            "programme": "nl-avrr", "host_country": "NLD", "origin_country": "IRQ",
            "household_size": 2,
            "people": [
                person("5551", json!([
                    {"purpose": "travel_partner", "given": true},
                    {"purpose": "reception_partner", "given": true},
                    {"purpose": "payment_provider", "given": true},
                ])),
                person("5552", json!([
                    {"purpose": "travel_partner", "given": true},
                    {"purpose": "travel_partner", "given": false},
                ])),
            ]
        }))
        .await;
    to_documents(&lc, &r).await;
    to_reintegration(&lc, &r).await;
    pay_next_tranche(&lc, &r).await;
    lc.wait_for(&r, "a paid tranche", |v| !v.facts.payments.is_empty())
        .await;

    let state = lc.ledger.snapshot();
    let sent = |kind: &str| {
        state
            .people
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{r}:{kind}:")))
            .flat_map(|(_, p)| p.clone())
            .collect::<Vec<_>>()
    };
    let travel = sent("booking");
    assert_eq!(travel.len(), 1, "{travel:?}");
    assert_eq!(travel[0].family_name.as_deref(), Some("Hassan5551"));
    assert_eq!(
        travel[0].born_on.map(|d| d.to_string()).as_deref(),
        Some("1990-05-31")
    );
    assert_eq!(travel[0].sex, Some("f"));
    // The airline's contact for the passenger, not where they are going.
    assert_eq!(travel[0].phone.as_deref(), Some("+96477555112"));
    assert_eq!(travel[0].destination, None);
    let reception = sent("handover");
    assert_eq!(reception.len(), 1, "{reception:?}");
    assert_eq!(reception[0].given_name.as_deref(), Some("Amal5551"));
    assert_eq!(reception[0].phone.as_deref(), Some("+96477555112"));
    assert_eq!(reception[0].destination.as_deref(), Some("Erbil5551"));
    assert_eq!(reception[0].born_on, None);
    let paid = sent("tranche");
    assert_eq!(paid.len(), 1, "{paid:?}");
    assert_eq!(paid[0].family_name.as_deref(), Some("Hassan5551"));
    assert!(paid[0].phone.is_some() && paid[0].born_on.is_none());
    // The member who withdrew consent reached no partner.
    for p in state.people.values().flatten() {
        assert_ne!(p.family_name.as_deref(), Some("Hassan5552"));
    }

    let store = homeward_activities::CaseStore::connect(
        secrecy::ExposeSecret::expose_secret(&lc.settings().database.url),
        1,
    )
    .await
    .expect("store");
    let trail = store
        .audit_trail(&homeward_workflows::domain::CaseRef::parse(&r).expect("ref"))
        .await
        .expect("trail");
    let shares: Vec<String> = trail
        .iter()
        .filter(|e| e.event.action == "personal_data_shared")
        .filter_map(|e| e.event.detail.clone())
        .collect();
    for expected in [
        "travel_partner: members 0; fields name,born_on,sex,email,phone,passport,nearest_airport,assistance",
        "reception_partner: members 0; fields name,phone,destination",
        "payment_provider: members 0; fields name,phone,payout",
    ] {
        assert!(
            shares.iter().any(|d| d == expected),
            "{expected}: {shares:?}"
        );
    }
    lc.stop().await;
}

/// The open-task projection follows the case: a refused booking's task for operations appears
/// and goes; after the plan is approved the case continues as new, and the new run writes its
/// tasks under higher revisions; every task is due; at closure no row is left.
#[tokio::test]
async fn the_open_task_projection_follows_rebooking_continue_as_new_and_closure() {
    let lc = Lifecycle::start_with(homeward_devkit::ledger::Faults {
        refuse_orders: 1,
        ..Default::default()
    })
    .await;
    let store = homeward_activities::CaseStore::connect(
        secrecy::ExposeSecret::expose_secret(&lc.settings().database.url),
        1,
    )
    .await
    .expect("store");
    let rows = |r: String| {
        let store = store.clone();
        async move {
            store
                .all_open_tasks()
                .await
                .expect("rows")
                .into_iter()
                .filter(|t| t.reference.as_str() == r)
                .collect::<Vec<_>>()
        }
    };
    let until =
        |r: &str, what: &'static str, done: fn(&[homeward_activities::work::OpenTask]) -> bool| {
            let r = r.to_owned();
            async move {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                loop {
                    let now = rows(r.clone()).await;
                    if done(&now) {
                        return now;
                    }
                    assert!(
                        std::time::Instant::now() < deadline,
                        "never {what}: {now:?}"
                    );
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        };
    let revision = |r: &str| {
        let store = store.clone();
        let r = r.to_owned();
        async move {
            store
                .task_revision(&homeward_workflows::domain::CaseRef::parse(&r).expect("ref"))
                .await
                .expect("revision")
                .unwrap_or(0)
        }
    };

    let r = lc.open_standard().await;
    let counselling = until(&r, "counselling", |rows| {
        rows.iter()
            .any(|t| t.task_type == TaskType::CounsellingSession)
    })
    .await;
    assert!(counselling[0].due_at.is_some(), "counselling is due");
    to_documents(&lc, &r).await;
    record_document(&lc, &r).await;
    let failed = until(&r, "a booking failure", |rows| {
        rows.iter().any(|t| t.task_type == TaskType::BookingFailed)
    })
    .await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].role, homeward_workflows::tasks::Role::Operations);
    assert!(failed[0].due_at.is_some());
    lc.complete(
        &r,
        TaskType::BookingFailed,
        ops(),
        TaskOutcome::Resolution {
            action: Resolution::Retry,
        },
    )
    .await;
    until(&r, "the failure answered", |rows| {
        rows.iter().all(|t| t.task_type != TaskType::BookingFailed)
    })
    .await;
    let before = revision(&r).await;
    // Flight, reception, plan: the case continues as new and pays its first tranche.
    to_flight_day(&lc, &r).await;
    lc.complete(
        &r,
        TaskType::DepartureConfirmation,
        officer(),
        TaskOutcome::Departure {
            departed: true,
            changed_mind: false,
        },
    )
    .await;
    lc.complete(
        &r,
        TaskType::ArrivalConfirmation,
        partner(),
        TaskOutcome::Arrival {
            received: true,
            hand_over: None,
        },
    )
    .await;
    lc.complete(&r, TaskType::BaselineSurvey, partner(), survey(4))
        .await;
    lc.complete(
        &r,
        TaskType::ReintegrationPlan,
        partner(),
        TaskOutcome::Plan {
            support: vec![SupportArea::Economic],
            lines: vec![],
        },
    )
    .await;
    lc.complete(&r, TaskType::PlanApproval, ops(), approve())
        .await;
    let continued = until(&r, "the new run's milestone", |rows| {
        rows.iter()
            .any(|t| t.task_type == TaskType::MilestoneVerification)
    })
    .await;
    assert!(
        continued.iter().all(|t| t.due_at.is_some()),
        "{continued:?}"
    );
    assert!(
        revision(&r).await > before,
        "revisions keep growing across runs"
    );
    // Closed early by operations: no row is left.
    lc.close_early(&r, ops()).await.expect("closed");
    until(
        &r,
        "emptied at closure",
        <[homeward_activities::work::OpenTask]>::is_empty,
    )
    .await;
    lc.replay(&r).await;
    lc.stop().await;
}

/// A family with an infant books two adult seats and an infant on its mother's lap, from the
/// office's airport to the one nearest their destination, each passenger named from the person
/// record at call time, with the help on board each one's record asks for.
#[tokio::test]
async fn a_family_with_an_infant_books_two_adult_seats_and_a_lap_from_the_person_records() {
    use homeward_activities::travel::Fare;
    use serde_json::json;
    let lc = Lifecycle::start().await;
    let all = json!([{"purpose": "travel_partner", "given": true}]);
    let person = |given: &str, sex: &str, born: &str| {
        json!({
            "names": {"document": {"given": given, "family": "Hassan9931"}},
            "sex": sex,
            "date_of_birth": born,
            "destination": {"place": "Erbil", "nearest_airport": "EBL"},
            "consents": all,
        })
    };
    let mut omar = person("Omar", "male", "1987-02-01");
    omar["assistance"] = json!(["wheelchair_steps"]);
    let r = lc
        .open(json!({
            "programme": "nl-avrr", "host_country": "NLD", "origin_country": "IRQ",
            "household_size": 3,
            "members": [
                {"age_group": "adult"}, {"age_group": "adult"}, {"age_group": "minor_under16"}
            ],
            "people": [
                person("Amal", "female", "1990-05-31"),
                omar,
                // A few months old: under 2 on any flight this test books.
                person("Lina", "female", &(chrono::Utc::now().date_naive() - chrono::Duration::days(90)).to_string()),
            ]
        }))
        .await;
    to_documents(&lc, &r).await;
    record_document(&lc, &r).await;
    lc.wait_for(&r, "a booked flight", |v| v.facts.order.is_some())
        .await;
    let state = lc.ledger.snapshot();
    let searches = state.searches.get(&r).expect("searched");
    let search = searches.last().expect("a search");
    assert_eq!(
        (search.origin.as_str(), search.destination.as_str()),
        ("AMS", "EBL")
    );
    assert_eq!(
        search.passengers,
        [Fare::Adult, Fare::Adult, Fare::InfantWithoutSeat]
    );
    let booked: Vec<_> = state
        .people
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{r}:booking")))
        .flat_map(|(_, p)| p.clone())
        .collect();
    let names: Vec<_> = booked.iter().filter_map(|p| p.given_name.clone()).collect();
    assert_eq!(names, ["Amal", "Omar", "Lina"]);
    // Omar cannot climb the aircraft's steps: the airline is asked for WCHS on his seat alone.
    let services: Vec<_> = state
        .services
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{r}:booking")))
        .flat_map(|(_, s)| s.clone())
        .collect();
    assert_eq!(services, [vec![], vec!["WCHS".to_owned()], vec![]]);
    // (That nothing personal is in Temporal's database is the sentinel test's to prove.)
    lc.replay(&r).await;
    lc.stop().await;
}

/// The audiences of the notices a case sent, by template.
fn consulate_notices(lc: &Lifecycle, r: &str) -> Vec<NoticeTemplate> {
    lc.ledger
        .snapshot()
        .notices
        .values()
        .filter(|n| n.notice.reference.as_str() == r && n.notice.audience == Audience::Consulate)
        .map(|n| n.notice.template)
        .collect()
}

/// Without the returnee's recorded consent, the consulate of origin hears nothing (no request,
/// no reminder, no cancellation): the officer's document task says why and to take another
/// route. With it, the request goes out.
#[tokio::test]
async fn the_consulate_is_contacted_only_with_the_returnees_consent() {
    let lc = Lifecycle::start().await;
    let without = lc.open_standard().await;
    to_documents(&lc, &without).await;
    let task = lc.task(&without, TaskType::TravelDocument).await;
    let note = task.note.unwrap_or_default();
    assert!(note.contains("has not agreed"), "{note}");
    lc.advance(days(15)).await;
    assert_eq!(
        consulate_notices(&lc, &without),
        [],
        "no request, no reminder"
    );
    lc.withdraw(&without).await.expect("withdrawn");
    lc.closure(&without).await;
    assert_eq!(consulate_notices(&lc, &without), [], "nor a cancellation");
    lc.replay(&without).await;

    let with = lc.open_consulate_agreed(&[]).await;
    to_documents(&lc, &with).await;
    let task = lc.task(&with, TaskType::TravelDocument).await;
    assert_eq!(task.note, None);
    assert_eq!(
        consulate_notices(&lc, &with),
        [NoticeTemplate::DocumentsRequested]
    );
    // The request carries the pack (a PDF) of the member who agreed: Nour Saleh.
    let state = lc.ledger.snapshot();
    let packs: Vec<_> = state
        .attachments
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{with}:documents_requested")))
        .flat_map(|(_, files)| files.clone())
        .collect();
    assert_eq!(packs.len(), 1, "{packs:?}");
    assert!(packs[0].content.starts_with(b"%PDF-"));
    let pdf = &packs[0].content;
    for text in [
        "(Nour) Tj",
        "(Saleh) Tj",
        "(E-mail: returns@nld.example.org) Tj",
    ] {
        assert!(
            pdf.windows(text.len()).any(|w| w == text.as_bytes()),
            "{text}"
        );
    }
    // A consulate that was asked is told when the return is called off.
    lc.withdraw(&with).await.expect("withdrawn");
    lc.closure(&with).await;
    let told = consulate_notices(&lc, &with);
    assert!(told.contains(&NoticeTemplate::ReturnCancelled), "{told:?}");
    lc.replay(&with).await;
    lc.stop().await;
}

/// For a trafficking victim, a risk assessment comes before any contact with the authorities of
/// the country of origin: nothing reaches the consulate while it is open, nor after it finds
/// contact unsafe (even with consent); found safe, and with consent, the request goes out.
#[tokio::test]
async fn a_trafficking_victims_consulate_waits_for_the_risk_assessment_and_consent() {
    let lc = Lifecycle::start().await;
    let mut cases = Vec::new();
    for safe in [true, false] {
        let r = lc.open_consulate_agreed(&["victim_of_trafficking"]).await;
        to_documents(&lc, &r).await;
        let assessment = lc.task(&r, TaskType::RiskAssessment).await;
        assert_eq!(
            assessment.role,
            homeward_workflows::tasks::Role::ReturnOfficer
        );
        assert_eq!(
            consulate_notices(&lc, &r),
            [],
            "nothing before the assessment"
        );
        assert!(
            lc.view(&r)
                .await
                .tasks
                .iter()
                .all(|t| t.task_type != TaskType::TravelDocument),
            "the document task waits for the assessment"
        );
        let outcome = TaskOutcome::RiskAssessment {
            safe_to_contact_authorities: safe,
        };
        if safe {
            lc.complete(&r, TaskType::RiskAssessment, officer(), outcome)
                .await;
        } else {
            lc.try_complete(
                &r,
                TaskType::RiskAssessment,
                officer(),
                outcome,
                "the trafficker's network reaches the consulate",
            )
            .await
            .expect("recorded");
        }
        let task = lc.task(&r, TaskType::TravelDocument).await;
        if safe {
            assert_eq!(task.note, None);
            assert_eq!(
                consulate_notices(&lc, &r),
                [NoticeTemplate::DocumentsRequested]
            );
        } else {
            assert!(task.note.unwrap_or_default().contains("unsafe"));
            assert_eq!(consulate_notices(&lc, &r), []);
        }
        cases.push(r);
    }
    for r in &cases {
        lc.replay(r).await;
    }
    lc.stop().await;
}

/// A trafficking victim is texted only at a phone they confirmed safe: with a number on record
/// that is not confirmed, the flight message goes to the officer instead (saying why); once the
/// returnee confirms it, the SMS reaches it.
#[tokio::test]
async fn a_trafficking_victim_is_texted_only_at_a_phone_confirmed_safe() {
    let lc = Lifecycle::start().await;
    let mut seen = Vec::new();
    for safe in [false, true] {
        let r = lc
            .open(serde_json::json!({
                "programme": "nl-avrr", "host_country": "NLD", "origin_country": "IRQ",
                "household_size": 2,
                "members": [{"age_group": "adult", "vulnerabilities": ["victim_of_trafficking"]},
                            {"age_group": "adult"}],
                "people": [{
                    "names": {"document": {"given": "Nour", "family": "Saleh"}},
                    "phone": "+9647705550123",
                    "phone_safe": safe,
                    "consents": [{"purpose": "consulate", "given": true}]
                }]
            }))
            .await;
        to_documents(&lc, &r).await;
        lc.complete(
            &r,
            TaskType::RiskAssessment,
            officer(),
            TaskOutcome::RiskAssessment {
                safe_to_contact_authorities: true,
            },
        )
        .await;
        record_document(&lc, &r).await;
        lc.complete(&r, TaskType::SafeReception, ops(), approve())
            .await;
        lc.wait_for(&r, "the departure stage", |v| v.stage == Stage::Departure)
            .await;
        let ledger = lc.ledger.snapshot();
        let flight: Vec<_> = ledger
            .notices
            .iter()
            .filter(|(_, m)| m.notice.reference.as_str() == r)
            .filter(|(_, m)| m.notice.template == NoticeTemplate::FlightDetails)
            .collect();
        let texted: Vec<_> = flight
            .iter()
            .filter(|(_, m)| m.notice.audience == Audience::Returnee)
            .map(|(key, _)| ledger.people.get(*key).and_then(|p| p[0].phone.clone()))
            .collect();
        let instead = flight
            .iter()
            .find(|(_, m)| m.subject.starts_with("Phone not confirmed safe"));
        if safe {
            assert_eq!(texted, [Some("+9647705550123".to_owned())], "{flight:?}");
            assert!(instead.is_none());
        } else {
            assert!(texted.is_empty(), "texted an unconfirmed phone: {texted:?}");
            let (_, m) = instead.expect("the officer is told why");
            assert!(m.text.contains("victim of trafficking"), "{}", m.text);
            assert!(
                !m.text.contains("+964"),
                "no number in the e-mail: {}",
                m.text
            );
        }
        seen.push(r);
    }
    for r in &seen {
        lc.replay(r).await;
    }
    lc.stop().await;
}

/// Every opening of a trafficking victim's case is on the audit trail (who, when), written
/// before the case is shown; other cases' openings are not.
#[tokio::test]
async fn every_opening_of_a_trafficking_victims_case_is_audited() {
    let lc = Lifecycle::start().await;
    let protected = lc.open_consulate_agreed(&["victim_of_trafficking"]).await;
    let plain = lc.open_standard().await;
    // The officer who opened it (named on it: the case is restricted, see api_lists).
    let client = reqwest::Client::new();
    for r in [&protected, &protected, &plain] {
        let status = lc
            .http
            .get(lc.api_url(&format!("/api/v1/cases/{r}")))
            .send()
            .await
            .expect("get")
            .status();
        assert_eq!(status, 200);
    }
    let auditor = lc.key("auditor", None).await;
    let trail = |r: String| {
        let req = client
            .get(lc.api_url(&format!("/api/v1/audit?case={r}")))
            .bearer_auth(&auditor);
        async move { req.send().await.expect("audit").text().await.expect("csv") }
    };
    let opened = trail(protected.clone()).await;
    assert_eq!(
        opened.matches("restricted_case_opened").count(),
        2,
        "{opened}"
    );
    assert!(opened.contains("return_officer"), "{opened}");
    assert_eq!(
        trail(plain.clone())
            .await
            .matches("restricted_case_opened")
            .count(),
        0
    );
    lc.stop().await;
}

/// A medical escort's flight home was searched, priced into the booking and booked as its own
/// order with the party's (the escort's seat out is on the party's order).
async fn escort_flies_home(
    lc: &Lifecycle,
    r: &str,
    view: &homeward_workflows::return_case::CaseView,
) -> (String, String) {
    use homeward_activities::travel::Fare;
    let state = lc.ledger.snapshot();
    let searches = state.searches.get(r).expect("searched");
    let (out, home) = (&searches[searches.len() - 2], &searches[searches.len() - 1]);
    assert_eq!(
        out.passengers,
        [Fare::Adult, Fare::Adult, Fare::Adult],
        "two and the escort"
    );
    assert_eq!(
        (
            home.origin.as_str(),
            home.destination.as_str(),
            home.passengers.as_slice()
        ),
        (
            out.destination.as_str(),
            out.origin.as_str(),
            &[Fare::Adult][..]
        ),
        "the escort alone, back to the office's airport"
    );
    let order = view.facts.order.clone().expect("booked");
    let back = order
        .escort_return_order_id
        .clone()
        .expect("the escort's flight home");
    let keys: Vec<&String> = state
        .orders
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{r}:booking:")))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(
        keys.iter().any(|k| k.ends_with(":escort-return")),
        "{keys:?}"
    );
    let price = |id: &str| {
        state
            .orders
            .values()
            .find(|o| o.order_id == id)
            .expect("order")
            .total
            .minor
    };
    assert_eq!(order.total.minor, price(&order.order_id) + price(&back));
    (order.order_id, back)
}

/// An unaccompanied child flies with an escort, who flies home after the hand-over: the
/// search asks for the child's seat and the escort's, the escort's flight home is its own
/// order, and the child — with an adult on the order — is not booked as an unaccompanied minor.
#[tokio::test]
async fn an_unaccompanied_child_flies_with_an_escort_who_flies_home() {
    use homeward_activities::travel::Fare;
    let lc = Lifecycle::start().await;
    let born = (lc.now().await - chrono::Duration::days(12 * 365 + 100)).date_naive();
    let r = lc.open(child_intake(Some(born))).await;
    decide_childs_return(&lc, &r).await;
    lc.complete(&r, TaskType::EligibilityApproval, ops(), approve())
        .await;
    record_document(&lc, &r).await;
    let view = lc
        .wait_for(&r, "a booked flight", |v| v.facts.order.is_some())
        .await;
    let state = lc.ledger.snapshot();
    let searches = state.searches.get(&r).expect("searched");
    let out = &searches[searches.len() - 2];
    assert!(out.child_escort, "{out:?}");
    assert!(
        matches!(out.passengers[..], [Fare::Child { age: 12 }, Fare::Adult]),
        "{out:?}"
    );
    assert_eq!(out.destination, "EBL");
    let order = view.facts.order.expect("order");
    assert!(
        order.escort_return_order_id.is_some(),
        "the escort flies home"
    );
    let services: Vec<_> = state
        .services
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{r}:booking")))
        .flat_map(|(_, s)| s.clone())
        .collect();
    assert_eq!(services, [Vec::<String>::new()], "with an escort: not UMNR");
    // At arrival the child is received only against a signed hand-over.
    lc.advance_to(order.departs_at + chrono::Duration::hours(1))
        .await;
    lc.task(&r, TaskType::DepartureConfirmation).await;
    lc.complete(
        &r,
        TaskType::DepartureConfirmation,
        officer(),
        TaskOutcome::Departure {
            departed: true,
            changed_mind: false,
        },
    )
    .await;
    let received = |hand_over| TaskOutcome::Arrival {
        received: true,
        hand_over,
    };
    let err = lc
        .try_complete(
            &r,
            TaskType::ArrivalConfirmation,
            partner(),
            received(None),
            "",
        )
        .await
        .expect_err("no hand-over");
    assert!(rejection(err).contains("hand_over"));
    let hand_over = homeward_workflows::tasks::ChildHandOver {
        to: homeward_workflows::tasks::Receiver::FamilyMember,
        at: lc.now().await,
        document_checked: homeward_workflows::tasks::ReceiverDocument::NationalId,
        signed: false,
    };
    let err = lc
        .try_complete(
            &r,
            TaskType::ArrivalConfirmation,
            partner(),
            received(Some(hand_over.clone())),
            "",
        )
        .await
        .expect_err("unsigned");
    assert!(rejection(err).contains("hand_over.signed"));
    let signed = homeward_workflows::tasks::ChildHandOver {
        signed: true,
        ..hand_over
    };
    lc.complete(
        &r,
        TaskType::ArrivalConfirmation,
        partner(),
        received(Some(signed.clone())),
    )
    .await;
    let view = lc
        .wait_for(&r, "received", |v| v.facts.arrived_at.is_some())
        .await;
    let recorded = view
        .decisions
        .iter()
        .find(|d| d.what == "arrival_confirmation")
        .and_then(|d| d.outcome.clone());
    assert_eq!(recorded, Some(received(Some(signed))));
    lc.replay(&r).await;
    lc.stop().await;
}

/// Opens a medical case of two adults and brings it to its fit-to-travel check.
async fn open_medical_case_to_its_check(lc: &Lifecycle) -> String {
    let r = lc
        .open(serde_json::json!({
            "programme": "nl-avrr", "host_country": "NLD", "origin_country": "IRQ",
            "household_size": 2,
            "members": [{"age_group": "adult", "vulnerabilities": ["medical"]}, {"age_group": "adult"}]
        }))
        .await;
    to_documents(lc, &r).await;
    record_document(lc, &r).await;
    r
}

/// A withdrawal after booking cancels the party's flight and the escort's flight home, each
/// naming its order.
#[tokio::test]
async fn a_medical_escorts_flight_home_is_booked_and_cancelled_with_the_party() {
    let lc = Lifecycle::start().await;
    let r = open_medical_case_to_its_check(&lc).await;
    lc.complete(
        &r,
        TaskType::FitToTravel,
        officer(),
        TaskOutcome::FitToTravel {
            fit: true,
            medical_escort: true,
        },
    )
    .await;
    lc.complete(&r, TaskType::MedicalClearance, ops(), approve())
        .await;
    lc.complete(&r, TaskType::MedicalReception, ops(), approve())
        .await;
    let view = lc
        .wait_for(&r, "a booked flight", |v| v.facts.order.is_some())
        .await;
    let (out, back) = escort_flies_home(&lc, &r, &view).await;
    lc.withdraw(&r).await.expect("withdrawn");
    lc.wait_for(&r, "closed", |v| v.stage == Stage::Closed)
        .await;
    let cancelled = lc.ledger.snapshot().cancelled;
    assert!(
        cancelled.contains(&out) && cancelled.contains(&back),
        "{cancelled:?}"
    );
    lc.replay(&r).await;
    lc.stop().await;
}

/// Fit to travel only with a medical escort: operations obtain the airline's medical clearance
/// (MEDIF) before anything is booked; a refused clearance counts as unfit (deferred, assessed
/// again), and a granted one books with the escort.
#[tokio::test]
async fn a_case_fit_with_an_escort_is_booked_only_after_the_airlines_medical_clearance() {
    let lc = Lifecycle::start().await;
    let r = open_medical_case_to_its_check(&lc).await;
    let fit_with_escort = TaskOutcome::FitToTravel {
        fit: true,
        medical_escort: true,
    };
    lc.complete(
        &r,
        TaskType::FitToTravel,
        officer(),
        fit_with_escort.clone(),
    )
    .await;
    let clearance = lc.task(&r, TaskType::MedicalClearance).await;
    assert_eq!(clearance.role, homeward_workflows::tasks::Role::Operations);
    assert!(
        lc.ledger.snapshot().orders.is_empty(),
        "booked before clearance"
    );
    // The airline refuses: counted as unfit, deferred, assessed again after 30 days.
    lc.try_complete(
        &r,
        TaskType::MedicalClearance,
        ops(),
        TaskOutcome::Approval { approved: false },
        "the airline's medical service asks for a specialist's report",
    )
    .await
    .expect("refused");
    lc.advance(days(1)).await;
    let open: Vec<_> = lc
        .view(&r)
        .await
        .tasks
        .iter()
        .map(|t| t.task_type)
        .collect();
    assert!(
        !open.contains(&TaskType::FitToTravel),
        "asked again at once: {open:?}"
    );
    lc.advance(days(29)).await;
    lc.complete(&r, TaskType::FitToTravel, officer(), fit_with_escort)
        .await;
    lc.complete(&r, TaskType::MedicalClearance, ops(), approve())
        .await;
    // Before booking, a health facility at home must have confirmed it receives the returnee
    // and continues their care: a refusal (with its reason) asks again; nothing is booked.
    let reception = lc.task(&r, TaskType::MedicalReception).await;
    assert_eq!(reception.role, homeward_workflows::tasks::Role::Operations);
    lc.try_complete(
        &r,
        TaskType::MedicalReception,
        ops(),
        TaskOutcome::Approval { approved: false },
        "the Erbil clinic has no dialysis place before March",
    )
    .await
    .expect("a refusal, with its reason");
    let again = lc.task(&r, TaskType::MedicalReception).await;
    assert_ne!(again.id, reception.id, "asked again");
    assert!(lc.ledger.snapshot().orders.is_empty(), "nothing booked yet");
    lc.complete(&r, TaskType::MedicalReception, ops(), approve())
        .await;
    let view = lc
        .wait_for(&r, "a booked flight", |v| v.facts.order.is_some())
        .await;
    assert!(view.facts.medical_escort);
    assert_eq!(
        view.facts.receptions_confirmed,
        [TaskType::MedicalReception]
    );
    let searches = lc.ledger.snapshot().searches;
    let search = &searches.get(&r).expect("searched")[0];
    assert!(search.medical_escort, "the escort flies along: {search:?}");
    escort_flies_home(&lc, &r, &view).await;
    // On arrival, the plan of a medical case must include continuity of care.
    to_flight_day(&lc, &r).await;
    lc.complete(
        &r,
        TaskType::DepartureConfirmation,
        officer(),
        TaskOutcome::Departure {
            departed: true,
            changed_mind: false,
        },
    )
    .await;
    lc.complete(
        &r,
        TaskType::ArrivalConfirmation,
        partner(),
        TaskOutcome::Arrival {
            received: true,
            hand_over: None,
        },
    )
    .await;
    lc.complete(&r, TaskType::BaselineSurvey, partner(), survey(4))
        .await;
    let without_care = lc
        .try_complete(
            &r,
            TaskType::ReintegrationPlan,
            partner(),
            TaskOutcome::Plan {
                support: vec![SupportArea::Economic],
                lines: vec![],
            },
            "agreed",
        )
        .await;
    let err = without_care.expect_err("a medical case's plan without care");
    assert!(err.to_string().contains("continuity of care"), "{err}");
    lc.complete(
        &r,
        TaskType::ReintegrationPlan,
        partner(),
        TaskOutcome::Plan {
            support: vec![SupportArea::Economic, SupportArea::Medical],
            lines: vec![],
        },
    )
    .await;
    lc.task(&r, TaskType::PlanApproval).await;
    lc.replay(&r).await;
    lc.stop().await;
}

/// A medical case found unfit to travel is deferred, not asked again at once (it looped): the
/// next assessment comes after the programme's interval (30 days), and after three unfit
/// assessments in a row operations decide; closing ends the case as travel not possible.
#[tokio::test]
async fn a_medical_case_found_unfit_is_deferred_then_operations_decide() {
    let lc = Lifecycle::start().await;
    let r = open_medical_case_to_its_check(&lc).await;
    let unfit = TaskOutcome::FitToTravel {
        fit: false,
        medical_escort: false,
    };
    for n in 1..=3 {
        lc.task(&r, TaskType::FitToTravel).await;
        lc.complete(&r, TaskType::FitToTravel, officer(), unfit.clone())
            .await;
        if n < 3 {
            // Deferred: no assessment for now; the next one after 30 days.
            lc.advance(days(1)).await;
            let open: Vec<_> = lc
                .view(&r)
                .await
                .tasks
                .iter()
                .map(|t| t.task_type)
                .collect();
            assert!(
                !open.contains(&TaskType::FitToTravel),
                "asked again at once: {open:?}"
            );
            lc.advance(days(29)).await;
        }
    }
    let escalation = lc.task(&r, TaskType::MedicalEscalation).await;
    assert_eq!(escalation.role, homeward_workflows::tasks::Role::Operations);
    lc.try_complete(
        &r,
        TaskType::MedicalEscalation,
        ops(),
        TaskOutcome::Resolution {
            action: Resolution::Close,
        },
        "not expected to be fit to travel within the programme",
    )
    .await
    .expect("closed");
    assert_eq!(
        lc.closure(&r).await.reason,
        ClosureReason::TravelNotPossible
    );
    lc.replay(&r).await;
    lc.stop().await;
}

/// "Payment sent to you" follows only money paid to the returnee: the cash tranche tells them,
/// the in-kind one (bought by the office) does not.
#[tokio::test]
async fn only_a_cash_tranche_tells_the_returnee_a_payment_was_sent() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    to_reintegration(&lc, &r).await;
    for n in 1..=2 {
        pay_next_tranche(&lc, &r).await;
        lc.wait_for(&r, "a paid tranche", |v| v.facts.payments.len() == n)
            .await;
    }
    let view = lc.view(&r).await;
    let kinds: Vec<_> = view.facts.payments.iter().map(|p| p.kind).collect();
    // The cash tranche is paid first (at arrival), so its message went out before the
    // in-kind payment was recorded: nothing is still on its way when the ledger is read.
    assert_eq!(
        kinds[0],
        homeward_workflows::programme::PaymentKind::Cash,
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&homeward_workflows::programme::PaymentKind::Cash),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&homeward_workflows::programme::PaymentKind::InKind),
        "{kinds:?}"
    );
    // No phone on record, so each "paid" message reaches the officer instead; count those.
    let paid_notices = lc
        .ledger
        .snapshot()
        .notices
        .values()
        .filter(|m| {
            m.notice.reference.as_str() == r && m.notice.template == NoticeTemplate::TranchePaid
        })
        .count();
    assert_eq!(paid_notices, 1, "one per cash tranche");
    lc.replay(&r).await;
    lc.stop().await;
}

/// Issue "Protection pathways", item 6: grants come from the reintegration plan. The partner
/// costs the plan in budget lines per member, each paid to a supplier; a line over the Dutch
/// cap (EUR 2,000 per adult, in kind), a cash line (the programme pays no cash from the plan)
/// or a line for a member the household does not have is refused, naming why. The in-kind
/// tranches then pay the plan's lines, not the per-head tariff: the start tranche its share
/// (3,000 of 4,000 a head: three quarters), against an invoice from a supplier on the plan; the
/// review the rest. An amendment comes with the six-month review, is approved by operations
/// before the tranche is paid, and may not fall below what was paid.
#[tokio::test]
async fn a_costed_plan_pays_its_lines_to_its_suppliers_and_an_amendment_is_approved_first() {
    use homeward_workflows::outcomes::{BudgetArea, BudgetLine, Payee};
    use homeward_workflows::programme::Money;
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    to_plan(&lc, &r).await;
    let eur = |minor: i64| Money {
        minor,
        currency: "EUR".into(),
    };
    let line = |member: u32, area: BudgetArea, minor: i64| BudgetLine {
        member,
        area,
        amount: eur(minor),
        payee: Payee::Supplier {
            supplier: lc.supplier.clone(),
        },
    };
    let plan = |lines: Vec<BudgetLine>| TaskOutcome::Plan {
        support: vec![SupportArea::Economic, SupportArea::Social],
        lines,
    };
    let refused = |outcome: TaskOutcome| {
        let lc = &lc;
        let r = r.clone();
        async move {
            rejection(
                lc.try_complete(&r, TaskType::ReintegrationPlan, partner(), outcome, "")
                    .await
                    .expect_err("refused"),
            )
        }
    };
    let over = refused(plan(vec![
        line(0, BudgetArea::BusinessStartUp, 210_000),
        line(1, BudgetArea::Housing, 120_000),
    ]))
    .await;
    assert!(
        over.contains("member 0 (adult): 2100.00 EUR in kind is over the programme's cap of 2000.00 EUR per adult"),
        "{over}"
    );
    let cash = refused(plan(vec![BudgetLine {
        payee: Payee::Cash,
        ..line(0, BudgetArea::Other, 10_000)
    }]))
    .await;
    assert!(
        cash.contains("lines[0].payee: the programme pays no in cash from the plan"),
        "{cash}"
    );
    let stranger = refused(plan(vec![line(2, BudgetArea::Education, 10_000)])).await;
    assert!(stranger.contains("lines[0].member"), "{stranger}");
    lc.complete(
        &r,
        TaskType::ReintegrationPlan,
        partner(),
        plan(vec![
            line(0, BudgetArea::BusinessStartUp, 180_000),
            line(1, BudgetArea::Housing, 120_000),
        ]),
    )
    .await;
    lc.complete(&r, TaskType::PlanApproval, ops(), approve())
        .await;
    pay_next_tranche(&lc, &r).await; // the cash on arrival: the programme's EUR 615 a head
    lc.wait_for(&r, "the cash paid", |v| v.facts.payments.len() == 1)
        .await;

    // The start tranche pays three quarters of the plan's EUR 3,000.
    lc.complete(
        &r,
        TaskType::MilestoneVerification,
        partner(),
        TaskOutcome::Milestone {
            reached: true,
            amended_lines: None,
        },
    )
    .await;
    lc.complete(&r, TaskType::TrancheApproval, finance(), approve())
        .await;
    let task = lc.task(&r, TaskType::SupplierInvoice).await;
    assert_eq!(task.note.as_deref(), Some("start: up to 2250.00 EUR"));
    let invoice = |supplier: &str, minor: i64| TaskOutcome::Invoice {
        supplier: supplier.into(),
        invoice_reference: "INV-5".into(),
        amount: eur(minor),
    };
    let err = lc
        .try_complete(
            &r,
            TaskType::SupplierInvoice,
            finance(),
            invoice("sup-00000000000000ff", 100_000),
            "",
        )
        .await
        .expect_err("a supplier not on the plan");
    assert!(
        rejection(err).contains("not a supplier of the plan"),
        "only the plan's suppliers"
    );
    // Invoiced below the grant: the difference stays in the plan for the review.
    lc.complete(
        &r,
        TaskType::SupplierInvoice,
        finance(),
        invoice(&lc.supplier, 200_000),
    )
    .await;
    lc.wait_for(&r, "the start paid", |v| v.facts.payments.len() == 2)
        .await;

    // Three months: the survey; six months: the review proposes an amended plan.
    lc.advance(days(92)).await;
    lc.complete(&r, TaskType::MonitoringSurvey, partner(), survey(4))
        .await;
    lc.advance(days(92)).await;
    let amended = |minor: i64| TaskOutcome::Milestone {
        reached: true,
        amended_lines: Some(vec![
            line(0, BudgetArea::BusinessStartUp, minor),
            line(1, BudgetArea::Housing, 120_000),
        ]),
    };
    let err = lc
        .try_complete(
            &r,
            TaskType::MilestoneVerification,
            partner(),
            amended(50_000),
            "",
        )
        .await
        .expect_err("below what was paid");
    assert!(
        rejection(err).contains("below the 2000.00 EUR already paid"),
        "an amendment keeps what was paid"
    );
    lc.complete(
        &r,
        TaskType::MilestoneVerification,
        partner(),
        amended(200_000),
    )
    .await;
    let approval = lc.task(&r, TaskType::PlanApproval).await;
    assert_eq!(
        approval.note.as_deref(),
        Some("six-month-review: amended plan")
    );
    assert_eq!(approval.requested_by.as_deref(), Some("u-partner"));
    assert!(
        !lc.view(&r)
            .await
            .tasks
            .iter()
            .any(|t| t.task_type == TaskType::TrancheApproval),
        "the amendment is decided first"
    );
    lc.complete(&r, TaskType::PlanApproval, ops(), approve())
        .await;
    lc.complete(&r, TaskType::TrancheApproval, finance(), approve())
        .await;
    // The amended plan, EUR 3,200, less the EUR 2,000 paid.
    let task = lc.task(&r, TaskType::SupplierInvoice).await;
    assert_eq!(
        task.note.as_deref(),
        Some("six-month-review: up to 1200.00 EUR")
    );
    lc.invoice(&r).await;
    let view = lc
        .wait_for(&r, "the review paid", |v| v.facts.payments.len() == 3)
        .await;
    let paid = paid_by_tranche(&view);
    assert_eq!(
        paid,
        [
            ("cash".to_owned(), 123_000),
            ("start".to_owned(), 200_000),
            ("six-month-review".to_owned(), 120_000)
        ]
    );
    assert_eq!(view.facts.plan_lines.len(), 2);
    lc.replay(&r).await;
    lc.stop().await;
}

/// Issue "Protection pathways", item 7: the Reintegration Sustainability Survey is also the
/// assessment before the plan (IOM Reintegration Handbook, 2.2.5): the partner takes it after
/// arrival, and a dimension it scores below the programme's threshold must have its support in
/// the plan.
#[tokio::test]
async fn the_baseline_survey_comes_before_the_plan_and_a_low_score_is_answered_in_it() {
    let lc = Lifecycle::start().await;
    let r = lc.open_standard().await;
    to_documents(&lc, &r).await;
    to_arrival(&lc, &r).await;
    let task = lc.task(&r, TaskType::BaselineSurvey).await;
    assert_eq!(task.role, homeward_workflows::tasks::Role::Partner);
    assert!(
        !lc.view(&r)
            .await
            .tasks
            .iter()
            .any(|t| t.task_type == TaskType::ReintegrationPlan),
        "the plan waits for the assessment"
    );
    lc.complete(
        &r,
        TaskType::BaselineSurvey,
        partner(),
        TaskOutcome::Survey {
            reached: true,
            answers: Some(RssAnswers {
                economic: [4; 5],
                social: [3; 5],
                psychosocial: [1; 5],
            }),
        },
    )
    .await;
    let plan = |support: Vec<SupportArea>| TaskOutcome::Plan {
        support,
        lines: vec![],
    };
    let err = lc
        .try_complete(
            &r,
            TaskType::ReintegrationPlan,
            partner(),
            plan(vec![SupportArea::Economic]),
            "",
        )
        .await
        .expect_err("the low score unanswered");
    let message = rejection(err);
    assert!(
        message.contains("low psychosocial score (0.00"),
        "{message}"
    );
    lc.complete(
        &r,
        TaskType::ReintegrationPlan,
        partner(),
        plan(vec![SupportArea::Economic, SupportArea::Psychosocial]),
    )
    .await;
    let view = lc.view(&r).await;
    assert_eq!(view.facts.baseline.map(|b| b.psychosocial), Some(0.0));
    lc.task(&r, TaskType::PlanApproval).await;
    lc.replay(&r).await;
    lc.stop().await;
}
