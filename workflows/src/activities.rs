//! Activity contracts: the names, inputs and outputs that workflows call.
//!
//! Only the signatures live here; `homeward-activities` implements them (and the macro checks at
//! compile time that each implementation matches its contract). This keeps the workflow crate
//! free of sqlx and reqwest. Every input that creates something outside carries an idempotency
//! key derived from the case and the step, never from a random number or a clock.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use temporalio_common::ActivityError;
use temporalio_macros::activity_definitions;

use crate::domain::{CaseRef, CountryCode, OpenCase, Stage};
use crate::programme::{Money, PaymentKind};

/// A stage change to mirror into the case store, so lists and statistics need not query every
/// workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageChange {
    /// The case that moved.
    pub reference: CaseRef,
    /// The stage it moved to.
    pub stage: Stage,
    /// Workflow time of the move, so a replayed or retried write stores the same instant.
    pub at: DateTime<Utc>,
}

/// A result worth counting in M&E statistics, mirrored into the case store. Numbers only: no
/// names, no free text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaseOutcome {
    /// A grant tranche was disbursed.
    TranchePaid {
        /// The case.
        reference: CaseRef,
        /// The tranche's position in the programme's list.
        tranche: u32,
        /// What was paid.
        amount: crate::programme::Money,
        /// Workflow time of the payment.
        at: DateTime<Utc>,
    },
    /// A monitoring follow-up was answered and scored.
    Scored {
        /// The case.
        reference: CaseRef,
        /// Which follow-up (0-based).
        follow_up: u32,
        /// The scores.
        scores: crate::tasks::RssScores,
        /// Workflow time of the answer.
        at: DateTime<Utc>,
    },
}

/// Decisions the case accepted, for the audit trail: written by the workflow itself, so a
/// decision is on record even if the API that sent it failed before writing its own row (and a
/// decision that reached the case any other way would show). Who, what, when; never the reason
/// (free text may hold personal data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionsAccepted {
    /// The case.
    pub reference: CaseRef,
    /// The decisions, in the order the case accepted them.
    pub decisions: Vec<AcceptedDecision>,
}

/// One accepted decision, as the audit trail records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedDecision {
    /// Its position among the case's decisions (0-based): with the reference, the audit row's
    /// idempotency key, so a retried write records it once.
    pub index: u32,
    /// The task it completed (0 for a withdrawal or an early closure).
    pub task_id: u32,
    /// What was decided, e.g. `eligibility_approval`.
    pub what: String,
    /// Who decided (user id).
    pub actor: String,
    /// In which role.
    pub role: crate::tasks::Role,
    /// Workflow time of the decision.
    pub at: DateTime<Utc>,
}

/// A request for flight offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferRequest {
    /// The case (the partner sees only the reference).
    pub reference: CaseRef,
    /// Where the flight leaves from.
    pub from_country: CountryCode,
    /// Where it goes.
    pub to_country: CountryCode,
    /// The earliest day to fly.
    pub earliest: NaiveDate,
    /// The last day to fly (travel documents must still be valid after it).
    pub latest: NaiveDate,
    /// Seats, escorts included.
    pub travellers: u8,
    /// Whether a medical escort and assistance must be booked along.
    pub medical_escort: bool,
    /// Whether an escort flies with an unaccompanied child (absent: no).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub child_escort: bool,
}

/// A flight offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// The partner's offer id.
    pub offer_id: String,
    /// Scheduled departure.
    pub departs_at: DateTime<Utc>,
    /// Total price for every traveller (with an escort, their flight home included).
    pub total: Money,
    /// With an escort: the partner's offer for the escort's flight home after the hand-over,
    /// booked with this one (absent: no escort, or offers made before escorts flew home).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escort_return_offer_id: Option<String>,
}

/// Book an offer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderRequest {
    /// `<ref>:booking:<attempt>`: a retried call finds the order it already created.
    pub idempotency_key: String,
    /// The case.
    pub reference: CaseRef,
    /// The offer to book.
    pub offer_id: String,
    /// The escort's flight home, booked with it (see [`Offer::escort_return_offer_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escort_return_offer_id: Option<String>,
}

