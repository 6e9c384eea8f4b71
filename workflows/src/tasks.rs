//! Human tasks: what the workflow asks people to do, who may do it, and what a completion must
//! contain. The checks here run in the Update validator, so a rejected completion never reaches
//! the workflow's history.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Stage;
// Who acts and what they answer, re-exported: a task names both.
pub use crate::actors::{Actor, Role, Scope, check_user_scope};
pub use crate::outcomes::{
    ChildHandOver, CounsellingDecision, Receiver, ReceiverDocument, Resolution, RssAnswers,
    RssScores, SupportArea, TaskOutcome,
};

/// The kinds of task the lifecycle opens.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TaskType {
    /// Record a counselling session's outcome.
    CounsellingSession,
    /// One household member's signed voluntary-return declaration.
    Consent,
    /// Best-interests determination for an unaccompanied child, by a designated child
    /// protection officer (never the officer who asked), taking the family assessment into
    /// account.
    BestInterestsDetermination,
    /// The legal guardian's consent for an unaccompanied child.
    GuardianConsent,
    /// Assessment of the family the child returns to, made in the country of origin by the
    /// reception partner.
    FamilyAssessment,
    /// An unaccompanied child's own views on returning, heard in an age-appropriate way
    /// (required from the age the programme sets).
    ChildViews,
    /// Operations approve eligibility.
    EligibilityApproval,
    /// A trafficking victim's risk assessment: is contact with the authorities of the country
    /// of origin (the consulate) safe?
    RiskAssessment,
    /// Record the travel document the consulate issued.
    TravelDocument,
    /// The consulate is late; operations decide what to do.
    DocumentEscalation,
    /// Record the pre-embarkation medical check.
    FitToTravel,
    /// Unfit to travel at every assessment so far; operations defer again or close.
    MedicalEscalation,
    /// Fit to travel with conditions (a medical escort): operations obtain the airline's
    /// medical clearance (IATA MEDIF) before anything is booked.
    MedicalClearance,
    /// A medical case: operations confirm, before booking, that a health facility in the
    /// country of origin will receive the returnee and continue their care.
    MedicalReception,
    /// A trafficking victim: operations confirm, before booking, that a reception partner
    /// specialised in assisting victims of trafficking will receive them.
    SafeReception,
    /// Operations approve a booking over budget.
    BookingApproval,
    /// The travel partner refused a booking; operations decide.
    BookingFailed,
    /// Confirm the returnee departed (or did not).
    DepartureConfirmation,
    /// The returnee missed the flight; operations rebook or close.
    NoShow,
    /// The partner confirms reception (for a child: hand-over).
    ArrivalConfirmation,
    /// No reception confirmation in time; operations follow up.
    ReceptionEscalation,
    /// The partner's Reintegration Sustainability Survey soon after arrival, as the assessment
    /// the plan is tailored to.
    BaselineSurvey,
    /// The partner submits the reintegration plan.
    ReintegrationPlan,
    /// Operations approve the plan.
    PlanApproval,
    /// The partner verifies a tranche's milestone.
    MilestoneVerification,
    /// Finance (or operations) approve a tranche's payment.
    TrancheApproval,
    /// Finance record the supplier's invoice an in-kind tranche pays (the payee).
    SupplierInvoice,
    /// A payment failed, was refused, or stayed unconfirmed too long; finance decide.
    PaymentFailed,
    /// A monitoring visit or phone survey.
    MonitoringSurvey,
    /// The returnee could not be reached; operations follow up.
    MonitoringEscalation,
    /// A low sustainability score: refer the returnee to support.
    Referral,
}

impl TaskType {
    /// Every task type.
    pub const ALL: [TaskType; 31] = {
        use TaskType::*;
        [
            CounsellingSession,
            Consent,
            BestInterestsDetermination,
            GuardianConsent,
            FamilyAssessment,
            ChildViews,
            EligibilityApproval,
            RiskAssessment,
            TravelDocument,
            DocumentEscalation,
            FitToTravel,
            MedicalEscalation,
            MedicalClearance,
            MedicalReception,
            SafeReception,
            BookingApproval,
            BookingFailed,
            DepartureConfirmation,
            NoShow,
            ArrivalConfirmation,
            ReceptionEscalation,
            BaselineSurvey,
            ReintegrationPlan,
            PlanApproval,
            MilestoneVerification,
            TrancheApproval,
            SupplierInvoice,
            PaymentFailed,
            MonitoringSurvey,
            MonitoringEscalation,
            Referral,
        ]
    };

