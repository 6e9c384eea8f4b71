//! What a case records and shows: how it closed, the decisions people took, the facts it
//! established, its input (and where a continued run resumes), the decision Updates' inputs,
//! and the view the API shows. Serialised in workflow history: a field added here needs a
//! serde default, so recorded histories still decode.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::activities::{Order, Receipt};
use crate::domain::{CaseRef, Intake, OpenCase, Stage};
use crate::tasks::{Actor, RssScores, Task, TaskOutcome, TaskType};

/// Why a case closed (IOM Reintegration Handbook reasons, plus the pre-departure ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClosureReason {
    /// The support period ended.
    SupportPeriodEnded,
    /// The returnee opted out of further support.
    OptedOut,
    /// The returnee migrated again.
    ReMigrated,
    /// The returnee moved away from the partner's area.
    MovedAway,
    /// The returnee died.
    Died,
    /// Funding ended.
    FundingEnded,
    /// Security conditions ended support.
    SecurityEnded,
    /// The returnee decided not to return.
    DoesNotWantToReturn,
    /// Consent was withdrawn before departure.
    ConsentWithdrawn,
    /// Operations found the case ineligible.
    Ineligible,
    /// The best-interests determination or family assessment did not support return.
    NotInChildsBestInterests,
    /// Travel could not be arranged.
    TravelNotPossible,
    /// The returnee did not show up and was not rebooked.
    NoShow,
    /// The returnee could not be reached.
    Unreachable,
}

/// How the case ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Closure {
    /// Why.
    pub reason: ClosureReason,
    /// When (workflow time).
    pub at: DateTime<Utc>,
    /// Who decided (or `system`).
    pub by: Actor,
    /// A note without personal data.
    pub note: String,
}

/// An accepted human decision, kept in the case's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DecisionRecord {
    /// The task it completed (0 for withdrawal and early closure).
    pub task_id: u32,
    /// What was decided, e.g. `eligibility_approval` or `consent_withdrawn`.
    pub what: String,
    /// Who decided.
    pub actor: Actor,
    /// When.
    pub at: DateTime<Utc>,
    /// Why.
    pub reason: String,
    /// The answer, when a task was completed.
    pub outcome: Option<TaskOutcome>,
}

/// A compensation done while unwinding a withdrawn or closed case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Compensation {
    /// The flight order was cancelled.
    OrderCancelled {
        /// The order.
        order_id: String,
    },
    /// Tranches not yet paid were voided.
    TranchesVoided {
        /// Their names.
        tranches: Vec<String>,
    },
    /// The partner (or consulate) was told the return is off.
    PartnerNotified,
}

/// A tranche's payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PaymentRecord {
    /// The tranche's name.
    pub tranche: String,
    /// Cash or in kind.
    pub kind: crate::programme::PaymentKind,
    /// What was paid.
    pub amount: crate::programme::Money,
    /// The provider's receipt.
    pub receipt: Receipt,
    /// When it was paid.
    pub at: DateTime<Utc>,
}

/// One monitoring follow-up's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ScoreRecord {
    /// Which follow-up (0-based).
    pub follow_up: u32,
    /// The scores.
    pub scores: RssScores,
}

/// What the case has established so far; carried across continue-as-new.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Facts {
    /// The baseline survey's scores, taken before the plan (`rss-baseline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<RssScores>,
    /// The approved reintegration plan's budget lines (`plan-budget`; amended as approved).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plan_lines: Vec<crate::outcomes::BudgetLine>,
    /// An unaccompanied child's family assessment and best-interests determination both
    /// supported return (`child-sequence`): a consent asked again does not ask them again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub child_assessed: bool,
    /// The receptions confirmed before booking (`rules::receptions_to_confirm`), by task type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub receptions_confirmed: Vec<TaskType>,
    /// Whether the consulate of origin may be contacted for this case (the principal applicant
    /// agreed, and for a trafficking victim the risk assessment found it safe); `None` in runs
    /// recorded before the check existed, which contacted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consulate_contact: Option<bool>,
    /// The travel document's last valid day.
    pub document_expires_on: Option<chrono::NaiveDate>,
    /// A medical escort must fly along.
    pub medical_escort: bool,
    /// Booking attempts so far.
    pub booking_attempts: u32,
    /// The current flight order.
    pub order: Option<Order>,
    /// How many times the returnee changed their mind at the airport.
    #[serde(default)]
    pub changed_mind_at_airport: u32,
    /// Orders cancelled (rebooking, withdrawal).
    pub cancelled_orders: Vec<String>,
    /// When the returnee departed.
    pub departed_at: Option<DateTime<Utc>>,
    /// When the partner confirmed reception.
    pub arrived_at: Option<DateTime<Utc>>,
    /// When operations approved the reintegration plan.
    pub plan_approved_at: Option<DateTime<Utc>>,
    /// Tranches paid.
    pub payments: Vec<PaymentRecord>,
    /// Tranches that will not be paid.
    pub voided_tranches: Vec<String>,
    /// Monitoring scores.
    pub scores: Vec<ScoreRecord>,
    /// Compensations done while unwinding.
    pub compensations: Vec<Compensation>,
    /// How many notices were sent (numbers each notice's idempotency key).
    pub notices_sent: u32,
}

/// Why the lifecycle stopped early, set by an Update and seen by every wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Interrupt {
    /// Consent was withdrawn before departure.
    Withdrawn {
        /// By whom.
        by: Actor,
        /// Why.
        reason: String,
    },
    /// Operations closed the case early.
    ClosedEarly {
        /// By whom.
        by: Actor,
        /// The reason.
        reason: ClosureReason,
        /// A note.
        note: String,
    },
}