/// A booked order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Order {
    /// The partner's order id.
    pub order_id: String,
    /// Scheduled departure.
    pub departs_at: DateTime<Utc>,
    /// What it cost (with an escort, their flight home included).
    pub total: Money,
    /// The escort's flight home: its own order (absent: no escort travels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escort_return_order_id: Option<String>,
}

/// Where an order stands at the travel partner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStatus {
    /// The partner's order id.
    pub order_id: String,
    /// Scheduled departure.
    pub departs_at: DateTime<Utc>,
    /// Cancelled (by us or by the airline).
    pub cancelled: bool,
}

/// Where a disbursement stands at the payment provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    /// Accepted, not yet confirmed by the provider.
    Pending,
    /// The money reached the returnee or supplier. (Receipts recorded before payments could be
    /// pending were all confirmed, hence the default.)
    #[default]
    Confirmed,
    /// The provider gave up (or refused it).
    Failed,
}

/// Cancel an order (a compensation: cancelling a cancelled order succeeds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    /// `<ref>:cancel:<order id>`.
    pub idempotency_key: String,
    /// The order.
    pub order_id: String,
    /// The escort's flight home, cancelled with it (under `<key>:escort-return`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escort_return_order_id: Option<String>,
}

/// Pay a grant tranche.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disbursement {
    /// `<ref>:tranche:<name>`: the same tranche can never be paid twice.
    pub idempotency_key: String,
    /// The case.
    pub reference: CaseRef,
    /// The tranche's name.
    pub tranche: String,
    /// Cash or in kind.
    pub kind: PaymentKind,
    /// How much.
    pub amount: Money,
    /// In kind: the supplier's invoice it pays (absent: cash, or an in-kind payment made
    /// before suppliers were named).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<Invoice>,
}

/// The supplier's invoice an in-kind disbursement pays: ids only (the supplier's name and
/// account are read from the register at call time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    /// The supplier's id (`sup-…`).
    pub supplier: String,
    /// The supplier's invoice number.
    pub invoice_reference: String,
}

/// The provider's receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Receipt {
    /// The provider's payment id.
    pub payment_id: String,
    /// The idempotency key it was made under.
    pub idempotency_key: String,
    /// Where the payment stood when the receipt was issued (or, once the case recorded it, when
    /// the provider confirmed it).
    #[serde(default)]
    pub state: PaymentState,
}

/// A payment provider's word that a pending disbursement settled, from its webhook (through
/// the API, as the `payment_settled` signal). Carries no personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSettlement {
    /// The case the payment belongs to.
    pub reference: CaseRef,
    /// The provider's payment id.
    pub payment_id: String,
    /// Confirmed or failed (a pending notice changes nothing).
    pub state: PaymentState,
}

/// Who a notice is for (a role's inbox or a partner's system, never a person's address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The case's return officer.
    ReturnOfficer,
    /// Operations.
    Operations,
    /// The consulate of the country of origin.
    Consulate,
    /// The reception partner in the country of origin.
    Partner,
    /// The returnee, through the gateway, in their language.
    Returnee,
    /// The supervisors of the case's office (overdue work).
    Supervisors,
}

/// The notices a case sends. Each has a text per language in the notice templates
/// (`config/notices.toml`); the worker refuses to start if one lacks the staff language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeTemplate {
    /// Consent was not given in time; the case went back to counselling.
    ConsentExpired,
    /// The consulate is asked for travel documents.
    DocumentsRequested,
    /// Travel documents are overdue (operations).
    DocumentsOverdue,
    /// A reminder to the consulate.
    DocumentsReminder,
    /// The flight is booked (cases recorded before `flight-details`: no date or place).
    FlightBooked,
    /// The flight is booked: its date and time (the departure airport's clock), the airport and
    /// the office's meeting point, filled in at send time.
    FlightDetails,
    /// The reception partner has not confirmed arrival in time.
    ReceptionOverdue,
    /// A grant tranche was paid (to the returnee).
    TranchePaid,
    /// The return is off (consent withdrawn or case closed before reception).
    ReturnCancelled,
    /// A task is past its due date and the programme's grace (to the office's supervisors;
    /// sent by the overdue sweep, not by the case).
    TaskOverdue,
}

