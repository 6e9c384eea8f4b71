//! The ReturnCase lifecycle on the real time-skipping test server: a full year in seconds, and
//! one test per branch.

mod support;

use std::time::Duration;

use homeward_workflows::domain::Stage;
use homeward_workflows::return_case::{ClosureReason, Compensation};
use homeward_workflows::tasks::{
    CounsellingDecision, Resolution, RssAnswers, SupportArea, TaskOutcome, TaskType,
};
use support::lifecycle::{Lifecycle, days, finance, officer, ops, partner};

fn wants_to_return() -> TaskOutcome {
    TaskOutcome::Counselling {
        decision: CounsellingDecision::WantsToReturn,
    }
}
fn approve() -> TaskOutcome {
    TaskOutcome::Approval { approved: true }
}
fn signed() -> TaskOutcome {
    TaskOutcome::Consent { signed: true }
}
fn survey(score: u8) -> TaskOutcome {
    TaskOutcome::Survey {
        reached: true,
        answers: Some(RssAnswers {
            economic: [score; 5],
            social: [score; 5],
            psychosocial: [score; 5],
        }),
    }
}

/// Counselling, consent from both adults and eligibility approval.
async fn to_documents(lc: &Lifecycle, r: &str) {
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
async fn record_document(lc: &Lifecycle, r: &str) {
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
async fn to_flight_day(lc: &Lifecycle, r: &str) -> String {
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
async fn to_reintegration(lc: &Lifecycle, r: &str) {
    record_document(lc, r).await;
    to_flight_day(lc, r).await;
    lc.complete(
        r,
        TaskType::DepartureConfirmation,
        officer(),
        TaskOutcome::Departure { departed: true },
    )
    .await;
    lc.complete(
        r,
        TaskType::ArrivalConfirmation,
        partner(),
        TaskOutcome::Arrival { received: true },
    )
    .await;
    lc.complete(
        r,
        TaskType::ReintegrationPlan,
        partner(),
        TaskOutcome::Plan {
            support: vec![SupportArea::Economic],
        },
    )
    .await;
    lc.complete(r, TaskType::PlanApproval, ops(), approve())
        .await;
}

/// Verifies and approves the next tranche.
async fn pay_next_tranche(lc: &Lifecycle, r: &str) {
    lc.complete(
        r,
        TaskType::MilestoneVerification,
        partner(),
        TaskOutcome::Milestone { reached: true },
    )
    .await;
    lc.complete(r, TaskType::TrancheApproval, finance(), approve())
        .await;
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
    // NL: two adults; cash capped at EUR 300, start EUR 1,500 each in kind, review EUR 300 each.
    let paid: Vec<(String, i64)> = view
        .facts
        .payments
        .iter()
        .map(|p| (p.tranche.clone(), p.amount.minor))
        .collect();
    assert_eq!(
        paid,
        [
            ("cash".to_owned(), 30000),
            ("start".to_owned(), 300000),
            ("six-month-review".to_owned(), 60000)
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
