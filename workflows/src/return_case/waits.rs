//! Tasks and waiting: opening a task for a person, waiting for its answer (or a deadline, or
//! an interrupt), sleeping, writing accepted decisions to the audit trail as they come, and
//! the one "try again or give up" decision every failure and escalation goes through.
//!
//! Deterministic: every wait is a timer or a condition on the case's state.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::{Either, select};
use temporalio_workflow::CancellableFuture;

use super::ReturnCase;
use super::effects::{Ctx, Step, closed, interrupted, now, store};
use super::record::ClosureReason;
use crate::activities::{AcceptedDecision, CaseStoreActivities, DecisionsAccepted};
use crate::programme::Span;
use crate::tasks::{Actor, Resolution, Role, Task, TaskCompletion, TaskOutcome, TaskType};

/// What a new task asks for.
pub(super) struct Ask {
    task_type: TaskType,
    role: Option<Role>,
    due_in: Option<Span>,
    requested_by: Option<String>,
    subject: Option<u32>,
    note: Option<String>,
}

impl Ask {
    /// A task of this type, for the role its type names.
    pub(super) fn new(task_type: TaskType) -> Self {
        Self {
            task_type,
            role: None,
            due_in: None,
            requested_by: None,
            subject: None,
            note: None,
        }
    }
    /// What the person should know (a partner's message, the milestone to verify).
    pub(super) fn note(mut self, note: Option<String>) -> Self {
        self.note = note;
        self
    }
    /// Due this long after it opens.
    pub(super) fn due(mut self, span: Span) -> Self {
        self.due_in = Some(span);
        self
    }
    /// Asked for by `actor`, who therefore may not complete it (four-eyes).
    pub(super) fn requested_by(mut self, actor: &Actor) -> Self {
        self.requested_by = Some(actor.id.clone());
        self
    }
    /// About this member, tranche or follow-up (an index, never a name).
    pub(super) fn subject(mut self, subject: u32) -> Self {
        self.subject = Some(subject);
        self
    }
    /// For another role than the type's own (a programme's tranche approver).
    pub(super) fn role(mut self, role: Role) -> Self {
        self.role = Some(role);
        self
    }
}

/// Opens a task and returns its id.
pub(super) fn open(ctx: &Ctx, ask: Ask) -> u32 {
    let at = now(ctx);
    let id = ctx.state_mut(|s| {
        let id = s.next_task_id;
        s.next_task_id += 1;
        // Every task is due: its stage's deadline, or else its type's (runs recorded before
        // `task-projection` opened some without one, and keep doing so).
        let due_in = ask.due_in.or_else(|| {
            s.patches
                .task_projection
                .then(|| crate::rules::due_for(&s.case.rules, ask.task_type))
        });
        s.tasks.push(Task {
            id,
            task_type: ask.task_type,
            stage: s.stage,
            role: ask.role.unwrap_or_else(|| ask.task_type.role()),
            opened_at: at,
            due_at: due_in.map(|d| at + d.chrono()),
            requested_by: ask.requested_by,
            subject: ask.subject,
            note: ask.note,
            assignee: None,
            claimed_at: None,
        });
        id
    });
    super::visibility::refresh(ctx);
    id
}

/// Withdraws an open task nobody answered.
pub(super) fn retract(ctx: &Ctx, id: u32) {
    ctx.state_mut(|s| s.tasks.retain(|t| t.id != id));
    super::visibility::refresh(ctx);
}

/// Takes an accepted answer, if there is one.
pub(super) fn take_answer(ctx: &Ctx, id: u32) -> Option<TaskCompletion> {
    let answer = ctx.state_mut(|s| s.answers.remove(&id));
    if answer.is_some() {
        super::visibility::refresh(ctx);
    }
    answer
}

/// Waits until `ids` has an answer or the case is interrupted; with `within`, gives up after
/// that long and returns `None`. Decisions accepted meanwhile (for any task) go to the audit
/// trail as they come, and changed tasks (opened, claimed, answered) to the case store.
pub(super) async fn answer_within(
    ctx: &mut Ctx,
    ids: &[u32],
    within: Option<Duration>,
) -> Step<Option<(u32, TaskCompletion)>> {
    let answered =
        |s: &ReturnCase| s.interrupt.is_some() || ids.iter().any(|i| s.answers.contains_key(i));
    let ready = |s: &ReturnCase| answered(s) || unaudited(s) || super::projection::behind(s);
    match within {
        None => loop {
            ctx.wait_condition(ready).await?;
            catch_up(ctx).await?;
            if ctx.state(answered) {
                break;
            }
        },
        Some(d) => {
            let mut timer = std::pin::pin!(ctx.timer(d));
            loop {
                let waiting = ctx.wait_condition(ready);
                match select(std::pin::pin!(waiting), timer.as_mut()).await {
                    Either::Left((r, timer)) => {
                        r?;
                        if ctx.state(answered) {
                            timer.cancel();
                            catch_up(ctx).await?;
                            break;
                        }
                        catch_up(ctx).await?;
                    }
                    Either::Right((_, _)) => {
                        catch_up(ctx).await?;
                        break;
                    }
                }
            }
        }
    }
    now(ctx);
    interrupted(ctx)?;
    Ok(ids
        .iter()
        .find_map(|&i| take_answer(ctx, i).map(|a| (i, a))))
}

