//! Human tasks: what the workflow asks people to do, who may do it, and what a completion must
//! contain. The checks here run in the Update validator, so a rejected completion never reaches
//! the workflow's history.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Stage;

/// The roles of DOMAIN.md ("Who uses it").
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
pub enum Role {
    /// Counsellor or caseworker in the host country.
    ReturnOfficer,
    /// Programme/operations unit: approvals and escalations.
    Operations,
    /// Releases grant payments.
    Finance,
    /// Reception and reintegration partner in the country of origin.
    Partner,
    /// Reads everything, changes nothing.
    Auditor,
    /// Manages users.
    Admin,
    /// The workflow itself.
    System,
}

impl Role {
    /// The role's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ReturnOfficer => "return_officer",
            Role::Operations => "operations",
            Role::Finance => "finance",
            Role::Partner => "partner",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::System => "system",
        }
    }
}

/// Who acts: an authenticated user's id and the role they act in. The id is opaque (`u-…`),
/// never a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// The user's id.
    pub id: String,
    /// The role they act in.
    pub role: Role,
    /// The office (host country) they act for; a partner, the office that hands cases over to
    /// them. `None` only for auditors, admins and the system, who see every case. Validators
    /// refuse a case outside it, so the API needs no separate look-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<String>,
    /// For a partner: the country of origin they receive returnees in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl Actor {
    /// The workflow itself, for steps no person requested.
    pub fn system() -> Self {
        Self {
            id: "system".into(),
            role: Role::System,
            office: None,
            country: None,
        }
    }

    /// The cases this actor sees: an office its own (host country); a partner only the cases
    /// its office has handed over to it (bound for its country, from departure booked until
    /// the case closes); auditors, admins and the system all. Anyone else without an office
    /// sees nothing. The one statement of the rule; validators, lists, the inbox and statistics
    /// all apply it.
    pub fn scope(&self) -> Scope {
        match (self.role, &self.office, &self.country) {
            (Role::Auditor | Role::Admin | Role::System, _, _) => Scope::All,
            (Role::Partner, Some(office), Some(country)) => Scope::Partner {
                office: office.clone(),
                country: country.clone(),
            },
            (Role::Partner, _, _) => Scope::Nobody,
            (_, Some(office), _) => Scope::HostCountry(office.clone()),
            (_, None, _) => Scope::Nobody,
        }
    }

    /// Whether this actor may see (and so act on) a case with this intake at this stage.
    pub fn may_see(&self, intake: &crate::domain::Intake, stage: Stage) -> bool {
        self.scope().covers(
            intake.host_country.as_str(),
            intake.origin_country.as_str(),
            stage,
        )
    }
}

/// Which cases someone sees (see [`Actor::scope`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every case.
    All,
    /// Cases whose host country (office) is this one.
    HostCountry(String),
    /// Cases this office has handed over to a partner in this country of origin.
    Partner {
        /// The host office.
        office: String,
        /// The country of origin.
        country: String,
    },
    /// No case (a user whose role needs an office but has none).
    Nobody,
}

impl Scope {
    /// Whether a case of this office, country of origin and stage is in scope.
    pub fn covers(&self, host: &str, origin: &str, stage: Stage) -> bool {
        match self {
            Scope::All => true,
            Scope::HostCountry(office) => office == host,
            Scope::Partner { office, country } => {
                office == host && country == origin && stage.is_handed_over()
            }
            Scope::Nobody => false,
        }
    }
}

/// The scope a user of `role` must be given (the other half of [`Actor::scope`]): return
/// officers, operations and finance need an office; a partner needs an office (the one that
/// hands cases over) and the country of origin it works in; only auditors and admins see every
/// case and take neither. The message names the missing or surplus option.
pub fn check_user_scope(role: Role, office: bool, country: bool) -> Result<(), &'static str> {
    match (role, office, country) {
        (Role::System, _, _) => Err("role: system is reserved for the workflow itself"),
        (Role::Auditor | Role::Admin, false, false) => Ok(()),
        (Role::Auditor | Role::Admin, _, _) => {
            Err("office: auditors and admins see every case and take no office or country")
        }
        (Role::Partner, true, true) => Ok(()),
        (Role::Partner, false, _) => {
            Err("office: a partner needs the office that hands cases over to it")
        }
        (Role::Partner, true, false) => {
            Err("country: a partner needs the country of origin it receives returnees in")
        }
        (_, false, _) => Err("office: return officers, operations and finance need an office"),
        (_, true, true) => Err("country: only partners have a country of origin"),
        (_, true, false) => Ok(()),
    }
}

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
    /// Best-interests determination for an unaccompanied child, by the guardian.
    BestInterestsDetermination,
    /// The legal guardian's consent for an unaccompanied child.
    GuardianConsent,
    /// Assessment of the family the child returns to.
    FamilyAssessment,
    /// Operations approve eligibility.
    EligibilityApproval,
    /// Record the travel document the consulate issued.
    TravelDocument,
    /// The consulate is late; operations decide what to do.
    DocumentEscalation,
    /// Record the pre-embarkation medical check.
    FitToTravel,
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
    /// The partner submits the reintegration plan.
    ReintegrationPlan,
    /// Operations approve the plan.
    PlanApproval,
    /// The partner verifies a tranche's milestone.
    MilestoneVerification,
    /// Finance (or operations) approve a tranche's payment.
    TrancheApproval,
    /// A payment failed, was refused, or stayed unconfirmed too long; finance decide.
    PaymentFailed,
    /// A monitoring visit or phone survey.
    MonitoringSurvey,
    /// The returnee could not be reached; operations follow up.
    MonitoringEscalation,
    /// A low sustainability score: refer the returnee to support.
    Referral,
    /// Operations confirm the case may close at the end of its support period.
    ClosureApproval,
}

