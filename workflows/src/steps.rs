//! The stages of the ReturnCase workflow, each an async function over its context, plus the few
//! primitives they share: opening a task, waiting for its answer (or a deadline, or an
//! interrupt), sleeping, and calling activities with the right timeouts and retries.
//!
//! Deterministic like the workflow: no I/O, no host clock, no randomness.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use futures_util::future::{Either, select};
use temporalio_common::search_attributes::SearchAttributeKey;
use temporalio_workflow::{
    ActivityOptions, CancellableFuture, LocalActivityOptions, RetryPolicy, WorkflowContext,
    WorkflowTermination,
};

use crate::activities::{
    AcceptedDecision, Audience, CancelRequest, CaseOutcome, CaseStoreActivities, DecisionsAccepted,
    Disbursement, HandOver, Notice, NoticeTemplate, OfferRequest, Order, OrderRequest,
    OutreachActivities, PaymentActivities, PaymentState, Receipt, StageChange, TravelActivities,
};
use crate::domain::{Stage, Vulnerability};
use crate::programme::{Anchor, Money, Span};
use crate::return_case::{
    Closure, ClosureReason, Compensation, Interrupt, Patches, PaymentRecord, ReturnCase,
    ScoreRecord, time_of,
};
use crate::tasks::{
    Actor, CaseMemo, CounsellingDecision, INBOX_MEMO, Resolution, Task, TaskCompletion,
    TaskOutcome, TaskSummary, TaskType,
};

type Ctx = WorkflowContext<ReturnCase>;

/// Workflow versioning (`ctx.patched`): each id marks a change of the commands a case issues,
/// so histories recorded before it replay as they ran. Remove one (with `deprecate_patch`
/// first) only once no case that ran without it is open.
const PATCH_TRANCHE_PAID_NOTICE: &str = "tranche-paid-notice";
const PATCH_FLIGHT_DAY_CHECK: &str = "flight-day-order-check";
/// Asked once when a run starts (see [`ask_patches`]); what it changes: [`Patches`].
const PATCH_PROTECTED_DECISIONS: &str = "protected-decisions";

/// Asks, before the run issues any other command, which recorded changes it makes. Once per
/// run: a run recorded before a change replays without it to its end; a new run (and every
/// continued one) has it.
pub fn ask_patches(ctx: &Ctx) {
    let protected_decisions = ctx.patched(PATCH_PROTECTED_DECISIONS);
    ctx.state_mut(|s| {
        s.patches = Patches {
            protected_decisions,
        }
    });
}

/// Why a step stopped before its end.
pub enum Halt {
    /// A withdrawal or early closure was accepted; unwind.
    Interrupted,
    /// Temporal ended the run (cancellation, eviction, a failed activity).
    Engine(WorkflowTermination),
}

impl<E: Into<WorkflowTermination>> From<E> for Halt {
    fn from(e: E) -> Self {
        Halt::Engine(e.into())
    }
}

type Step<T> = Result<T, Halt>;

// ---------------------------------------------------------------------------------------------
// Search attributes: stage, the roles whose work waits, programme, countries and the next due
// date. None of them identifies a person or singles out a vulnerability: task types (a
// guardian's consent says "child", a fit-to-travel check "medical") stay in the memo and the
// workflow's state. Runs recorded before `protected-decisions` published task types in
// `HomewardOpenTasks`; a run with the change empties it.
// ---------------------------------------------------------------------------------------------

const SA_STAGE: SearchAttributeKey<String> = SearchAttributeKey::keyword("HomewardStage");
const SA_PROGRAMME: SearchAttributeKey<String> = SearchAttributeKey::keyword("HomewardProgramme");
const SA_HOST: SearchAttributeKey<String> = SearchAttributeKey::keyword("HomewardHostCountry");
const SA_ORIGIN: SearchAttributeKey<String> = SearchAttributeKey::keyword("HomewardOriginCountry");
const SA_TASKS: SearchAttributeKey<Vec<String>> =
    SearchAttributeKey::keyword_list("HomewardOpenTasks");
const SA_WAITING_ON: SearchAttributeKey<Vec<String>> =
    SearchAttributeKey::keyword_list("HomewardWaitingOn");
const SA_DUE: SearchAttributeKey<temporalio_common::search_attributes::Timestamp> =
    SearchAttributeKey::datetime("HomewardNextDue");

/// `HomewardNextDue` of a case with no dated task. The server refuses to unset a Datetime
/// attribute, and a stale date would make the case look overdue; "never" keeps
/// `HomewardNextDue < now` exact.
pub const NO_DEADLINE: &str = "2999-12-31T00:00:00Z";

/// What a run last published to visibility.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The search attributes that change: stage, open task types, next due date.
    attributes: (String, Vec<String>, DateTime<Utc>),
    /// The memo: the open tasks.
    tasks: Vec<TaskSummary>,
}

/// Publishes the case's visible state for lists and inboxes: stage, open task types and next
/// due date as search attributes (queried), the open tasks as a memo (shown). Each is published
/// only when it changed: every publication is a history event.
pub fn refresh_visibility(ctx: &Ctx) {
    let (stage, tasks, previous) = ctx.state(|s| {
        (
            s.stage.as_str().to_owned(),
            s.tasks.iter().map(TaskSummary::from).collect::<Vec<_>>(),
            s.published.clone(),
        )
    });
    let roles_only = ctx.state(|s| s.patches.protected_decisions);
    let mut types: Vec<String> = tasks
        .iter()
        .map(|t| {
            if roles_only {
                t.role.as_str().to_owned()
            } else {
                t.task_type.as_str().to_owned()
            }
        })
        .collect();
    types.sort();
    types.dedup();
    let due = tasks
        .iter()
        .filter_map(|t| t.due_at)
        .min()
        .unwrap_or_else(|| {
            DateTime::parse_from_rfc3339(NO_DEADLINE)
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default()
        });
    let current = Published {
        attributes: (stage, types, due),
        tasks,
    };
    if previous.as_ref().map(|p| &p.attributes) != Some(&current.attributes) {
        let (stage, types, due) = current.attributes.clone();
        let mut updates = vec![
            SA_STAGE.value_set(stage),
            if roles_only {
                SA_WAITING_ON.value_set(types)
            } else {
                SA_TASKS.value_set(types)
            },
            SA_DUE.value_set(temporalio_common::search_attributes::Timestamp::new(
                due.timestamp(),
                i32::try_from(due.timestamp_subsec_nanos()).unwrap_or(0),
            )),
        ];
        if previous.is_none() && roles_only {
            // A case continued from a run that published task types carries them over.
            updates.push(SA_TASKS.value_set(Vec::new()));
        }
        if previous.is_none() {
            let (programme, host, origin) = ctx.state(|s| {
                (
                    s.case.intake.programme.to_string(),
                    s.case.intake.host_country.to_string(),
                    s.case.intake.origin_country.to_string(),
                )
            });
            updates.push(SA_PROGRAMME.value_set(programme));
            updates.push(SA_HOST.value_set(host));
            updates.push(SA_ORIGIN.value_set(origin));
        }
        ctx.upsert_search_attributes(updates);
    }
    if previous.as_ref().map(|p| &p.tasks) != Some(&current.tasks) {
        // Serialising plain summaries cannot fail; were it to, only the inbox entry goes stale.
        let memo = CaseMemo {
            opened_at: ctx.state(|s| s.case.opened_at),
            open_tasks: current.tasks.clone(),
        };
        let _ = ctx.upsert_memo([(INBOX_MEMO, Some(temporalio_common::MemoValue::new(memo)))]);
    }
    ctx.state_mut(|s| s.published = Some(current));
}