impl NoticeTemplate {
    /// Every template, for checking that each has a text.
    pub const ALL: [NoticeTemplate; 10] = [
        NoticeTemplate::ConsentExpired,
        NoticeTemplate::DocumentsRequested,
        NoticeTemplate::DocumentsOverdue,
        NoticeTemplate::DocumentsReminder,
        NoticeTemplate::FlightBooked,
        NoticeTemplate::FlightDetails,
        NoticeTemplate::ReceptionOverdue,
        NoticeTemplate::TranchePaid,
        NoticeTemplate::ReturnCancelled,
        NoticeTemplate::TaskOverdue,
    ];

    /// The template's name, as in the templates file and idempotency keys.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeTemplate::ConsentExpired => "consent_expired",
            NoticeTemplate::DocumentsRequested => "documents_requested",
            NoticeTemplate::DocumentsOverdue => "documents_overdue",
            NoticeTemplate::DocumentsReminder => "documents_reminder",
            NoticeTemplate::FlightBooked => "flight_booked",
            NoticeTemplate::FlightDetails => "flight_details",
            NoticeTemplate::ReceptionOverdue => "reception_overdue",
            NoticeTemplate::TranchePaid => "tranche_paid",
            NoticeTemplate::ReturnCancelled => "return_cancelled",
            NoticeTemplate::TaskOverdue => "task_overdue",
        }
    }
}

impl std::fmt::Display for NoticeTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A notice to send: which template, to whom, in which language. The text is rendered by the
/// notify activity from the templates; the case contributes only its reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// `<ref>:<template>:<n>`: the gateway sends each notice once.
    pub idempotency_key: String,
    /// The case.
    pub reference: CaseRef,
    /// Which text.
    pub template: NoticeTemplate,
    /// Who it is for.
    pub audience: Audience,
    /// The returnee's language, for notices to the returnee; absent: the staff language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<crate::domain::Language>,
    /// The task a `task_overdue` notice is about (its type fills `{task}`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<crate::tasks::TaskType>,
    /// The flight a `flight_details` notice tells of; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flight: Option<FlightNotice>,
    /// Text the returnee only at a phone they confirmed safe (a trafficking victim); otherwise
    /// the officer passes the message on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub safe_phone_only: bool,
}

/// What a case knows of its flight for a notice: when it leaves and from which office's
/// airport. The notify activity turns it into the airport's name, the local date and time and
/// the office's meeting point (office configuration, not the case's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlightNotice {
    /// Scheduled departure.
    pub departs_at: DateTime<Utc>,
    /// The office (host country) whose departure airport it leaves from.
    pub office: CountryCode,
}

/// The minimal record the reception partner receives (data minimisation: no names here; the
/// partner's own channel carries what it needs to recognise the returnees).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandOver {
    /// `<ref>:handover:<order id>`.
    pub idempotency_key: String,
    /// The case.
    pub reference: CaseRef,
    /// Where they arrive.
    pub origin_country: CountryCode,
    /// When they are expected.
    pub arrives_at: DateTime<Utc>,
    /// How many people.
    pub household_size: u8,
    /// Whether a child must be handed over to family or a guardian.
    pub unaccompanied_child: bool,
    /// Whether medical assistance on arrival is needed.
    pub medical_assistance: bool,
}

/// The case store, as workflows see it.
pub struct CaseStoreActivities;

#[activity_definitions]
impl CaseStoreActivities {
    /// Writes the case row and its `case_opened` audit event. Idempotent: a retry after a
    /// crash finds the row and changes nothing.
    #[activity(name = "case_store.record_case_opened")]
    pub fn record_case_opened(_case: OpenCase) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Mirrors a stage change into the case row. Idempotent.
    #[activity(name = "case_store.record_stage")]
    pub fn record_stage(_change: StageChange) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Mirrors a paid tranche or a scored follow-up into the statistics tables. Idempotent: one
    /// row per tranche and per follow-up.
    #[activity(name = "case_store.record_outcome")]
    pub fn record_outcome(_outcome: CaseOutcome) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Appends the case's accepted decisions to the audit trail. Idempotent: one row per
    /// decision (keyed by case and position).
    #[activity(name = "case_store.record_decisions")]
    pub fn record_decisions(_decisions: DecisionsAccepted) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Replaces the case's rows of the open-task projection, unless a newer revision is
    /// there already. Idempotent.
    #[activity(name = "case_store.project_tasks")]
    pub fn project_tasks(_projection: crate::work::TaskProjection) -> Result<(), ActivityError> {
        unimplemented!()
    }
}

