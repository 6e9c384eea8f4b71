//! The ReturnCase workflow: one durable workflow per case, from intake to closure.
//!
//! It owns the case's state and the order of its stages. Human steps are tasks completed through
//! the `complete_task` Update, whose validator rejects wrong roles, closed tasks, four-eyes
//! violations and bad content before anything reaches history. After the reintegration plan is
//! approved the workflow continues as new, so a year of monitoring never grows one history
//! without bound.
//!
//! It must not do I/O, read the host clock or draw random numbers: every effect is an activity
//! (see `activities.rs`), every wait a timer or a condition on this state.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ContinueAsNewOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
};

use crate::activities::{Order, PaymentSettlement, PaymentState, Receipt};
use crate::domain::{CaseRef, Intake, OpenCase, Stage};
use crate::steps;
use crate::tasks::{Actor, Role, RssScores, Task, TaskCompletion, TaskOutcome, check_completion};

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRecord {
    /// Which follow-up (0-based).
    pub follow_up: u32,
    /// The scores.
    pub scores: RssScores,
}

/// What the case has established so far; carried across continue-as-new.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// The travel document's last valid day.
    pub document_expires_on: Option<chrono::NaiveDate>,
    /// A medical escort must fly along.
    pub medical_escort: bool,
    /// Booking attempts so far.
    pub booking_attempts: u32,
    /// The current flight order.
    pub order: Option<Order>,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

/// The state of one case, kept by Temporal across worker crashes and months of sleep.
#[workflow]
pub struct ReturnCase {
    /// The input the case was opened with; never changes.
    pub(crate) case: OpenCase,
    /// Where the case stands now.
    pub(crate) stage: Stage,
    /// Open tasks.
    pub(crate) tasks: Vec<Task>,
    /// The next task id.
    pub(crate) next_task_id: u32,
    /// Accepted completions the lifecycle has not consumed yet, by task id.
    pub(crate) answers: BTreeMap<u32, TaskCompletion>,
    /// Every accepted decision.
    pub(crate) decisions: Vec<DecisionRecord>,
    /// What has been established.
    pub(crate) facts: Facts,
    /// A withdrawal or early closure waiting to be acted on.
    pub(crate) interrupt: Option<Interrupt>,
    /// The end, once reached.
    pub(crate) closure: Option<Closure>,
    /// The workflow time at the last wake-up; validators have no clock of their own.
    pub(crate) now: DateTime<Utc>,
    /// This run continues a case into reintegration.
    pub(crate) resumed: bool,
    /// What was last published to visibility in this run, so an unchanged view is not
    /// published again (each publication is a history event).
    pub(crate) published: Option<steps::Published>,
    /// Settlements the payment provider announced (by webhook) and the lifecycle has not
    /// consumed yet, by payment id. A webhook may arrive before the payment's own answer.
    pub(crate) settlements: BTreeMap<String, PaymentState>,
    /// Payment ids the provider gave this case: a settlement for any other id is ignored.
    pub(crate) issued_payments: BTreeSet<String>,
    /// A disbursement is in flight (its id is not known yet), so a settlement that overtakes
    /// the provider's answer is kept.
    pub(crate) disbursing: bool,
    /// How many of `decisions` the case has written to the audit trail.
    pub(crate) audited: usize,
    /// The changes this run makes (asked when it starts).
    pub(crate) patches: Patches,
}

/// At most this many unconsumed settlements are kept: a provider cannot grow a case's state
/// without bound by announcing payments the case never made.
const MAX_SETTLEMENTS: usize = 32;