    /// The role that may complete a task of this type.
    pub fn role(self) -> Role {
        use TaskType::*;
        match self {
            CounsellingSession
            | Consent
            | GuardianConsent
            | ChildViews
            | RiskAssessment
            | TravelDocument
            | FitToTravel
            | DepartureConfirmation => Role::ReturnOfficer,
            EligibilityApproval | DocumentEscalation | MedicalEscalation | MedicalClearance
            | MedicalReception | SafeReception | BookingApproval | BookingFailed | NoShow
            | ReceptionEscalation | PlanApproval | MonitoringEscalation | Referral => {
                Role::Operations
            }
            TrancheApproval | SupplierInvoice | PaymentFailed => Role::Finance,
            BestInterestsDetermination => Role::ChildProtection,
            FamilyAssessment
            | ArrivalConfirmation
            | BaselineSurvey
            | ReintegrationPlan
            | MilestoneVerification
            | MonitoringSurvey => Role::Partner,
        }
    }

    /// Whether a task of this type is asked only on an unaccompanied child's case, of a role
    /// that is asked nothing else at that point: the roles whose work waits on it are then
    /// kept out of the case's search attributes (DOMAIN.md: nothing there may single out a
    /// vulnerability).
    pub fn singles_out_a_child(self) -> bool {
        matches!(
            self,
            TaskType::FamilyAssessment | TaskType::BestInterestsDetermination
        )
    }

    /// The stable name, as in search attributes and the API.
    pub fn as_str(self) -> &'static str {
        use TaskType::*;
        match self {
            CounsellingSession => "counselling_session",
            Consent => "consent",
            BestInterestsDetermination => "best_interests_determination",
            GuardianConsent => "guardian_consent",
            FamilyAssessment => "family_assessment",
            ChildViews => "child_views",
            EligibilityApproval => "eligibility_approval",
            RiskAssessment => "risk_assessment",
            TravelDocument => "travel_document",
            DocumentEscalation => "document_escalation",
            FitToTravel => "fit_to_travel",
            MedicalEscalation => "medical_escalation",
            MedicalClearance => "medical_clearance",
            MedicalReception => "medical_reception",
            SafeReception => "safe_reception",
            BookingApproval => "booking_approval",
            BookingFailed => "booking_failed",
            DepartureConfirmation => "departure_confirmation",
            NoShow => "no_show",
            ArrivalConfirmation => "arrival_confirmation",
            ReceptionEscalation => "reception_escalation",
            BaselineSurvey => "baseline_survey",
            ReintegrationPlan => "reintegration_plan",
            PlanApproval => "plan_approval",
            MilestoneVerification => "milestone_verification",
            TrancheApproval => "tranche_approval",
            SupplierInvoice => "supplier_invoice",
            PaymentFailed => "payment_failed",
            MonitoringSurvey => "monitoring_survey",
            MonitoringEscalation => "monitoring_escalation",
            Referral => "referral",
        }
    }

    /// Whether `outcome` is the kind of answer this task asks for.
    pub fn accepts(self, outcome: &TaskOutcome) -> bool {
        use TaskType::*;
        matches!(
            (self, outcome),
            (CounsellingSession, TaskOutcome::Counselling { .. })
                | (Consent | GuardianConsent, TaskOutcome::Consent { .. })
                | (
                    BestInterestsDetermination | FamilyAssessment,
                    TaskOutcome::Assessment { .. }
                )
                | (
                    EligibilityApproval
                        | MedicalClearance
                        | MedicalReception
                        | SafeReception
                        | BookingApproval
                        | PlanApproval
                        | TrancheApproval,
                    TaskOutcome::Approval { .. }
                )
                | (ChildViews, TaskOutcome::ChildViews { .. })
                | (RiskAssessment, TaskOutcome::RiskAssessment { .. })
                | (TravelDocument, TaskOutcome::TravelDocument { .. })
                | (FitToTravel, TaskOutcome::FitToTravel { .. })
                | (DepartureConfirmation, TaskOutcome::Departure { .. })
                | (ArrivalConfirmation, TaskOutcome::Arrival { .. })
                | (ReintegrationPlan, TaskOutcome::Plan { .. })
                | (MilestoneVerification, TaskOutcome::Milestone { .. })
                | (
                    MonitoringSurvey | BaselineSurvey,
                    TaskOutcome::Survey { .. }
                )
                | (SupplierInvoice, TaskOutcome::Invoice { .. })
                | (
                    DocumentEscalation
                        | MedicalEscalation
                        | BookingFailed
                        | NoShow
                        | ReceptionEscalation
                        | PaymentFailed
                        | MonitoringEscalation
                        | Referral,
                    TaskOutcome::Resolution { .. }
                )
        )
    }
}