// ---------------------------------------------------------------------------------------------
// Primitives.
// ---------------------------------------------------------------------------------------------

/// The workflow's current time, also kept in state for validators.
fn now(ctx: &Ctx) -> DateTime<Utc> {
    let t = time_of(ctx.workflow_time()).unwrap_or_else(|| ctx.state(|s| s.now));
    ctx.state_mut(|s| s.now = t);
    t
}

fn interrupted(ctx: &Ctx) -> Step<()> {
    if ctx.state(|s| s.interrupt.is_some()) {
        Err(Halt::Interrupted)
    } else {
        Ok(())
    }
}

/// Case-store writes: local activities (a marker in history instead of a scheduled task and a
/// workflow task of its own), idempotent, retried patiently through a database outage.
fn store() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(Duration::from_secs(10))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .maximum_interval(Duration::from_secs(60))
                .build(),
        )
        .build()
}

/// Notification calls: cheap, idempotent, retried patiently through outages.
fn quick() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .maximum_interval(Duration::from_secs(60))
                .build(),
        )
        .build()
}

/// Partner calls that create something: bounded retries, so that a partner's outage becomes a
/// task for a human instead of an endless loop. Permanent failures (4xx) are not retried.
fn partner() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(60))
        .heartbeat_timeout(Duration::from_secs(20))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(2))
                .maximum_interval(Duration::from_secs(120))
                .maximum_attempts(10)
                .build(),
        )
        .build()
}

/// Asking a provider where a payment stands: a few quick tries, then the next poll.
fn status_poll() -> ActivityOptions {
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(30))
        .retry_policy(
            RetryPolicy::builder()
                .initial_interval(Duration::from_secs(1))
                .maximum_interval(Duration::from_secs(10))
                .maximum_attempts(3)
                .build(),
        )
        .build()
}

/// Moves the case to `stage` and mirrors the change into the case store.
async fn enter(ctx: &mut Ctx, stage: Stage) -> Step<()> {
    interrupted(ctx)?;
    let at = now(ctx);
    ctx.state_mut(|s| s.stage = stage);
    refresh_visibility(ctx);
    let reference = ctx.state(|s| s.case.reference.clone());
    ctx.execute_local_activity(
        CaseStoreActivities::record_stage,
        StageChange {
            reference,
            stage,
            at,
        },
        store(),
    )
    .await?;
    Ok(())
}

/// What a new task asks for.
struct Ask {
    task_type: TaskType,
    due_in: Option<Span>,
    requested_by: Option<String>,
    subject: Option<u32>,
    note: Option<String>,
}

impl Ask {
    fn new(task_type: TaskType) -> Self {
        Self {
            task_type,
            due_in: None,
            requested_by: None,
            subject: None,
            note: None,
        }
    }
    fn note(mut self, note: Option<String>) -> Self {
        self.note = note;
        self
    }
    fn due(mut self, span: Span) -> Self {
        self.due_in = Some(span);
        self
    }
    fn requested_by(mut self, actor: &Actor) -> Self {
        self.requested_by = Some(actor.id.clone());
        self
    }
    fn subject(mut self, subject: u32) -> Self {
        self.subject = Some(subject);
        self
    }
}

/// Opens a task and returns its id.
fn open(ctx: &Ctx, ask: Ask) -> u32 {
    let at = now(ctx);
    let id = ctx.state_mut(|s| {
        let id = s.next_task_id;
        s.next_task_id += 1;
        s.tasks.push(Task {
            id,
            task_type: ask.task_type,
            stage: s.stage,
            role: ask.task_type.role(),
            opened_at: at,
            due_at: ask.due_in.map(|d| at + d.chrono()),
            requested_by: ask.requested_by,
            subject: ask.subject,
            note: ask.note,
        });
        id
    });
    refresh_visibility(ctx);
    id
}

/// Withdraws an open task nobody answered.
fn retract(ctx: &Ctx, id: u32) {
    ctx.state_mut(|s| s.tasks.retain(|t| t.id != id));
    refresh_visibility(ctx);
}

/// Takes an accepted answer, if there is one.
fn take_answer(ctx: &Ctx, id: u32) -> Option<TaskCompletion> {
    let answer = ctx.state_mut(|s| s.answers.remove(&id));
    if answer.is_some() {
        refresh_visibility(ctx);
    }
    answer
}