#[workflow_methods]
impl ReturnCase {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: CaseInput) -> Self {
        let resumed = input.resume.is_some();
        let (next_task_id, decisions, facts, stage, audited) = match input.resume {
            Some(r) => (
                r.next_task_id,
                r.decisions,
                r.facts,
                Stage::Reintegration,
                r.audited,
            ),
            None => (1, vec![], Facts::default(), Stage::Intake, 0),
        };
        Self {
            now: input.case.opened_at,
            case: input.case,
            stage,
            tasks: vec![],
            next_task_id,
            answers: BTreeMap::new(),
            decisions,
            facts,
            interrupt: None,
            closure: None,
            resumed,
            published: None,
            settlements: BTreeMap::new(),
            issued_payments: BTreeSet::new(),
            disbursing: false,
            audited,
            patches: Patches::default(),
        }
    }

    /// The story of a case. Each step is a function in `steps.rs`; any wait can be cut short by
    /// a withdrawal or an early closure, which unwinds what was done.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<Closure> {
        steps::ask_patches(ctx);
        steps::refresh_visibility(ctx);
        let outcome = if ctx.state(|s| s.resumed) {
            // 11-13. Reintegration: staged grants and monitoring, then closure.
            steps::reintegrate(ctx).await
        } else {
            // 1-10. From intake to an approved reintegration plan.
            match steps::prepare_and_return(ctx).await {
                // Continue as new: the monitoring year starts with a small history.
                Ok(None) => {
                    let resume = ctx.state(|s| Resume {
                        next_task_id: s.next_task_id,
                        decisions: s.decisions.clone(),
                        facts: s.facts.clone(),
                        audited: s.audited,
                    });
                    let case = ctx.state(|s| s.case.clone());
                    ctx.continue_as_new(
                        CaseInput {
                            case,
                            resume: Some(resume),
                        },
                        ContinueAsNewOptions::default(),
                    )?;
                    unreachable!("continue_as_new returns only errors")
                }
                Ok(Some(closure)) => Ok(closure),
                Err(halt) => Err(halt),
            }
        };
        match outcome {
            Ok(closure) => steps::close(ctx, closure).await,
            Err(steps::Halt::Engine(termination)) => Err(termination),
            Err(steps::Halt::Interrupted) => steps::unwind(ctx).await,
        }
    }

    /// The payment provider settled a pending payment (its webhook, through the API). A signal,
    /// not an Update: the provider's notice is durable once the server accepts it, even while
    /// no worker runs. Idempotent; a pending notice, another case's payment or a payment this
    /// case never made changes nothing. It only wakes the case: the case asks the provider
    /// before it acts on the notice (a forged "failed" must not lead to paying again).
    #[signal]
    pub fn payment_settled(&mut self, _ctx: &mut SyncWorkflowContext<Self>, s: PaymentSettlement) {
        if s.reference != self.case.reference || s.state == PaymentState::Pending {
            return;
        }
        if !self.disbursing && !self.issued_payments.contains(&s.payment_id) {
            return;
        }
        if self.settlements.len() < MAX_SETTLEMENTS || self.settlements.contains_key(&s.payment_id)
        {
            self.settlements.insert(s.payment_id, s.state);
        }
    }

    /// The case as the API shows it.
    #[query]
    pub fn view(&self, _ctx: &WorkflowContextView) -> CaseView {
        self.to_view()
    }

    /// Refuses an actor outside the case's office, or a partner it was not handed over to.
    fn check_scope(&self, actor: &Actor) -> Result<(), crate::tasks::TaskRejection> {
        if actor.may_see(&self.case.intake, self.stage) {
            Ok(())
        } else {
            Err(crate::tasks::TaskRejection::new(
                crate::tasks::RejectionCode::OutOfScope,
                "no such case in your office",
            ))
        }
    }

    /// What the query and the Updates answer.
    fn to_view(&self) -> CaseView {
        CaseView {
            reference: self.case.reference.clone(),
            stage: self.stage,
            intake: self.case.intake.clone(),
            programme_version: self.case.rules.version.clone(),
            opened_at: self.case.opened_at,
            tasks: self.tasks.clone(),
            decisions: self.decisions.clone(),
            facts: self.facts.clone(),
            closure: self.closure.clone(),
        }
    }

    #[update_validator(complete_task)]
    fn validate_complete_task(
        &self,
        _ctx: &WorkflowContextView,
        completion: &TaskCompletion,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.check_scope(&completion.actor)?;
        if self.closure.is_some() || self.interrupt.is_some() {
            return Err(crate::tasks::TaskRejection::new(
                crate::tasks::RejectionCode::TaskNotOpen,
                "the case is closing; no task is open",
            )
            .into());
        }
        let min_expiry = steps::min_document_expiry(self);
        check_completion(&self.tasks, completion, self.now.date_naive(), min_expiry)
            .map_err(Into::into)
    }

    /// Completes a task. Records who, when and why; the lifecycle picks the answer up. Answers
    /// with the case as it now stands, so a caller needs no second round trip.
    #[update]
    pub fn complete_task(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        completion: TaskCompletion,
    ) -> CaseView {
        let at = time_of(ctx.workflow_time()).unwrap_or(self.now);
        let task_type = self
            .tasks
            .iter()
            .find(|t| t.id == completion.task_id)
            .map(|t| t.task_type.as_str())
            .unwrap_or("task");
        self.decisions.push(DecisionRecord {
            task_id: completion.task_id,
            what: task_type.to_owned(),
            actor: completion.actor.clone(),
            at,
            reason: completion.reason.clone(),
            outcome: Some(completion.outcome.clone()),
        });
        self.tasks.retain(|t| t.id != completion.task_id);
        let id = completion.task_id;
        self.answers.insert(id, completion);
        self.to_view()
    }

    #[update_validator(withdraw_consent)]
    fn validate_withdraw_consent(
        &self,
        _ctx: &WorkflowContextView,
        w: &Withdrawal,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        use crate::tasks::{RejectionCode, TaskRejection};
        self.check_scope(&w.actor)?;
        if !matches!(w.actor.role, Role::ReturnOfficer | Role::Operations) {
            return Err(TaskRejection::new(
                RejectionCode::WrongRole,
                "consent withdrawal is recorded by a return officer or operations",
            )
            .into());
        }
        if self.facts.departed_at.is_some() || self.closure.is_some() || self.interrupt.is_some() {
            return Err(TaskRejection::new(
                RejectionCode::TaskNotOpen,
                "consent can only be withdrawn before departure, on an open case",
            )
            .into());
        }
        if w.reason.trim().is_empty() || w.reason.chars().count() > crate::domain::MAX_FREE_TEXT {
            return Err(TaskRejection::new(
                RejectionCode::Invalid,
                "reason: is required, at most 2000 characters",
            )
            .into());
        }
        Ok(())
    }

    /// Withdraws consent: the lifecycle stops and unwinds what was done.
    #[update]
    pub fn withdraw_consent(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        w: Withdrawal,
    ) -> CaseView {
        let at = time_of(ctx.workflow_time()).unwrap_or(self.now);
        self.decisions.push(DecisionRecord {
            task_id: 0,
            what: "consent_withdrawn".into(),
            actor: w.actor.clone(),
            at,
            reason: w.reason.clone(),
            outcome: None,
        });
        self.interrupt = Some(Interrupt::Withdrawn {
            by: w.actor,
            reason: w.reason,
        });
        self.to_view()
    }

    #[update_validator(close_case)]
    fn validate_close_case(
        &self,
        _ctx: &WorkflowContextView,
        c: &EarlyClosure,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        use crate::tasks::{RejectionCode, TaskRejection};
        self.check_scope(&c.actor)?;
        if c.actor.role != Role::Operations {
            return Err(TaskRejection::new(
                RejectionCode::WrongRole,
                "only operations can close a case early",
            )
            .into());
        }
        if self.closure.is_some() || self.interrupt.is_some() {
            return Err(TaskRejection::new(
                RejectionCode::TaskNotOpen,
                "the case is already closing",
            )
            .into());
        }
        if c.note.trim().is_empty() || c.note.chars().count() > crate::domain::MAX_FREE_TEXT {
            return Err(TaskRejection::new(
                RejectionCode::Invalid,
                "note: is required, at most 2000 characters",
            )
            .into());
        }
        Ok(())
    }

    /// Closes the case early, with one of the handbook's reasons.
    #[update]
    pub fn close_case(&mut self, ctx: &mut SyncWorkflowContext<Self>, c: EarlyClosure) -> CaseView {
        let at = time_of(ctx.workflow_time()).unwrap_or(self.now);
        self.decisions.push(DecisionRecord {
            task_id: 0,
            what: "case_closed_early".into(),
            actor: c.actor.clone(),
            at,
            reason: c.note.clone(),
            outcome: None,
        });
        self.interrupt = Some(Interrupt::ClosedEarly {
            by: c.actor,
            reason: c.reason,
            note: c.note,
        });
        self.to_view()
    }
}

/// Workflow time as a UTC timestamp.
pub(crate) fn time_of(t: Option<std::time::SystemTime>) -> Option<DateTime<Utc>> {
    t.map(DateTime::<Utc>::from)
}