impl TaskType {
    /// Every task type.
    pub const ALL: [TaskType; 24] = {
        use TaskType::*;
        [
            CounsellingSession,
            Consent,
            BestInterestsDetermination,
            GuardianConsent,
            FamilyAssessment,
            EligibilityApproval,
            TravelDocument,
            DocumentEscalation,
            FitToTravel,
            BookingApproval,
            BookingFailed,
            DepartureConfirmation,
            NoShow,
            ArrivalConfirmation,
            ReceptionEscalation,
            ReintegrationPlan,
            PlanApproval,
            MilestoneVerification,
            TrancheApproval,
            PaymentFailed,
            MonitoringSurvey,
            MonitoringEscalation,
            Referral,
            ClosureApproval,
        ]
    };

    /// The role that may complete a task of this type.
    pub fn role(self) -> Role {
        use TaskType::*;
        match self {
            CounsellingSession
            | Consent
            | BestInterestsDetermination
            | GuardianConsent
            | FamilyAssessment
            | TravelDocument
            | FitToTravel
            | DepartureConfirmation => Role::ReturnOfficer,
            EligibilityApproval | DocumentEscalation | BookingApproval | BookingFailed | NoShow
            | ReceptionEscalation | PlanApproval | MonitoringEscalation | Referral
            | ClosureApproval => Role::Operations,
            TrancheApproval | PaymentFailed => Role::Finance,
            ArrivalConfirmation | ReintegrationPlan | MilestoneVerification | MonitoringSurvey => {
                Role::Partner
            }
        }
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
            EligibilityApproval => "eligibility_approval",
            TravelDocument => "travel_document",
            DocumentEscalation => "document_escalation",
            FitToTravel => "fit_to_travel",
            BookingApproval => "booking_approval",
            BookingFailed => "booking_failed",
            DepartureConfirmation => "departure_confirmation",
            NoShow => "no_show",
            ArrivalConfirmation => "arrival_confirmation",
            ReceptionEscalation => "reception_escalation",
            ReintegrationPlan => "reintegration_plan",
            PlanApproval => "plan_approval",
            MilestoneVerification => "milestone_verification",
            TrancheApproval => "tranche_approval",
            PaymentFailed => "payment_failed",
            MonitoringSurvey => "monitoring_survey",
            MonitoringEscalation => "monitoring_escalation",
            Referral => "referral",
            ClosureApproval => "closure_approval",
        }
    }

    /// Whether `outcome` is the kind of answer this task asks for.
    fn accepts(self, outcome: &TaskOutcome) -> bool {
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
                        | BookingApproval
                        | PlanApproval
                        | TrancheApproval
                        | ClosureApproval,
                    TaskOutcome::Approval { .. }
                )
                | (TravelDocument, TaskOutcome::TravelDocument { .. })
                | (FitToTravel, TaskOutcome::FitToTravel { .. })
                | (DepartureConfirmation, TaskOutcome::Departure { .. })
                | (ArrivalConfirmation, TaskOutcome::Arrival { .. })
                | (ReintegrationPlan, TaskOutcome::Plan { .. })
                | (MilestoneVerification, TaskOutcome::Milestone { .. })
                | (MonitoringSurvey, TaskOutcome::Survey { .. })
                | (
                    DocumentEscalation
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

/// What the returnee decided in a counselling session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CounsellingDecision {
    /// Go on to informed consent.
    WantsToReturn,
    /// Schedule another session.
    Undecided,
    /// The case closes.
    DoesNotWantToReturn,
}

/// How an escalation or failure is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Try again (rebook, keep waiting, retry the payment, note the follow-up).
    Retry,
    /// Close the case.
    Close,
}

