//! The ReturnCase workflow: one durable workflow per case, from intake to closure.
//!
//! `run` below tells a case's story; each stage lives in its own file (`consent`, `documents`,
//! `travel`, `reception`, `grants`, `monitoring`, `unwind`), over a few primitives (`waits`:
//! tasks and waiting; `effects`: activities, notices, patch markers; `visibility`: what lists
//! see). The rules they apply are pure functions in `crate::rules`. Human steps are tasks
//! completed through the `complete_task` Update, whose validator rejects wrong roles, closed
//! tasks, four-eyes violations and bad content before anything reaches history. After the
//! reintegration plan is approved the workflow continues as new, so a year of monitoring never
//! grows one history without bound.
//!
//! It must not do I/O, read the host clock or draw random numbers: every effect is an activity
//! (see `activities.rs`), every wait a timer or a condition on this state. A change to what a
//! case does goes behind a patch marker (`effects.rs`) and must replay tests/histories/.

mod consent;
mod documents;
mod effects;
mod grants;
mod monitoring;
mod projection;
mod reception;
mod record;
mod travel;
mod unwind;
mod visibility;
mod waits;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{
    ContinueAsNewOptions, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
};

pub use record::{
    CaseInput, CaseView, Closure, ClosureReason, Compensation, DecisionRecord, EarlyClosure, Facts,
    Interrupt, Patches, PaymentRecord, Resume, ScoreRecord, Withdrawal,
};

use crate::activities::{PaymentSettlement, PaymentState};
use crate::domain::{OpenCase, Stage, Vulnerability};
use crate::rules;
use crate::tasks::{
    Actor, RejectionCode, Role, Task, TaskCompletion, TaskRejection, check_completion,
};
use crate::work::TaskAssignment;
use effects::{Ctx, Halt, Step};

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
    pub(crate) published: Option<visibility::Published>,
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
    /// The revision of the last write of the open tasks to the case store (carried over when
    /// the case continues as new, so revisions keep growing).
    pub(crate) tasks_revision: u64,
    /// The open tasks as last written to the case store.
    pub(crate) projected: Option<Vec<crate::work::OpenTaskRow>>,
}

/// At most this many unconsumed settlements are kept: a provider cannot grow a case's state
/// without bound by announcing payments the case never made.
const MAX_SETTLEMENTS: usize = 32;

