//! What each caller is shown of a case. Staff of the case's office see the whole case view;
//! a reception partner, only what reception and monitoring need of a case handed over to it:
//! no decisions (their free-text reasons), no vulnerabilities beyond the two flags the
//! hand-over itself carries, no payments.

use chrono::{DateTime, Utc};
use serde::Serialize;

use homeward_workflows::domain::{CaseRef, CountryCode, Stage, Vulnerability};
use homeward_workflows::return_case::{CaseView, ScoreRecord};
use homeward_workflows::tasks::{Role, Task};

use crate::auth::Caller;

/// A case as a reception partner sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartnerCaseView {
    /// The case's public reference.
    pub reference: CaseRef,
    /// Where the case stands.
    pub stage: Stage,
    /// Where the returnees arrive.
    pub origin_country: CountryCode,
    /// How many people arrive.
    pub household_size: u8,
    /// When they are expected (the booked flight).
    pub arrives_at: Option<DateTime<Utc>>,
    /// When they departed, once confirmed.
    pub departed_at: Option<DateTime<Utc>>,
    /// When the partner confirmed reception.
    pub arrived_at: Option<DateTime<Utc>>,
    /// When operations approved the reintegration plan.
    pub plan_approved_at: Option<DateTime<Utc>>,
    /// A child must be handed over to family or a guardian (as in the hand-over).
    pub unaccompanied_child: bool,
    /// Medical assistance is needed on arrival (as in the hand-over).
    pub medical_assistance: bool,
    /// The partner's own open tasks.
    pub tasks: Vec<Task>,
    /// The monitoring scores recorded so far.
    pub scores: Vec<ScoreRecord>,
}

/// The answer of `GET /api/v1/cases/{ref}` and of every decision: the view the caller may see.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum CaseFor {
    /// Office staff, auditors, admins.
    Full(Box<CaseView>),
    /// A reception partner.
    Partner(Box<PartnerCaseView>),
}

impl CaseFor {
    /// The view `caller` may see of `view` (the caller's scope was checked before).
    pub fn new(caller: &Caller, view: CaseView) -> Self {
        if caller.actor.role != Role::Partner {
            return CaseFor::Full(Box::new(view));
        }
        let intake = &view.intake;
        CaseFor::Partner(Box::new(PartnerCaseView {
            reference: view.reference.clone(),
            stage: view.stage,
            origin_country: intake.origin_country.clone(),
            household_size: intake.household_size.get(),
            arrives_at: view.facts.order.as_ref().map(|o| o.departs_at),
            departed_at: view.facts.departed_at,
            arrived_at: view.facts.arrived_at,
            plan_approved_at: view.facts.plan_approved_at,
            unaccompanied_child: intake.has(Vulnerability::UnaccompaniedChild),
            medical_assistance: intake.has(Vulnerability::Medical),
            tasks: view
                .tasks
                .iter()
                .filter(|t| t.role == Role::Partner)
                .cloned()
                .collect(),
            scores: view.facts.scores.clone(),
        }))
    }
}