/// Areas of reintegration support in a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SupportArea {
    /// Micro-business, training, job placement.
    Economic,
    /// Housing, documents, education, health.
    Social,
    /// Psychosocial support.
    Psychosocial,
}

/// The 15 Reintegration Sustainability Survey answers, each scored 1 (worst) to 5 (best):
/// five economic, five social, five psychosocial indicators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RssAnswers {
    /// Income, employment, debt, food security, access to credit.
    #[schema(value_type = Vec<u8>, min_items = 5, max_items = 5)]
    pub economic: [u8; 5],
    /// Housing, education, documents, health care, safety.
    #[schema(value_type = Vec<u8>, min_items = 5, max_items = 5)]
    pub social: [u8; 5],
    /// Wellbeing, distress, discrimination, social network, desire to re-migrate.
    #[schema(value_type = Vec<u8>, min_items = 5, max_items = 5)]
    pub psychosocial: [u8; 5],
}

/// RSS scores, each from 0 (worst) to 1 (best).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RssScores {
    /// Economic dimension.
    pub economic: f64,
    /// Social dimension.
    pub social: f64,
    /// Psychosocial dimension.
    pub psychosocial: f64,
    /// The mean of the three.
    pub composite: f64,
}

impl RssAnswers {
    fn dimension(answers: &[u8; 5]) -> f64 {
        let sum: f64 = answers.iter().map(|&a| f64::from(a) - 1.0).sum();
        (sum / 20.0 * 100.0).round() / 100.0
    }

    /// Scores each dimension as the mean answer rescaled to 0..1; the composite is their mean.
    pub fn scores(&self) -> RssScores {
        let economic = Self::dimension(&self.economic);
        let social = Self::dimension(&self.social);
        let psychosocial = Self::dimension(&self.psychosocial);
        let composite = ((economic + social + psychosocial) / 3.0 * 100.0).round() / 100.0;
        RssScores {
            economic,
            social,
            psychosocial,
            composite,
        }
    }

    fn check(&self) -> Result<(), String> {
        let all = self
            .economic
            .iter()
            .chain(&self.social)
            .chain(&self.psychosocial);
        if all.into_iter().all(|a| (1..=5).contains(a)) {
            Ok(())
        } else {
            Err("answers must each be from 1 to 5".into())
        }
    }
}

/// What a completion says; one variant per kind of task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaskOutcome {
    /// Counselling session outcome.
    Counselling {
        /// The returnee's decision.
        decision: CounsellingDecision,
    },
    /// A signed (or refused) declaration.
    Consent {
        /// Whether it was signed.
        signed: bool,
    },
    /// A best-interests determination or family assessment.
    Assessment {
        /// Whether it supports the return.
        supports_return: bool,
    },
    /// An approval decision.
    Approval {
        /// Approved or rejected.
        approved: bool,
    },
    /// The travel document issued.
    TravelDocument {
        /// The last day it is valid.
        #[schema(value_type = String, format = Date)]
        expires_on: NaiveDate,
    },
    /// The medical check.
    FitToTravel {
        /// Whether the returnee may fly.
        fit: bool,
        /// Whether a medical escort must fly along.
        medical_escort: bool,
    },
    /// Departure day.
    Departure {
        /// Departed (true) or did not show up (false).
        departed: bool,
    },
    /// Reception in the country of origin.
    Arrival {
        /// Received (for a child: handed over to family or guardian).
        received: bool,
    },
    /// The reintegration plan.
    Plan {
        /// The areas it supports.
        support: Vec<SupportArea>,
    },
    /// A milestone verified.
    Milestone {
        /// Whether the milestone was reached.
        reached: bool,
    },
    /// A monitoring survey.
    Survey {
        /// Whether the returnee was reached.
        reached: bool,
        /// The answers, when reached.
        answers: Option<RssAnswers>,
    },
    /// How an escalation or failure was resolved.
    Resolution {
        /// What to do next.
        action: Resolution,
    },
}

impl TaskOutcome {
    /// Content checks that depend only on the outcome and the clock.
    fn check(
        &self,
        today: NaiveDate,
        min_document_expiry: Option<NaiveDate>,
    ) -> Result<(), String> {
        match self {
            TaskOutcome::TravelDocument { expires_on } => {
                if *expires_on <= today {
                    return Err(format!("expires_on: {expires_on} is not in the future"));
                }
                if let Some(min) = min_document_expiry
                    && *expires_on < min
                {
                    return Err(format!(
                        "expires_on: the document must be valid until at least {min} to cover the flight"
                    ));
                }
                Ok(())
            }
            TaskOutcome::Plan { support } if support.is_empty() => {
                Err("support: a plan must name at least one area".into())
            }
            TaskOutcome::Survey {
                reached: true,
                answers: None,
            } => Err("answers: a reached returnee's survey needs all 15 answers".into()),
            TaskOutcome::Survey {
                answers: Some(a), ..
            } => a.check().map_err(|e| format!("answers: {e}")),
            _ => Ok(()),
        }
    }