/// Where a continued run resumes: everything needed for reintegration and monitoring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    /// The next task id to hand out.
    pub next_task_id: u32,
    /// The decisions so far.
    pub decisions: Vec<DecisionRecord>,
    /// The facts so far.
    pub facts: Facts,
    /// How many of the decisions the case has written to the audit trail itself (absent in
    /// runs continued before the case did: then all are written again, once each).
    #[serde(default)]
    pub audited: usize,
    /// The revision of the last write of the open tasks (absent before the case wrote them).
    #[serde(default)]
    pub tasks_revision: u64,
}

/// Which recorded changes of what a case does this run makes, asked once when the run starts
/// (`ctx.patched`, before any other command): a run recorded without a change replays without
/// it, and a new run has them all. See `steps.rs` for the ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Patches {
    /// `protected-decisions`: the case writes each accepted decision to the audit trail, its
    /// search attributes name the roles whose work waits (never task types), and a payment
    /// webhook's word is confirmed with the provider before the case acts on it.
    pub protected_decisions: bool,
    /// `task-projection`: the case writes its open tasks to the case store for the inbox, and
    /// every task it opens is due (the programme's deadline for its type).
    pub task_projection: bool,
    /// `consulate-consent`: no message to the consulate of origin without the principal
    /// applicant's recorded consent to that contact, and for a trafficking victim not before a
    /// risk assessment found it safe; otherwise the officer obtains the document another way.
    pub consulate_consent: bool,
    /// `follow-up-retry`: when operations answer an unreachable returnee's escalation with
    /// "retry", the follow-up is tried again (before, the case moved on without it).
    pub follow_up_retry: bool,
    /// `medical-deferral`: a medical case found unfit waits `medical.reassess_after` before it
    /// is assessed again, and after `medical.max_deferrals` operations decide (before, the
    /// assessment was asked again at once, forever).
    pub medical_deferral: bool,
    /// `paid-notice-cash-only`: the returnee's "payment sent to you" SMS follows cash tranches
    /// only (in-kind support is not paid to them).
    pub paid_notice_cash_only: bool,
    /// `flight-details`: the "flight booked" notices tell the date, time, airport and meeting
    /// point (before, the officer passed them on).
    pub flight_details: bool,
    /// `airport-change-of-mind`: a returnee who changes their mind at the airport goes back to
    /// counselling (before, only "departed" or a no-show).
    pub airport_change_of_mind: bool,
    /// `medical-clearance`: a returnee fit to fly only with a medical escort is booked after
    /// operations obtained the airline's medical clearance (MEDIF); a refusal counts as unfit.
    pub medical_clearance: bool,
    /// `safe-phone`: a trafficking victim's SMS goes only to a phone they confirmed safe
    /// (otherwise to the officer, to pass on).
    pub safe_phone: bool,
    /// `supplier-invoices`: an in-kind tranche is paid to a supplier against the invoice
    /// finance record (before, in-kind disbursements named no payee).
    pub supplier_invoices: bool,
    /// `child-escort`: an unaccompanied child flies with an escort, who flies home after the
    /// hand-over (before, the child's seat was booked alone).
    pub child_escort: bool,
    /// `reception-confirmed`: a medical case's health facility, and a trafficking victim's
    /// specialised reception partner, are confirmed before the flight is booked.
    pub reception_confirmed: bool,
    /// `child-sequence`: an unaccompanied child's return is decided in sequence: the family
    /// assessment in the country of origin (the partner, its own deadline), then the
    /// best-interests determination (a child protection officer), then the child's views and
    /// the guardian's consent; the child is received only against a signed hand-over (before,
    /// the three gates opened at once for the officer, and any arrival was a reception).
    pub child_sequence: bool,
    /// `plan-budget`: a reintegration plan may cost its support in budget lines per member,
    /// within the programme's caps; the tranches that pay the plan then pay its lines, and the
    /// partner may propose an amendment with a milestone's review, which operations approve
    /// (before, every tranche paid the programme's per-head amounts).
    pub plan_budget: bool,
    /// `rss-baseline`: after arrival and before the plan, the partner takes the Reintegration
    /// Sustainability Survey as an assessment; a dimension it scores low must have its support
    /// in the plan (before, the survey came only with the follow-ups).
    pub rss_baseline: bool,
}

/// The workflow's input: a new case, or a continued one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseInput {
    /// The case as opened, with its pinned programme rules.
    pub case: OpenCase,
    /// Set when the run continues as new for the reintegration phase.
    #[serde(default)]
    pub resume: Option<Resume>,
}

impl CaseInput {
    /// A new case.
    pub fn new(case: OpenCase) -> Self {
        Self { case, resume: None }
    }
}

/// Consent withdrawal, through the `withdraw_consent` Update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    /// Who records it (a return officer or operations).
    pub actor: Actor,
    /// Why; required.
    pub reason: String,
}

/// Early closure, through the `close_case` Update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlyClosure {
    /// Who closes (operations).
    pub actor: Actor,
    /// Why.
    pub reason: ClosureReason,
    /// A note; required.
    pub note: String,
}

/// What `GET /api/v1/cases/{ref}` shows of a case: no personal data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CaseView {
    /// The case's public reference.
    pub reference: CaseRef,
    /// Where the case stands.
    pub stage: Stage,
    /// The intake it was opened with.
    pub intake: Intake,
    /// The programme version pinned at opening.
    pub programme_version: String,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// Open tasks.
    pub tasks: Vec<Task>,
    /// Decisions so far, oldest first.
    pub decisions: Vec<DecisionRecord>,
    /// What has been established.
    pub facts: Facts,
    /// How it ended, once closed.
    pub closure: Option<Closure>,
    /// The revision of the open tasks (see `crate::work`): `homeward reindex` writes them
    /// under it, so a newer write by the case is never overwritten.
    #[serde(default)]
    pub tasks_revision: u64,
}