/// Waits until `ids` has an answer or the case is interrupted; with `within`, gives up after
/// that long and returns `None`. Decisions accepted meanwhile (for any task) go to the audit
/// trail as they come.
async fn answer_within(
    ctx: &mut Ctx,
    ids: &[u32],
    within: Option<Duration>,
) -> Step<Option<(u32, TaskCompletion)>> {
    let answered =
        |s: &ReturnCase| s.interrupt.is_some() || ids.iter().any(|i| s.answers.contains_key(i));
    let ready = |s: &ReturnCase| answered(s) || unaudited(s);
    match within {
        None => loop {
            ctx.wait_condition(ready).await?;
            record_decisions(ctx).await?;
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
                            record_decisions(ctx).await?;
                            break;
                        }
                        record_decisions(ctx).await?;
                    }
                    Either::Right((_, _)) => {
                        record_decisions(ctx).await?;
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

/// Whether the case accepted decisions it has not written to the audit trail yet (only runs
/// with `protected-decisions` write them).
fn unaudited(s: &ReturnCase) -> bool {
    s.patches.protected_decisions && s.decisions.len() > s.audited
}

/// Writes the decisions accepted since the last write to the audit trail (a local activity,
/// idempotent per decision).
async fn record_decisions(ctx: &Ctx) -> Step<()> {
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

/// Opens a task and waits for its answer, however long it takes.
async fn ask(ctx: &mut Ctx, ask: Ask) -> Step<TaskCompletion> {
    let id = open(ctx, ask);
    loop {
        if let Some((_, answer)) = answer_within(ctx, &[id], None).await? {
            return Ok(answer);
        }
    }
}

/// Sleeps for `d`, waking early only to stop for an interrupt.
async fn sleep(ctx: &mut Ctx, d: Duration) -> Step<()> {
    if d.is_zero() {
        return interrupted(ctx);
    }
    answer_within(ctx, &[], Some(d)).await.map(|_| ())
}

/// Sleeps until `at` (workflow time).
async fn sleep_until(ctx: &mut Ctx, at: DateTime<Utc>) -> Step<()> {
    let d = (at - now(ctx)).to_std().unwrap_or_default();
    sleep(ctx, d).await
}

/// Sends a templated notice (to the returnee in their language); each gets its own
/// idempotency key.
async fn notify(ctx: &mut Ctx, template: NoticeTemplate, audience: Audience) -> Step<()> {
    let (reference, n, language) = ctx.state_mut(|s| {
        s.facts.notices_sent += 1;
        let language = match audience {
            Audience::Returnee => s.case.intake.language.clone(),
            _ => None,
        };
        (s.case.reference.clone(), s.facts.notices_sent, language)
    });
    let notice = Notice {
        idempotency_key: format!("{reference}:{template}:{n}"),
        reference,
        template,
        audience,
        language,
    };
    ctx.execute_activity(OutreachActivities::notify, notice, quick())
        .await?;
    Ok(())
}

fn closure(ctx: &Ctx, reason: ClosureReason, by: Actor, note: impl Into<String>) -> Closure {
    Closure {
        reason,
        at: now(ctx),
        by,
        note: note.into(),
    }
}

/// The latest acceptable expiry for a travel document recorded now: it must outlast the earliest
/// possible flight by the programme's margin.
pub fn min_document_expiry(case: &ReturnCase) -> Option<NaiveDate> {
    let d = &case.case.rules.deadlines;
    Some(
        (case.now + d.booking_lead_time.chrono() + d.document_validity_after_flight.chrono())
            .date_naive(),
    )
}

// ---------------------------------------------------------------------------------------------
// 1-10: from intake to an approved reintegration plan. `Ok(None)` means "continue as new into
// reintegration"; `Ok(Some(closure))` that the case ended on the way.
// ---------------------------------------------------------------------------------------------

/// Runs the lifecycle up to the approved reintegration plan.
pub async fn prepare_and_return(ctx: &mut Ctx) -> Step<Option<Closure>> {
    // 1. Intake: the case goes on record.
    let case = ctx.state(|s| s.case.clone());
    ctx.execute_local_activity(CaseStoreActivities::record_case_opened, case, store())
        .await?;

    // 2-3. Counselling until the returnee decides, then informed consent; consent not given in
    // time sends the case back to counselling.
    let officer = loop {
        let officer = match counsel(ctx).await? {
            Ok(officer) => officer,
            Err(closure) => return Ok(Some(closure)),
        };
        match consent(ctx).await? {
            Consent::Given => break officer,
            Consent::Expired => continue,
            Consent::Refused(c) => return Ok(Some(c)),
        }
    };

    // 4. Eligibility: operations approve, never the officer who asked.
    enter(ctx, Stage::EligibilityApproval).await?;
    let due = ctx.state(|s| s.case.rules.deadlines.approval);
    let answer = ask(
        ctx,
        Ask::new(TaskType::EligibilityApproval)
            .due(due)
            .requested_by(&officer),
    )
    .await?;
    if let TaskOutcome::Approval { approved: false } = answer.outcome {
        return Ok(Some(closure(
            ctx,
            ClosureReason::Ineligible,
            answer.actor,
            answer.reason,
        )));
    }

    // 5. Travel documents, with reminders to the consulate and an escalation when late.
    if let Some(c) = travel_documents(ctx).await? {
        return Ok(Some(c));
    }

    // 6. Fit to travel, for medical cases.
    fit_to_travel(ctx).await?;

    // 7-8. Booking and departure, rebooking after a failure or a missed flight.
    if let Some(c) = book_and_depart(ctx).await? {
        return Ok(Some(c));
    }

    // 9. Reception in the country of origin.
    if let Some(c) = reception(ctx).await? {
        return Ok(Some(c));
    }

    // 10. The reintegration plan, agreed and approved.
    plan(ctx).await?;
    Ok(None)
}

/// Counselling sessions until a decision. Returns the officer who recorded "wants to return",
/// or the closure when the returnee does not want to.
async fn counsel(ctx: &mut Ctx) -> Step<Result<Actor, Closure>> {
    enter(ctx, Stage::Counselling).await?;
    loop {
        let answer = ask(ctx, Ask::new(TaskType::CounsellingSession)).await?;
        match answer.outcome {
            TaskOutcome::Counselling {
                decision: CounsellingDecision::WantsToReturn,
            } => return Ok(Ok(answer.actor)),
            TaskOutcome::Counselling {
                decision: CounsellingDecision::DoesNotWantToReturn,
            } => {
                return Ok(Err(closure(
                    ctx,
                    ClosureReason::DoesNotWantToReturn,
                    answer.actor,
                    answer.reason,
                )));
            }
            // Undecided: another session.
            _ => continue,
        }
    }
}

enum Consent {
    Given,
    Expired,
    Refused(Closure),
}

/// Declarations from every member who signs, and for an unaccompanied child the best-interests
/// determination, guardian consent and family assessment, all within the consent deadline.
async fn consent(ctx: &mut Ctx) -> Step<Consent> {
    enter(ctx, Stage::Consent).await?;
    let (members, umc, deadline) = ctx.state(|s| {
        (
            s.case.intake.members(),
            s.case.intake.has(Vulnerability::UnaccompaniedChild),
            s.case.rules.deadlines.consent,
        )
    });
    let mut pending: Vec<u32> = Vec::new();
    for (i, m) in members.iter().enumerate() {
        if m.signs_declaration() {
            let subject = u32::try_from(i).unwrap_or(u32::MAX);
            pending.push(open(
                ctx,
                Ask::new(TaskType::Consent).due(deadline).subject(subject),
            ));
        }
    }
    if umc {
        for t in [
            TaskType::BestInterestsDetermination,
            TaskType::GuardianConsent,
            TaskType::FamilyAssessment,
        ] {
            pending.push(open(ctx, Ask::new(t).due(deadline)));
        }
    }
    let until = now(ctx) + deadline.chrono();
    while !pending.is_empty() {
        let left = (until - now(ctx)).to_std().unwrap_or_default();
        match answer_within(ctx, &pending, Some(left)).await? {
            Some((id, answer)) => {
                pending.retain(|&p| p != id);
                let refused = matches!(
                    answer.outcome,
                    TaskOutcome::Consent { signed: false }
                        | TaskOutcome::Assessment {
                            supports_return: false
                        }
                );
                if refused {
                    for id in pending {
                        retract(ctx, id);
                    }
                    let reason = if umc {
                        ClosureReason::NotInChildsBestInterests
                    } else {
                        ClosureReason::DoesNotWantToReturn
                    };
                    return Ok(Consent::Refused(closure(
                        ctx,
                        reason,
                        answer.actor,
                        answer.reason,
                    )));
                }
            }
            None => {
                // Waited too long: counts as undecided, back to the officer.
                for id in pending {
                    retract(ctx, id);
                }
                notify(ctx, NoticeTemplate::ConsentExpired, Audience::ReturnOfficer).await?;
                return Ok(Consent::Expired);
            }
        }
    }
    Ok(Consent::Given)
}

/// Waits for the travel document; reminds the consulate, escalates past the deadline.
async fn travel_documents(ctx: &mut Ctx) -> Step<Option<Closure>> {
    enter(ctx, Stage::TravelDocuments).await?;
    let (deadline, every) = ctx.state(|s| {
        (
            s.case.rules.deadlines.travel_documents,
            s.case.rules.deadlines.document_reminder_every,
        )
    });
    notify(ctx, NoticeTemplate::DocumentsRequested, Audience::Consulate).await?;
    let doc = open(ctx, Ask::new(TaskType::TravelDocument).due(deadline));
    let escalate_at = now(ctx) + deadline.chrono();
    let mut escalation: Option<u32> = None;
    loop {
        let waiting: Vec<u32> = std::iter::once(doc).chain(escalation).collect();
        let next_reminder = every.get();
        let until_escalation = (escalate_at - now(ctx)).to_std().unwrap_or_default();
        let wait = if escalation.is_none() {
            next_reminder.min(until_escalation)
        } else {
            next_reminder
        };
        match answer_within(ctx, &waiting, Some(wait)).await? {
            Some((id, answer)) if id == doc => {
                if let Some(e) = escalation {
                    retract(ctx, e);
                }
                if let TaskOutcome::TravelDocument { expires_on } = answer.outcome {
                    ctx.state_mut(|s| s.facts.document_expires_on = Some(expires_on));
                }
                return Ok(None);
            }
            Some((_, answer)) => {
                // Operations resolved the escalation: keep waiting, or close.
                escalation = None;
                if let Some(c) = closes(ctx, answer, doc, ClosureReason::TravelNotPossible) {
                    return Ok(Some(c));
                }
            }
            None => {
                if escalation.is_none() && now(ctx) >= escalate_at {
                    let approval = ctx.state(|s| s.case.rules.deadlines.approval);
                    escalation = Some(open(
                        ctx,
                        Ask::new(TaskType::DocumentEscalation).due(approval),
                    ));
                    notify(ctx, NoticeTemplate::DocumentsOverdue, Audience::Operations).await?;
                } else {
                    notify(ctx, NoticeTemplate::DocumentsReminder, Audience::Consulate).await?;
                }
            }
        }
    }
}

/// The pre-embarkation medical check, repeated until the returnee is fit to fly.
async fn fit_to_travel(ctx: &mut Ctx) -> Step<()> {
    if !ctx.state(|s| s.case.intake.has(Vulnerability::Medical)) {
        return Ok(());
    }
    enter(ctx, Stage::FitToTravel).await?;
    let due = ctx.state(|s| s.case.rules.deadlines.fit_to_travel);
    loop {
        let answer = ask(ctx, Ask::new(TaskType::FitToTravel).due(due)).await?;
        if let TaskOutcome::FitToTravel {
            fit: true,
            medical_escort,
        } = answer.outcome
        {
            ctx.state_mut(|s| s.facts.medical_escort = medical_escort);
            return Ok(());
        }
    }
}

/// If `answer` resolves an escalation with "close", withdraws `pending` and returns the closure.
fn closes(
    ctx: &Ctx,
    answer: TaskCompletion,
    pending: u32,
    reason: ClosureReason,
) -> Option<Closure> {
    match answer.outcome {
        TaskOutcome::Resolution {
            action: Resolution::Close,
        } => {
            retract(ctx, pending);
            Some(closure(ctx, reason, answer.actor, answer.reason))
        }
        _ => None,
    }
}

/// The partner's own message from a failed activity (the innermost cause), for a human.
fn failure_message(e: &temporalio_workflow::ActivityExecutionError) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut last = e.to_string();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last.chars().take(300).collect()
}

/// Operations decide on a failure: `true` to try again, `false` to close (with the closure).
async fn resolve(
    ctx: &mut Ctx,
    task_type: TaskType,
    reason: ClosureReason,
    note: Option<String>,
) -> Step<Option<Closure>> {
    let due = ctx.state(|s| s.case.rules.deadlines.approval);
    let answer = ask(ctx, Ask::new(task_type).due(due).note(note)).await?;
    match answer.outcome {
        TaskOutcome::Resolution {
            action: Resolution::Close,
        } => Ok(Some(closure(ctx, reason, answer.actor, answer.reason))),
        _ => Ok(None),
    }
}

/// Cancels the current order, if any (idempotent: the key names the order).
async fn cancel_order(ctx: &mut Ctx) -> Step<()> {
    let Some(order) = ctx.state(|s| s.facts.order.clone()) else {
        return Ok(());
    };
    let reference = ctx.state(|s| s.case.reference.clone());
    ctx.execute_activity(
        TravelActivities::cancel_order,
        CancelRequest {
            idempotency_key: format!("{reference}:cancel:{}", order.order_id),
            order_id: order.order_id.clone(),
        },
        partner(),
    )
    .await?;
    ctx.state_mut(|s| {
        s.facts.order = None;
        s.facts.cancelled_orders.push(order.order_id);
    });
    Ok(())
}

/// One booking attempt: offers within the document's validity, operations' approval when over
/// budget, then the order under this attempt's key. `Ok(Err(note))` says why it failed.
async fn book_flight(ctx: &mut Ctx, attempt: u32) -> Step<Result<Order, String>> {
    let (request, budget) = ctx.state(|s| {
        let d = &s.case.rules.deadlines;
        let escort = u8::from(s.facts.medical_escort);
        let travellers = s.case.intake.household_size.get() + escort;
        let latest = s
            .facts
            .document_expires_on
            .map(|e| e - d.document_validity_after_flight.chrono())
            .unwrap_or(NaiveDate::MAX);
        (
            OfferRequest {
                reference: s.case.reference.clone(),
                from_country: s.case.intake.host_country.clone(),
                to_country: s.case.intake.origin_country.clone(),
                earliest: (s.now + d.booking_lead_time.chrono()).date_naive(),
                latest,
                travellers,
                medical_escort: s.facts.medical_escort,
            },
            s.case.rules.booking.budget_per_person * i64::from(travellers),
        )
    });
    let offers = ctx
        .execute_activity(TravelActivities::search_offers, request.clone(), partner())
        .await;
    let (offer, failure) = match offers {
        Ok(offers) => (
            offers
                .into_iter()
                .filter(|o| o.departs_at.date_naive() <= request.latest)
                .min_by_key(|o| o.total.minor),
            "no offer departs while the travel document is valid".to_owned(),
        ),
        Err(e) => (None, failure_message(&e)),
    };
    let Some(offer) = offer else {
        return Ok(Err(failure));
    };
    if offer.total.minor > budget {
        let due = ctx.state(|s| s.case.rules.deadlines.approval);
        let answer = ask(ctx, Ask::new(TaskType::BookingApproval).due(due)).await?;
        if let TaskOutcome::Approval { approved: false } = answer.outcome {
            return Ok(Err(format!(
                "operations refused the price: {}",
                answer.reason
            )));
        }
    }
    let reference = ctx.state(|s| s.case.reference.clone());
    let order = ctx
        .execute_activity(
            TravelActivities::create_order,
            OrderRequest {
                idempotency_key: format!("{reference}:booking:{attempt}"),
                reference,
                offer_id: offer.offer_id,
            },
            partner(),
        )
        .await;
    Ok(order.map_err(|e| failure_message(&e)))
}

/// Books a flight (with operations' approval when over budget), waits for the day, and confirms
/// departure; a refused booking or a missed flight goes to operations, who rebook or close.
async fn book_and_depart(ctx: &mut Ctx) -> Step<Option<Closure>> {
    loop {
        enter(ctx, Stage::FlightBooking).await?;
        let attempt = ctx.state_mut(|s| {
            s.facts.booking_attempts += 1;
            s.facts.booking_attempts
        });
        let order = match book_flight(ctx, attempt).await? {
            Ok(order) => order,
            Err(note) => {
                let reason = ClosureReason::TravelNotPossible;
                match resolve(ctx, TaskType::BookingFailed, reason, Some(note)).await? {
                    Some(c) => return Ok(Some(c)),
                    None => continue,
                }
            }
        };
        ctx.state_mut(|s| s.facts.order = Some(order.clone()));
        notify(ctx, NoticeTemplate::FlightBooked, Audience::ReturnOfficer).await?;
        notify(ctx, NoticeTemplate::FlightBooked, Audience::Returnee).await?;

        // 8. Departure: wait for the day, then for the officer's confirmation.
        enter(ctx, Stage::Departure).await?;
        sleep_until(ctx, order.departs_at).await?;
        // Flight day: the airline may have cancelled or moved the flight since the booking.
        // (Asked right after the timer, before any local activity in this workflow task.)
        if ctx.patched(PATCH_FLIGHT_DAY_CHECK)
            && let Some(note) = flight_day_check(ctx, &order).await?
        {
            cancel_order(ctx).await?;
            let reason = ClosureReason::TravelNotPossible;
            match resolve(ctx, TaskType::BookingFailed, reason, Some(note)).await? {
                Some(c) => return Ok(Some(c)),
                None => continue,
            }
        }
        let grace = ctx.state(|s| s.case.rules.deadlines.departure_grace);
        let confirm = open(ctx, Ask::new(TaskType::DepartureConfirmation).due(grace));
        let answer = answer_within(ctx, &[confirm], Some(grace.get())).await?;
        if let Some((
            _,
            TaskCompletion {
                outcome: TaskOutcome::Departure { departed: true },
                ..
            },
        )) = answer
        {
            let at = now(ctx);
            ctx.state_mut(|s| s.facts.departed_at = Some(at));
            return Ok(None);
        }
        if answer.is_none() {
            retract(ctx, confirm);
        }
        // No-show: cancel what is booked, then operations rebook or close.
        cancel_order(ctx).await?;
        if let Some(c) = resolve(ctx, TaskType::NoShow, ClosureReason::NoShow, None).await? {
            return Ok(Some(c));
        }
    }
}

/// Asks the travel partner where the order stands when the flight is due; follows a flight
/// moved later (the hand-over then announces the new time). `Some(note)` if the airline
/// cancelled it. An unreachable partner changes nothing: the officer confirms departure as
/// always.
async fn flight_day_check(ctx: &mut Ctx, order: &Order) -> Step<Option<String>> {
    loop {
        let status = ctx
            .execute_activity(
                TravelActivities::fetch_order,
                order.order_id.clone(),
                status_poll(),
            )
            .await;
        let Ok(status) = status else {
            return Ok(None);
        };
        if status.cancelled {
            return Ok(Some(format!(
                "the airline cancelled order {} before departure",
                order.order_id
            )));
        }
        if status.departs_at <= now(ctx) {
            return Ok(None);
        }
        ctx.state_mut(|s| {
            if let Some(o) = s.facts.order.as_mut() {
                o.departs_at = status.departs_at;
            }
        });
        sleep_until(ctx, status.departs_at).await?;
    }
}

/// Hands the case over to the partner and waits for the reception confirmation; escalates when
/// it is late.
async fn reception(ctx: &mut Ctx) -> Step<Option<Closure>> {
    enter(ctx, Stage::ArrivalReception).await?;
    let (record, deadline) = ctx.state(|s| {
        let order = s.facts.order.clone();
        let order_id = order
            .as_ref()
            .map(|o| o.order_id.clone())
            .unwrap_or_default();
        (
            HandOver {
                idempotency_key: format!("{}:handover:{order_id}", s.case.reference),
                reference: s.case.reference.clone(),
                origin_country: s.case.intake.origin_country.clone(),
                arrives_at: order.map(|o| o.departs_at).unwrap_or(s.now),
                household_size: s.case.intake.household_size.get(),
                unaccompanied_child: s.case.intake.has(Vulnerability::UnaccompaniedChild),
                medical_assistance: s.case.intake.has(Vulnerability::Medical),
            },
            s.case.rules.deadlines.reception,
        )
    });
    ctx.execute_activity(OutreachActivities::hand_over, record, partner())
        .await?;
    let mut arrival = open(ctx, Ask::new(TaskType::ArrivalConfirmation).due(deadline));
    let mut escalation: Option<u32> = None;
    let mut wait = Some(deadline.get());
    loop {
        let waiting: Vec<u32> = std::iter::once(arrival).chain(escalation).collect();
        match answer_within(ctx, &waiting, wait).await? {
            Some((id, answer)) if id == arrival => {
                if let TaskOutcome::Arrival { received: true } = answer.outcome {
                    if let Some(e) = escalation {
                        retract(ctx, e);
                    }
                    let at = now(ctx);
                    ctx.state_mut(|s| s.facts.arrived_at = Some(at));
                    return Ok(None);
                }
                // Not received: the partner confirms again once the returnee is found, and
                // operations find out what happened.
                arrival = open(ctx, Ask::new(TaskType::ArrivalConfirmation).due(deadline));
                if escalation.is_none() {
                    escalation = Some(escalate_reception(ctx).await?);
                }
                wait = None;
            }
            Some((_, answer)) => {
                escalation = None;
                if let Some(c) = closes(ctx, answer, arrival, ClosureReason::Unreachable) {
                    return Ok(Some(c));
                }
            }
            None => {
                escalation = Some(escalate_reception(ctx).await?);
                wait = None;
            }
        }
    }
}

/// Opens the reception escalation for operations and tells them.
async fn escalate_reception(ctx: &mut Ctx) -> Step<u32> {
    let approval = ctx.state(|s| s.case.rules.deadlines.approval);
    let id = open(ctx, Ask::new(TaskType::ReceptionEscalation).due(approval));
    notify(ctx, NoticeTemplate::ReceptionOverdue, Audience::Operations).await?;
    Ok(id)
}

/// The partner submits the plan; operations approve it, or reject it for resubmission.
async fn plan(ctx: &mut Ctx) -> Step<()> {
    enter(ctx, Stage::ReintegrationPlan).await?;
    let (deadline, approval) = ctx.state(|s| {
        (
            s.case.rules.deadlines.reintegration_plan,
            s.case.rules.deadlines.approval,
        )
    });
    loop {
        let submitted = ask(ctx, Ask::new(TaskType::ReintegrationPlan).due(deadline)).await?;
        let answer = ask(
            ctx,
            Ask::new(TaskType::PlanApproval)
                .due(approval)
                .requested_by(&submitted.actor),
        )
        .await?;
        if let TaskOutcome::Approval { approved: true } = answer.outcome {
            let at = now(ctx);
            ctx.state_mut(|s| s.facts.plan_approved_at = Some(at));
            return Ok(());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 11-13: reintegration (after continue-as-new). Tranche milestones and follow-ups are merged
// into one timeline and handled in order.
// ---------------------------------------------------------------------------------------------

enum Milestone {
    Tranche(usize),
    FollowUp(usize),
}

/// Staged grants and monitoring until the support period ends.
pub async fn reintegrate(ctx: &mut Ctx) -> Step<Closure> {
    enter(ctx, Stage::Reintegration).await?;
    let (rules, arrived, plan_approved) = ctx.state(|s| {
        (
            s.case.rules.clone(),
            s.facts.arrived_at.unwrap_or(s.now),
            s.facts.plan_approved_at.unwrap_or(s.now),
        )
    });
    let mut timeline: Vec<(DateTime<Utc>, Milestone)> = Vec::new();
    for (i, t) in rules.tranches.iter().enumerate() {
        let anchor = match t.after {
            Anchor::Arrival => arrived,
            Anchor::PlanApproved => plan_approved,
        };
        timeline.push((anchor + t.offset.chrono(), Milestone::Tranche(i)));
    }
    for (i, f) in rules.monitoring.follow_ups.iter().enumerate() {
        timeline.push((arrived + f.chrono(), Milestone::FollowUp(i)));
    }
    timeline.sort_by_key(|(at, m)| (*at, matches!(m, Milestone::FollowUp(_))));

    for (at, milestone) in timeline {
        sleep_until(ctx, at).await?;
        match milestone {
            Milestone::Tranche(i) => tranche(ctx, i).await?,
            Milestone::FollowUp(i) => {
                if let Some(c) = follow_up(ctx, i).await? {
                    return Ok(c);
                }
            }
        }
    }
    // Referrals still open are seen through before the case closes.
    ctx.wait_condition(|s| {
        s.interrupt.is_some() || !s.tasks.iter().any(|t| t.task_type == TaskType::Referral)
    })
    .await?;
    interrupted(ctx)?;
    let referrals: Vec<u32> = ctx.state(|s| s.answers.keys().copied().collect());
    for id in referrals {
        take_answer(ctx, id);
    }
    sleep_until(ctx, arrived + rules.support_period.chrono()).await?;
    Ok(closure(
        ctx,
        ClosureReason::SupportPeriodEnded,
        Actor::system(),
        "support period ended",
    ))
}

/// A tranche: the partner verifies the milestone, finance approve (never the verifier), and the
/// payment goes out under a key derived from case and tranche, so it is made once at most.
async fn tranche(ctx: &mut Ctx, i: usize) -> Step<()> {
    let (t, reference, (adults, children), currency, cash_cap, verify_in, approve_in) =
        ctx.state(|s| {
            let r = &s.case.rules;
            (
                r.tranches[i].clone(),
                s.case.reference.clone(),
                s.case.intake.adults_and_children(),
                r.currency.clone(),
                r.cash_cap,
                r.deadlines.milestone_verification,
                r.deadlines.approval,
            )
        });
    let subject = u32::try_from(i).unwrap_or(u32::MAX);
    let verified = ask(
        ctx,
        Ask::new(TaskType::MilestoneVerification)
            .due(verify_in)
            .subject(subject),
    )
    .await?;
    if let TaskOutcome::Milestone { reached: false } = verified.outcome {
        ctx.state_mut(|s| s.facts.voided_tranches.push(t.name.clone()));
        return Ok(());
    }
    let approval = ask(
        ctx,
        Ask::new(TaskType::TrancheApproval)
            .due(approve_in)
            .requested_by(&verified.actor)
            .subject(subject),
    )
    .await?;
    if let TaskOutcome::Approval { approved: false } = approval.outcome {
        ctx.state_mut(|s| s.facts.voided_tranches.push(t.name.clone()));
        return Ok(());
    }
    let mut amount = t.per_adult * adults + t.per_child * children;
    if t.kind == crate::programme::PaymentKind::Cash {
        // Cash is capped per household over the whole case.
        let paid_cash: i64 = ctx.state(|s| {
            s.facts
                .payments
                .iter()
                .filter(|p| p.kind == crate::programme::PaymentKind::Cash)
                .map(|p| p.amount.minor)
                .sum()
        });
        amount = amount.min((cash_cap - paid_cash).max(0));
    }
    let amount = Money {
        minor: amount,
        currency,
    };
    // The first attempt pays under `<ref>:tranche:<name>`; only a payment the provider reports
    // as failed is tried again, under a new key (`…:<attempt>`), since the old key would find
    // the failed payment.
    let mut attempt = 1u32;
    let mut waiting_on: Option<Receipt> = None;
    loop {
        let request = Disbursement {
            idempotency_key: if attempt == 1 {
                format!("{reference}:tranche:{}", t.name)
            } else {
                format!("{reference}:tranche:{}:{attempt}", t.name)
            },
            reference: reference.clone(),
            tranche: t.name.clone(),
            kind: t.kind,
            amount: amount.clone(),
        };
        let receipt = match waiting_on.take() {
            Some(r) => Ok(r),
            None => {
                ctx.state_mut(|s| s.disbursing = true);
                let receipt = ctx
                    .execute_activity(PaymentActivities::disburse, request.clone(), partner())
                    .await;
                ctx.state_mut(|s| {
                    s.disbursing = false;
                    if let Ok(r) = &receipt {
                        s.issued_payments.insert(r.payment_id.clone());
                    }
                });
                receipt
            }
        };
        let problem = match receipt {
            Err(e) => failure_message(&e),
            Ok(receipt) => match settlement(ctx, &receipt).await? {
                PaymentState::Confirmed => {
                    // Cases that paid tranches before this notice existed replay without it.
                    // Asked before the local activity below: a patch marker recorded after a
                    // local activity's marker in one workflow task does not replay (sdk-core
                    // resolves the local activity in a later activation than it meets the
                    // patch marker: "no corresponding change command").
                    let tell_returnee = ctx.patched(PATCH_TRANCHE_PAID_NOTICE);
                    let at = now(ctx);
                    ctx.state_mut(|s| {
                        s.facts.payments.push(PaymentRecord {
                            tranche: t.name.clone(),
                            kind: t.kind,
                            amount: request.amount.clone(),
                            receipt: Receipt {
                                state: PaymentState::Confirmed,
                                ..receipt
                            },
                            at,
                        });
                    });
                    let outcome = CaseOutcome::TranchePaid {
                        reference: request.reference.clone(),
                        tranche: subject,
                        amount: request.amount.clone(),
                        at,
                    };
                    ctx.execute_local_activity(
                        CaseStoreActivities::record_outcome,
                        outcome,
                        store(),
                    )
                    .await?;
                    if tell_returnee {
                        notify(ctx, NoticeTemplate::TranchePaid, Audience::Returnee).await?;
                    }
                    return Ok(());
                }
                PaymentState::Failed => {
                    attempt += 1;
                    format!(
                        "the provider reports payment {} failed; trying again pays under a new key",
                        receipt.payment_id
                    )
                }
                PaymentState::Pending => {
                    let note = format!(
                        "payment {} is still pending at the provider; trying again waits for it \
                         (it is not paid twice), closing voids the tranche here only",
                        receipt.payment_id
                    );
                    waiting_on = Some(receipt);
                    note
                }
            },
        };
        // Finance decide: try again (safe: see above), or give up on the tranche.
        let due = ctx.state(|s| s.case.rules.deadlines.approval);
        let answer = ask(
            ctx,
            Ask::new(TaskType::PaymentFailed)
                .due(due)
                .subject(subject)
                .note(Some(problem)),
        )
        .await?;
        if let TaskOutcome::Resolution {
            action: Resolution::Close,
        } = answer.outcome
        {
            ctx.state_mut(|s| s.facts.voided_tranches.push(t.name.clone()));
            return Ok(());
        }
    }
}

/// Waits until the provider settles a payment: its webhook (the `payment_settled` signal)
/// settles it at once; without one the case asks the provider every `payment_status_poll`.
/// Answers `Pending` if `payment_confirmation` passes first. Not cut short by a withdrawal or
/// closure: money in flight is recorded before a case unwinds.
async fn settlement(ctx: &mut Ctx, receipt: &Receipt) -> Step<PaymentState> {
    if receipt.state != PaymentState::Pending {
        return Ok(receipt.state);
    }
    let (poll, within) = ctx.state(|s| {
        let d = &s.case.rules.deadlines;
        (d.payment_status_poll.get(), d.payment_confirmation.chrono())
    });
    let deadline = now(ctx) + within;
    let id = receipt.payment_id.as_str();
    let confirm = ctx.state(|s| s.patches.protected_decisions);
    loop {
        if let Some(claimed) = ctx.state_mut(|s| s.settlements.remove(id)) {
            if !confirm {
                return Ok(claimed);
            }
            // A webhook only wakes the case: the provider's own answer decides. A claim it
            // does not confirm (forged, or ahead of the provider) changes nothing.
            if let Ok(state) = ctx
                .execute_activity(
                    PaymentActivities::disbursement_status,
                    id.to_owned(),
                    status_poll(),
                )
                .await
                && state != PaymentState::Pending
            {
                return Ok(state);
            }
        }
        let left = (deadline - now(ctx)).to_std().unwrap_or_default();
        if left.is_zero() {
            return Ok(PaymentState::Pending);
        }
        let timer = ctx.timer(poll.min(left));
        let settled = ctx.wait_condition(|s: &ReturnCase| s.settlements.contains_key(id));
        match select(std::pin::pin!(settled), std::pin::pin!(timer)).await {
            Either::Left((r, timer)) => {
                timer.cancel();
                r?;
            }
            Either::Right(_) => {
                if ctx.state(|s| s.settlements.contains_key(id)) {
                    continue;
                }
                // A failed poll is only a missed poll: the next timer asks again.
                if let Ok(state) = ctx
                    .execute_activity(
                        PaymentActivities::disbursement_status,
                        id.to_owned(),
                        status_poll(),
                    )
                    .await
                    && state != PaymentState::Pending
                {
                    return Ok(state);
                }
            }
        }
    }
}

/// A monitoring follow-up: the survey, tried again when the returnee cannot be reached, then
/// escalated. Low scores open referrals.
async fn follow_up(ctx: &mut Ctx, i: usize) -> Step<Option<Closure>> {
    let (window, retries, retry_after, threshold) = ctx.state(|s| {
        let m = &s.case.rules.monitoring;
        (
            m.survey_window,
            m.retries,
            m.retry_after,
            m.referral_threshold,
        )
    });
    let subject = u32::try_from(i).unwrap_or(u32::MAX);
    for attempt in 0..=retries {
        if attempt > 0 {
            sleep(ctx, retry_after.get()).await?;
        }
        let survey = open(
            ctx,
            Ask::new(TaskType::MonitoringSurvey)
                .due(window)
                .subject(subject),
        );
        match answer_within(ctx, &[survey], Some(window.get())).await? {
            Some((
                _,
                TaskCompletion {
                    outcome:
                        TaskOutcome::Survey {
                            reached: true,
                            answers: Some(answers),
                        },
                    ..
                },
            )) => {
                let scores = answers.scores();
                ctx.state_mut(|s| {
                    s.facts.scores.push(ScoreRecord {
                        follow_up: subject,
                        scores,
                    });
                });
                let (reference, at) = (ctx.state(|s| s.case.reference.clone()), now(ctx));
                let outcome = CaseOutcome::Scored {
                    reference,
                    follow_up: subject,
                    scores,
                    at,
                };
                ctx.execute_local_activity(CaseStoreActivities::record_outcome, outcome, store())
                    .await?;
                let due = ctx.state(|s| s.case.rules.deadlines.approval);
                for (dimension, score) in [
                    (0, scores.economic),
                    (1, scores.social),
                    (2, scores.psychosocial),
                ] {
                    if score < threshold {
                        open(
                            ctx,
                            Ask::new(TaskType::Referral).due(due).subject(dimension),
                        );
                    }
                }
                return Ok(None);
            }
            Some(_) => {}
            None => retract(ctx, survey),
        }
    }
    // Unreachable after every try: operations follow up.
    let due = ctx.state(|s| s.case.rules.deadlines.approval);
    let answer = ask(
        ctx,
        Ask::new(TaskType::MonitoringEscalation)
            .due(due)
            .subject(subject),
    )
    .await?;
    if let TaskOutcome::Resolution {
        action: Resolution::Close,
    } = answer.outcome
    {
        return Ok(Some(closure(
            ctx,
            ClosureReason::Unreachable,
            answer.actor,
            answer.reason,
        )));
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------------
// The end.
// ---------------------------------------------------------------------------------------------

/// Records the closure and ends the run.
pub async fn close(
    ctx: &mut Ctx,
    closure: Closure,
) -> temporalio_workflow::WorkflowResult<Closure> {
    match record_decisions(ctx).await {
        Ok(()) | Err(Halt::Interrupted) => {}
        Err(Halt::Engine(t)) => return Err(t),
    }
    let open: Vec<u32> = ctx.state(|s| s.tasks.iter().map(|t| t.id).collect());
    for id in open {
        retract(ctx, id);
    }
    ctx.state_mut(|s| s.closure = Some(closure.clone()));
    let at = closure.at;
    ctx.state_mut(|s| s.stage = Stage::Closed);
    refresh_visibility(ctx);
    let reference = ctx.state(|s| s.case.reference.clone());
    ctx.execute_local_activity(
        CaseStoreActivities::record_stage,
        StageChange {
            reference,
            stage: Stage::Closed,
            at,
        },
        store(),
    )
    .await?;
    Ok(closure)
}

/// Unwinds a withdrawn or early-closed case as a saga: cancel the booking, void unpaid
/// tranches, tell the partner. Each compensation is idempotent.
pub async fn unwind(ctx: &mut Ctx) -> temporalio_workflow::WorkflowResult<Closure> {
    let interrupt = ctx.state(|s| s.interrupt.clone());
    let (reason, by, note) = match interrupt {
        Some(Interrupt::Withdrawn { by, reason }) => (ClosureReason::ConsentWithdrawn, by, reason),
        Some(Interrupt::ClosedEarly { by, reason, note }) => (reason, by, note),
        None => (ClosureReason::OptedOut, Actor::system(), String::new()),
    };
    // Compensations must run even though the case is interrupted; clear the flag so the
    // primitives do not stop them, and keep the record in the decisions.
    ctx.state_mut(|s| s.interrupt = None);
    let result: Step<()> = async {
        if let Some(order) = ctx.state(|s| s.facts.order.clone()) {
            cancel_order(ctx).await?;
            ctx.state_mut(|s| {
                s.facts.compensations.push(Compensation::OrderCancelled {
                    order_id: order.order_id.clone(),
                })
            });
        }
        let unpaid: Vec<String> = ctx.state(|s| {
            s.case
                .rules
                .tranches
                .iter()
                .map(|t| t.name.clone())
                .filter(|n| {
                    !s.facts.payments.iter().any(|p| &p.tranche == n)
                        && !s.facts.voided_tranches.contains(n)
                })
                .collect()
        });
        if !unpaid.is_empty() {
            ctx.state_mut(|s| {
                s.facts.voided_tranches.extend(unpaid.iter().cloned());
                s.facts
                    .compensations
                    .push(Compensation::TranchesVoided { tranches: unpaid });
            });
        }
        let audience = if ctx.state(|s| s.stage) >= Stage::ArrivalReception {
            Audience::Partner
        } else {
            Audience::Consulate
        };
        notify(ctx, NoticeTemplate::ReturnCancelled, audience).await?;
        ctx.state_mut(|s| s.facts.compensations.push(Compensation::PartnerNotified));
        Ok(())
    }
    .await;
    match result {
        Ok(()) | Err(Halt::Interrupted) => {}
        Err(Halt::Engine(t)) => return Err(t),
    }
    let c = closure(ctx, reason, by, note);
    close(ctx, c).await
}