/// The retention of personal data.
pub struct RetentionActivities;

#[activity_definitions]
impl RetentionActivities {
    /// Erases the personal data of every case closed longer ago than its programme keeps it;
    /// how many were erased. Idempotent: an erased case is skipped.
    #[activity(name = "vault.sweep_retention")]
    pub fn sweep_retention(_input: ()) -> Result<u32, ActivityError> {
        unimplemented!()
    }
}

/// Overdue work.
pub struct EscalationActivities;

#[activity_definitions]
impl EscalationActivities {
    /// Tells the office's supervisors about every open task past its due date and its
    /// programme's grace, once per task; how many were escalated. Idempotent: an escalated
    /// task is marked, and its notice carries the key `<ref>:task_overdue:<task id>`.
    #[activity(name = "work.escalate_overdue")]
    pub fn escalate_overdue(_input: ()) -> Result<u32, ActivityError> {
        unimplemented!()
    }
}

/// The travel partner.
pub struct TravelActivities;

#[activity_definitions]
impl TravelActivities {
    /// Offers for a route, window and party, cheapest first.
    #[activity(name = "travel.search_offers")]
    pub fn search_offers(_request: OfferRequest) -> Result<Vec<Offer>, ActivityError> {
        unimplemented!()
    }

    /// Books an offer; never books twice under one key.
    #[activity(name = "travel.create_order")]
    pub fn create_order(_request: OrderRequest) -> Result<Order, ActivityError> {
        unimplemented!()
    }

    /// Cancels an order; cancelling twice is fine.
    #[activity(name = "travel.cancel_order")]
    pub fn cancel_order(_request: CancelRequest) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Where an order stands (an airline's cancellation or a moved flight shows here).
    #[activity(name = "travel.fetch_order")]
    pub fn fetch_order(_order_id: String) -> Result<OrderStatus, ActivityError> {
        unimplemented!()
    }
}

/// The payment provider.
pub struct PaymentActivities;

#[activity_definitions]
impl PaymentActivities {
    /// Pays a tranche; never pays twice under one key.
    #[activity(name = "payments.disburse")]
    pub fn disburse(_request: Disbursement) -> Result<Receipt, ActivityError> {
        unimplemented!()
    }

    /// Asks the provider where a disbursement stands (the polling half of confirmation; a
    /// webhook is the other).
    #[activity(name = "payments.disbursement_status")]
    pub fn disbursement_status(_payment_id: String) -> Result<PaymentState, ActivityError> {
        unimplemented!()
    }
}

/// Notifications and the reception partner.
pub struct OutreachActivities;

#[activity_definitions]
impl OutreachActivities {
    /// Sends a templated notice.
    #[activity(name = "outreach.notify")]
    pub fn notify(_notice: Notice) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Sends the reception partner the hand-over record.
    #[activity(name = "outreach.hand_over")]
    pub fn hand_over(_record: HandOver) -> Result<(), ActivityError> {
        unimplemented!()
    }

    /// Whether the principal applicant's person record holds their consent to contact the
    /// consulate of origin (the latest answer counts); `false` without a record.
    #[activity(name = "outreach.consulate_contact_agreed")]
    pub fn consulate_contact_agreed(_reference: CaseRef) -> Result<bool, ActivityError> {
        unimplemented!()
    }
}

/// The definitions' marker types, for `#[activity(definition = …)]` on implementations, which
/// makes the compiler check that an implementation's input and output match its contract.
pub mod markers {
    pub use super::case_store_activities::{
        ProjectTasks, RecordCaseOpened, RecordDecisions, RecordOutcome, RecordStage,
    };
    pub use super::escalation_activities::EscalateOverdue;
    pub use super::outreach_activities::{ConsulateContactAgreed, HandOver, Notify};
    pub use super::payment_activities::{Disburse, DisbursementStatus};
    pub use super::retention_activities::SweepRetention;
    pub use super::travel_activities::{CancelOrder, CreateOrder, FetchOrder, SearchOffers};
}