/// What a wake-up writes before the case goes on: accepted decisions to the audit trail, the
/// open tasks to the case store.
async fn catch_up(ctx: &Ctx) -> Step<()> {
    record_decisions(ctx).await?;
    super::projection::project(ctx).await?;
    Ok(())
}

/// Opens a task and waits for its answer, however long it takes.
pub(super) async fn ask(ctx: &mut Ctx, ask: Ask) -> Step<TaskCompletion> {
    let id = open(ctx, ask);
    loop {
        if let Some((_, answer)) = answer_within(ctx, &[id], None).await? {
            return Ok(answer);
        }
    }
}

/// Sleeps for `d`, waking early only to stop for an interrupt.
pub(super) async fn sleep(ctx: &mut Ctx, d: Duration) -> Step<()> {
    if d.is_zero() {
        return interrupted(ctx);
    }
    answer_within(ctx, &[], Some(d)).await.map(|_| ())
}

/// Sleeps until `at` (workflow time).
pub(super) async fn sleep_until(ctx: &mut Ctx, at: DateTime<Utc>) -> Step<()> {
    let d = (at - now(ctx)).to_std().unwrap_or_default();
    sleep(ctx, d).await
}

// ---------------------------------------------------------------------------------------------
// The one "try again or give up" decision.
// ---------------------------------------------------------------------------------------------

/// What someone decided about a failure or an escalation.
pub(super) enum Decision {
    /// Try again (rebook, keep waiting, retry the payment, note the follow-up).
    Retry,
    /// Give up; the answer says who decided and why.
    GiveUp(TaskCompletion),
}

impl Decision {
    /// Reads an escalation's or failure task's answer.
    pub(super) fn of(answer: TaskCompletion) -> Self {
        match answer.outcome {
            TaskOutcome::Resolution {
                action: Resolution::Close,
            } => Decision::GiveUp(answer),
            _ => Decision::Retry,
        }
    }

    /// Giving up closes the case for `reason`; trying again goes on.
    pub(super) fn or_close(self, ctx: &Ctx, reason: ClosureReason) -> Step<()> {
        match self {
            Decision::Retry => Ok(()),
            Decision::GiveUp(a) => closed(ctx, reason, a.actor, a.reason),
        }
    }
}

/// Asks the role whose task it is (operations, or finance for a payment) to decide on a
/// failure: try again, or give up. Due within the programme's approval deadline.
pub(super) async fn decide(ctx: &mut Ctx, failure: Ask) -> Step<Decision> {
    let due = ctx.state(|s| s.case.rules.deadlines.approval);
    let answer = ask(ctx, failure.due(due)).await?;
    Ok(Decision::of(answer))
}

/// An escalation answered while its task waits too: giving up withdraws `pending` and closes
/// the case for `reason`.
pub(super) fn escalation_answered(
    ctx: &Ctx,
    answer: TaskCompletion,
    pending: u32,
    reason: ClosureReason,
) -> Step<()> {
    match Decision::of(answer) {
        Decision::Retry => Ok(()),
        decision => {
            retract(ctx, pending);
            decision.or_close(ctx, reason)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The audit trail, written by the case itself.
// ---------------------------------------------------------------------------------------------

/// Whether the case accepted decisions it has not written to the audit trail yet (only runs
/// with `protected-decisions` write them).
fn unaudited(s: &ReturnCase) -> bool {
    s.patches.protected_decisions && s.decisions.len() > s.audited
}

/// Writes the decisions accepted since the last write to the audit trail (a local activity,
/// idempotent per decision).
pub(super) async fn record_decisions(ctx: &Ctx) -> Step<()> {
    let Some((accepted, upto)) = ctx.state(|s| {
        unaudited(s).then(|| {
            let decisions = s.decisions[s.audited..]
                .iter()
                .enumerate()
                .map(|(i, d)| AcceptedDecision {
                    index: u32::try_from(s.audited + i).unwrap_or(u32::MAX),
                    task_id: d.task_id,
                    what: d.what.clone(),
                    actor: d.actor.id.clone(),
                    role: d.actor.role,
                    at: d.at,
                })
                .collect();
            (
                DecisionsAccepted {
                    reference: s.case.reference.clone(),
                    decisions,
                },
                s.decisions.len(),
            )
        })
    }) else {
        return Ok(());
    };
    ctx.execute_local_activity(CaseStoreActivities::record_decisions, accepted, store())
        .await?;
    ctx.state_mut(|s| s.audited = s.audited.max(upto));
    Ok(())
}