    /// Whether this outcome is a refusal that needs a written reason.
    fn is_negative(&self) -> bool {
        matches!(
            self,
            TaskOutcome::Approval { approved: false }
                | TaskOutcome::Consent { signed: false }
                | TaskOutcome::Assessment {
                    supports_return: false
                }
                | TaskOutcome::Resolution {
                    action: Resolution::Close
                }
        )
    }
}

/// An open task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

/// The memo key under which a case publishes its open tasks for inbox listings.
pub const INBOX_MEMO: &str = "homeward_open_tasks";

/// What a case publishes in its memo for lists and inboxes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseMemo {
    /// When the case was opened (a continued run starts later).
    pub opened_at: DateTime<Utc>,
    /// Its open tasks.
    pub open_tasks: Vec<TaskSummary>,
}

/// What an inbox shows of an open task: what, for whom, by when. Published in the workflow's
/// memo, so carries no personal data and no free text (a partner's message stays in the case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSummary {
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
    /// Who asked for it: they may not complete it (four-eyes).
    pub requested_by: Option<String>,
}

impl From<&Task> for TaskSummary {
    fn from(t: &Task) -> Self {
        Self {
            id: t.id,
            task_type: t.task_type,
            stage: t.stage,
            role: t.role,
            opened_at: t.opened_at,
            due_at: t.due_at,
            requested_by: t.requested_by.clone(),
        }
    }
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
        }
    }

    /// Parses the code at the start of a rejection message.
    pub fn from_message(message: &str) -> Option<Self> {
        [
            RejectionCode::TaskNotOpen,
            RejectionCode::WrongRole,
            RejectionCode::FourEyes,
            RejectionCode::Invalid,
            RejectionCode::OutOfScope,
            RejectionCode::Unsealed,
        ]
        .into_iter()
        .find(|c| message.contains(&format!("{}: ", c.as_str())))
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
    fn rss_scores_are_rescaled_means() {
        let a = RssAnswers {
            economic: [5; 5],
            social: [3; 5],
            psychosocial: [1; 5],
        };
        let s = a.scores();
        assert_eq!(
            (s.economic, s.social, s.psychosocial, s.composite),
            (1.0, 0.5, 0.0, 0.5)
        );
    }

    #[test]
    fn only_auditors_and_admins_see_every_case() {
        for role in [Role::ReturnOfficer, Role::Operations, Role::Finance] {
            assert!(check_user_scope(role, true, false).is_ok());
            assert!(
                check_user_scope(role, false, false)
                    .unwrap_err()
                    .starts_with("office")
            );
        }
        assert!(check_user_scope(Role::Partner, true, true).is_ok());
        assert!(
            check_user_scope(Role::Partner, true, false)
                .unwrap_err()
                .starts_with("country")
        );
        assert!(
            check_user_scope(Role::Partner, false, true)
                .unwrap_err()
                .starts_with("office")
        );
        assert!(check_user_scope(Role::Auditor, false, false).is_ok());
        assert!(check_user_scope(Role::Admin, true, false).is_err());
        assert!(check_user_scope(Role::System, false, false).is_err());
        // An actor without the office its role needs sees nothing, whatever the case.
        let lost = Actor {
            id: "u-x".into(),
            role: Role::Partner,
            office: None,
            country: None,
        };
        assert_eq!(lost.scope(), Scope::Nobody);
    }

    #[test]
    fn a_partner_sees_a_case_only_while_it_is_handed_over_to_it() {
        let partner = Scope::Partner {
            office: "NLD".into(),
            country: "IRQ".into(),
        };
        for stage in [
            Stage::Intake,
            Stage::Counselling,
            Stage::Consent,
            Stage::FlightBooking,
        ] {
            assert!(!partner.covers("NLD", "IRQ", stage), "{stage}");
        }
        for stage in [
            Stage::Departure,
            Stage::ArrivalReception,
            Stage::Reintegration,
        ] {
            assert!(partner.covers("NLD", "IRQ", stage), "{stage}");
            assert!(
                !partner.covers("GBR", "IRQ", stage),
                "another office's case"
            );
            assert!(
                !partner.covers("NLD", "AFG", stage),
                "another country's case"
            );
        }
        assert!(!partner.covers("NLD", "IRQ", Stage::Closed));
    }

    #[test]
    fn rejection_codes_round_trip_through_messages() {
        let r = TaskRejection::new(RejectionCode::FourEyes, "no");
        assert_eq!(
            RejectionCode::from_message(&r.to_string()),
            Some(RejectionCode::FourEyes)
        );
    }
}