impl fmt::Display for TaskType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An open task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Task {
    /// Unique within the case.
    pub id: u32,
    /// What is asked.
    pub task_type: TaskType,
    /// The stage that opened it.
    pub stage: Stage,
    /// Who may complete it.
    pub role: Role,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// When it is due.
    pub due_at: Option<DateTime<Utc>>,
    /// Who asked for it (for four-eyes: they may not complete it).
    pub requested_by: Option<String>,
    /// Which household member, tranche or follow-up it concerns (an index, never a name).
    pub subject: Option<u32>,
    /// What the person should know, e.g. the partner's own error message after a refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Who holds it (claimed, or assigned by a supervisor): only they or a supervisor may
    /// complete it (`crate::work`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<String>,
    /// Since when they hold it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<DateTime<Utc>>,
}

/// A completion, as submitted through the workflow Update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskCompletion {
    /// The task being completed.
    pub task_id: u32,
    /// Who completes it (authenticated by the API).
    pub actor: Actor,
    /// Why; required for refusals.
    #[serde(default)]
    pub reason: String,
    /// The answer.
    pub outcome: TaskOutcome,
}

/// Why a completion was refused. The API maps each to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionCode {
    /// The task does not exist or is no longer open (409).
    TaskNotOpen,
    /// The actor's role may not complete this task (403).
    WrongRole,
    /// The actor requested this approval and may not grant it (403).
    FourEyes,
    /// The content is wrong for this task (422).
    Invalid,
    /// The case is outside the actor's office or country (answered as "no such case", 404).
    OutOfScope,
    /// The decision carries no valid seal of the API (`seal.rs`): it did not come through the
    /// Homeward API (403).
    Unsealed,
    /// A colleague holds the task (409): they, or a supervisor, must release it first.
    Claimed,
}

impl RejectionCode {
    /// The code's stable name, which starts the validator's error message.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCode::TaskNotOpen => "task_not_open",
            RejectionCode::WrongRole => "wrong_role",
            RejectionCode::FourEyes => "four_eyes",
            RejectionCode::Invalid => "invalid",
            RejectionCode::OutOfScope => "out_of_scope",
            RejectionCode::Unsealed => "unsealed",
            RejectionCode::Claimed => "claimed",
        }
    }

    /// Every code.
    pub const ALL: [RejectionCode; 7] = [
        RejectionCode::TaskNotOpen,
        RejectionCode::WrongRole,
        RejectionCode::FourEyes,
        RejectionCode::Invalid,
        RejectionCode::OutOfScope,
        RejectionCode::Unsealed,
        RejectionCode::Claimed,
    ];

    /// Reads the code a rejection's message starts with (`<code>: <words>`, as
    /// [`TaskRejection`] writes it); `None` for any other message.
    pub fn from_message(message: &str) -> Option<Self> {
        let (code, _) = message.split_once(": ")?;
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

/// A refused completion; its message starts with the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct TaskRejection {
    /// Why.
    pub code: RejectionCode,
    /// In words.
    pub message: String,
}