#[workflow_methods]
impl ReturnCase {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: CaseInput) -> Self {
        let resumed = input.resume.is_some();
        let (next_task_id, decisions, facts, stage, audited, tasks_revision) = match input.resume {
            Some(r) => (
                r.next_task_id,
                r.decisions,
                r.facts,
                Stage::Reintegration,
                r.audited,
                r.tasks_revision,
            ),
            None => (1, vec![], Facts::default(), Stage::Intake, 0, 0),
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
            tasks_revision,
            projected: None,
        }
    }

    /// The story of a case. Any wait can be cut short by a withdrawal or an early closure,
    /// which unwinds what was done; a stage that ends the case early says so with `?`.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<Closure> {
        effects::ask_patches(ctx);
        visibility::refresh(ctx);
        let story = if ctx.state(|s| s.resumed) {
            // 11-13. Staged grants and monitoring until the support period ends.
            monitoring::reintegrate(ctx).await
        } else {
            match return_home(ctx).await {
                // The monitoring year starts as a new run, with a small history.
                Ok(()) => return continue_into_reintegration(ctx),
                Err(halt) => Err(halt),
            }
        };
        match story {
            Ok(closure) | Err(Halt::Closed(closure)) => unwind::close(ctx, closure).await,
            // Consent withdrawn or the case closed early: undo what was done, then close.
            Err(Halt::Interrupted) => unwind::unwind(ctx).await,
            Err(Halt::Engine(termination)) => Err(termination),
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

    /// Refuses an actor outside the case's office, or a partner it was not handed over to (nor
    /// referred to, by an open task asking the partner: a child's family assessment).
    fn check_scope(&self, actor: &Actor) -> Result<(), TaskRejection> {
        let roles = self.tasks.iter().map(|t| t.role);
        if actor.may_see_case(&self.case.intake, self.stage, roles) {
            Ok(())
        } else {
            Err(TaskRejection::new(
                RejectionCode::OutOfScope,
                "no such case in your office",
            ))
        }
    }

    /// What the tranche at position `i` pays now: from the approved plan's budget lines when
    /// it pays the plan (`plan-budget`), else the programme's per-head amounts.
    pub(crate) fn tranche_grant(&self, i: usize) -> crate::programme::Money {
        let rules = &self.case.rules;
        let t = &rules.tranches[i];
        if self.patches.plan_budget && t.from_plan && !self.facts.plan_lines.is_empty() {
            rules::tranche_from_plan(
                i,
                rules,
                &self.case.intake.members(),
                &self.facts.plan_lines,
                &self.facts.payments,
                &self.facts.voided_tranches,
            )
        } else {
            rules::tranche_amount(t, self.case.intake.household(), rules, &self.facts.payments)
        }
    }

    /// A plan's (or an amendment's) budget lines: only in runs with `plan-budget`, within the
    /// programme's caps.
    fn check_plan_lines(&self, lines: &[crate::outcomes::BudgetLine]) -> Result<(), TaskRejection> {
        if !self.patches.plan_budget {
            return Err(TaskRejection::new(
                RejectionCode::Invalid,
                "lines: this case predates costed plans; its tranches pay the programme's amounts",
            ));
        }
        rules::plan_within_caps(&self.case.rules, &self.case.intake.members(), lines)
            .map_err(|m| TaskRejection::new(RejectionCode::Invalid, m))
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
            tasks_revision: self.tasks_revision,
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
            return Err(TaskRejection::new(
                RejectionCode::TaskNotOpen,
                "the case is closing; no task is open",
            )
            .into());
        }
        let min_expiry = rules::min_document_expiry(self.now, &self.case.rules.deadlines);
        check_completion(
            &self.tasks,
            completion,
            self.now.date_naive(),
            Some(min_expiry),
        )?;
        if let crate::tasks::TaskOutcome::Arrival {
            received: true,
            hand_over: None,
        } = &completion.outcome
            && self.patches.child_sequence
            && self.case.intake.has(Vulnerability::UnaccompaniedChild)
        {
            return Err(TaskRejection::new(
                RejectionCode::Invalid,
                "hand_over: an unaccompanied child is received only against a signed hand-over \
                 (to whom, when, the document checked)",
            )
            .into());
        }
        if let crate::tasks::TaskOutcome::Plan { support, lines } = &completion.outcome {
            rules::plan_covers_needs(
                &self.case.intake,
                support,
                self.facts.baseline.as_ref(),
                self.case.rules.monitoring.referral_threshold,
            )
            .map_err(|m| TaskRejection::new(RejectionCode::Invalid, m))?;
            if !lines.is_empty() {
                self.check_plan_lines(lines)?;
            }
        }
        let task = self.tasks.iter().find(|t| t.id == completion.task_id);
        if let crate::tasks::TaskOutcome::Milestone {
            amended_lines: Some(lines),
            ..
        } = &completion.outcome
        {
            // An amendment comes with the review of a tranche that pays the plan.
            let pays_plan = task
                .and_then(|t| t.subject)
                .and_then(|i| self.case.rules.tranches.get(usize::try_from(i).ok()?))
                .is_some_and(|t| t.from_plan);
            if !pays_plan || self.facts.plan_lines.is_empty() {
                return Err(TaskRejection::new(
                    RejectionCode::Invalid,
                    "amended_lines: only the review of a tranche that pays a costed plan amends it",
                )
                .into());
            }
            self.check_plan_lines(lines).map_err(|r| {
                TaskRejection::new(RejectionCode::Invalid, format!("amended_{}", r.message))
            })?;
            rules::amendment_covers_paid(&self.case.rules, lines, &self.facts.payments)
                .map_err(|m| TaskRejection::new(RejectionCode::Invalid, m))?;
        }
        if let crate::tasks::TaskOutcome::Invoice {
            amount, supplier, ..
        } = &completion.outcome
        {
            // An invoice pays at most what its tranche grants (the task's subject).
            let tranche = task
                .and_then(|t| t.subject)
                .and_then(|i| usize::try_from(i).ok())
                .filter(|&i| i < self.case.rules.tranches.len());
            if let Some(i) = tranche {
                rules::invoice_within(amount, &self.tranche_grant(i))
                    .map_err(|m| TaskRejection::new(RejectionCode::Invalid, m))?;
                // A costed plan names its suppliers: the invoice is one of theirs.
                let planned: Vec<&str> = self
                    .facts
                    .plan_lines
                    .iter()
                    .filter_map(|l| match &l.payee {
                        crate::outcomes::Payee::Supplier { supplier } => Some(supplier.as_str()),
                        crate::outcomes::Payee::Cash => None,
                    })
                    .collect();
                if self.patches.plan_budget
                    && !planned.is_empty()
                    && !planned.contains(&supplier.as_str())
                {
                    return Err(TaskRejection::new(
                        RejectionCode::Invalid,
                        "supplier: not a supplier of the plan's budget lines",
                    )
                    .into());
                }
            }
        }
        Ok(())
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

    #[update_validator(assign_task)]
    fn validate_assign_task(
        &self,
        _ctx: &WorkflowContextView,
        a: &TaskAssignment,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.check_scope(&a.actor)?;
        if self.closure.is_some() || self.interrupt.is_some() {
            return Err(TaskRejection::new(
                RejectionCode::TaskNotOpen,
                "the case is closing; no task is open",
            )
            .into());
        }
        crate::work::check_assignment(&self.tasks, a).map_err(Into::into)
    }

    /// Claims, assigns or releases a task (`crate::work`). Answers with the case as it now
    /// stands; the case store's copy of its tasks follows.
    #[update]
    pub fn assign_task(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        a: TaskAssignment,
    ) -> CaseView {
        let at = time_of(ctx.workflow_time()).unwrap_or(self.now);
        crate::work::apply(&mut self.tasks, &a, at);
        self.to_view()
    }

    #[update_validator(withdraw_consent)]
    fn validate_withdraw_consent(
        &self,
        _ctx: &WorkflowContextView,
        w: &Withdrawal,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
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

/// Stages 1-10: from intake to an approved reintegration plan.
async fn return_home(ctx: &mut Ctx) -> Step<()> {
    // 1. Intake: the case goes on record.
    let case = ctx.state(|s| s.case.clone());
    ctx.execute_local_activity(
        crate::activities::CaseStoreActivities::record_case_opened,
        case,
        effects::store(),
    )
    .await?;
    // 2-3. Counselling until the returnee decides, then informed consent; consent not given in
    // time sends the case back to counselling.
    let officer = consent::counsel_until_consent(ctx).await?;
    // 4. Eligibility: operations approve, never the officer who asked.
    consent::eligibility(ctx, &officer).await?;
    // 5. Travel documents, with reminders to the consulate and an escalation when late.
    documents::travel_documents(ctx).await?;
    // 6. Fit to travel, for medical cases.
    documents::fit_to_travel(ctx).await?;
    // 7-8. Booking and departure, rebooking after a failure or a missed flight. A returnee who
    // changes their mind at the airport is counselled again and consents again before a new
    // booking (eligibility and documents still hold).
    while travel::book_and_depart(ctx).await? == travel::Journey::ChangedMind {
        consent::counsel_until_consent(ctx).await?;
    }
    // 9. Reception in the country of origin.
    reception::reception(ctx).await?;
    // 10. The reintegration plan, agreed and approved.
    reception::plan(ctx).await
}

/// Continues the case as new for reintegration, carrying what it established.
fn continue_into_reintegration(ctx: &mut Ctx) -> WorkflowResult<Closure> {
    let resume = ctx.state(|s| Resume {
        next_task_id: s.next_task_id,
        decisions: s.decisions.clone(),
        facts: s.facts.clone(),
        audited: s.audited,
        tasks_revision: s.tasks_revision,
    });
    let case = ctx.state(|s| s.case.clone());
    let input = CaseInput {
        case,
        resume: Some(resume),
    };
    match ctx.continue_as_new(input, ContinueAsNewOptions::default()) {
        Err(termination) => Err(termination),
        Ok(never) => match never {},
    }
}

/// Workflow time as a UTC timestamp.
pub(crate) fn time_of(t: Option<std::time::SystemTime>) -> Option<DateTime<Utc>> {
    t.map(DateTime::<Utc>::from)
}