impl TaskRejection {
    /// A rejection with a message.
    pub fn new(code: RejectionCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// Checks a completion against the open tasks. Runs in the Update validator.
pub fn check_completion(
    tasks: &[Task],
    completion: &TaskCompletion,
    today: NaiveDate,
    min_document_expiry: Option<NaiveDate>,
) -> Result<(), TaskRejection> {
    let task = tasks
        .iter()
        .find(|t| t.id == completion.task_id)
        .ok_or_else(|| {
            TaskRejection::new(
                RejectionCode::TaskNotOpen,
                format!("task {} is not open", completion.task_id),
            )
        })?;
    if completion.actor.role != task.role {
        return Err(TaskRejection::new(
            RejectionCode::WrongRole,
            format!(
                "a {} task can only be completed by {}",
                task.task_type,
                task.role.as_str()
            ),
        ));
    }
    if task.requested_by.as_deref() == Some(completion.actor.id.as_str()) {
        return Err(TaskRejection::new(
            RejectionCode::FourEyes,
            "whoever requested an approval cannot grant it",
        ));
    }
    crate::work::check_holder(task, &completion.actor)?;
    if !task.task_type.accepts(&completion.outcome) {
        return Err(TaskRejection::new(
            RejectionCode::Invalid,
            format!("outcome: not an answer to a {} task", task.task_type),
        ));
    }
    if completion.reason.chars().count() > crate::domain::MAX_FREE_TEXT {
        return Err(TaskRejection::new(
            RejectionCode::Invalid,
            format!(
                "reason: must be at most {} characters",
                crate::domain::MAX_FREE_TEXT
            ),
        ));
    }
    if completion.outcome.is_negative() && completion.reason.trim().is_empty() {
        return Err(TaskRejection::new(
            RejectionCode::Invalid,
            "reason: a refusal needs a reason",
        ));
    }
    completion
        .outcome
        .check(today, min_document_expiry)
        .map_err(|m| TaskRejection::new(RejectionCode::Invalid, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn task(task_type: TaskType, requested_by: Option<&str>) -> Task {
        Task {
            id: 1,
            task_type,
            stage: Stage::EligibilityApproval,
            role: task_type.role(),
            opened_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            due_at: None,
            requested_by: requested_by.map(str::to_owned),
            subject: None,
            note: None,
            assignee: None,
            claimed_at: None,
        }
    }

    fn completion(role: Role, id: &str, outcome: TaskOutcome) -> TaskCompletion {
        TaskCompletion {
            task_id: 1,
            actor: Actor {
                id: id.into(),
                role,
                office: Some("NLD".into()),
                country: None,
                supervisor: false,
            },
            reason: String::new(),
            outcome,
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()
    }

    #[test]
    fn the_requester_cannot_approve() {
        let tasks = [task(TaskType::EligibilityApproval, Some("u-officer"))];
        let c = completion(
            Role::Operations,
            "u-officer",
            TaskOutcome::Approval { approved: true },
        );
        let err = check_completion(&tasks, &c, today(), None).unwrap_err();
        assert_eq!(err.code, RejectionCode::FourEyes);
        let other = completion(
            Role::Operations,
            "u-ops",
            TaskOutcome::Approval { approved: true },
        );
        assert!(check_completion(&tasks, &other, today(), None).is_ok());
    }

    #[test]
    fn wrong_role_unknown_task_and_wrong_content_are_refused() {
        let tasks = [task(TaskType::EligibilityApproval, None)];
        let approve = TaskOutcome::Approval { approved: true };
        let c = completion(Role::Finance, "u-f", approve.clone());
        assert_eq!(
            check_completion(&tasks, &c, today(), None)
                .unwrap_err()
                .code,
            RejectionCode::WrongRole
        );
        let mut c = completion(Role::Operations, "u-o", approve);
        c.task_id = 9;
        assert_eq!(
            check_completion(&tasks, &c, today(), None)
                .unwrap_err()
                .code,
            RejectionCode::TaskNotOpen
        );
        let c = completion(
            Role::Operations,
            "u-o",
            TaskOutcome::Consent { signed: true },
        );
        assert_eq!(
            check_completion(&tasks, &c, today(), None)
                .unwrap_err()
                .code,
            RejectionCode::Invalid
        );
    }

    #[test]
    fn a_rejection_needs_a_reason() {
        let tasks = [task(TaskType::EligibilityApproval, None)];
        let mut c = completion(
            Role::Operations,
            "u-o",
            TaskOutcome::Approval { approved: false },
        );
        assert!(check_completion(&tasks, &c, today(), None).is_err());
        c.reason = "not a national of a served country".into();
        assert!(check_completion(&tasks, &c, today(), None).is_ok());
    }

    #[test]
    fn rejection_codes_round_trip_through_messages() {
        for code in RejectionCode::ALL {
            let r = TaskRejection::new(code, "no: really");
            assert_eq!(RejectionCode::from_message(&r.to_string()), Some(code));
        }
        assert_eq!(RejectionCode::from_message("not four_eyes: x"), None);
        assert_eq!(RejectionCode::from_message("four_eyes"), None);
    }
}
