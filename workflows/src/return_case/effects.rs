//! The case's effects on the world and the control flow its stages share: how a stage stops
//! early ([`Halt`], carried by `?`), which recorded changes this run makes (patch markers),
//! workflow time, the activity options, entering a stage, sending a notice.
//!
//! Deterministic: no I/O, no host clock, no randomness.

use std::time::Duration;

use chrono::{DateTime, Utc};
use temporalio_workflow::{
    ActivityExecutionError, ActivityOptions, LocalActivityOptions, RetryPolicy, WorkflowContext,
    WorkflowTermination,
};

use super::record::{Closure, ClosureReason, Patches};
use super::{ReturnCase, time_of};
use crate::activities::{
    Audience, CaseStoreActivities, FlightNotice, Notice, NoticeTemplate, OutreachActivities,
    StageChange,
};
use crate::domain::Stage;
use crate::idempotency::IdempotencyKey;
use crate::tasks::Actor;

/// The workflow context of a case.
pub(super) type Ctx = WorkflowContext<ReturnCase>;

/// Why a stage stopped before its end; `?` carries it up to `run`.
pub(super) enum Halt {
    /// The case ended on the way (the returnee declined, operations closed it, …).
    Closed(Closure),
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

/// What a stage answers.
pub(super) type Step<T> = Result<T, Halt>;

// ---------------------------------------------------------------------------------------------
// Versioning (`ctx.patched`): each id marks a change of the commands a case issues, so
// histories recorded before it replay as they ran (the corpus in tests/histories/ proves it).
// Remove one (with `deprecate_patch` first) only once no case that ran without it is open.
// ---------------------------------------------------------------------------------------------

/// The returnee is told (SMS) when a tranche is paid.
pub(super) const PATCH_TRANCHE_PAID_NOTICE: &str = "tranche-paid-notice";
/// On flight day the case asks the travel partner where its order stands.
pub(super) const PATCH_FLIGHT_DAY_CHECK: &str = "flight-day-order-check";
/// Asked once when a run starts; what it changes: [`Patches`].
const PATCH_PROTECTED_DECISIONS: &str = "protected-decisions";
/// Asked once when a run starts; what it changes: [`Patches`].
const PATCH_TASK_PROJECTION: &str = "task-projection";
/// Asked once when a run starts; what it changes: [`Patches`].
const PATCH_CONSULATE_CONSENT: &str = "consulate-consent";
/// Asked once when a run starts; what it changes: [`Patches`].
const PATCH_FOLLOW_UP_RETRY: &str = "follow-up-retry";
/// Asked once when a run starts; what it changes: [`Patches`].
const PATCH_MEDICAL_DEFERRAL: &str = "medical-deferral";
/// Asked once when a run starts; what it changes: [`Patches`].
const PATCH_PAID_NOTICE_CASH_ONLY: &str = "paid-notice-cash-only";
/// Asked once when a run starts; what it changes: [`Patches`].
const PATCH_FLIGHT_DETAILS: &str = "flight-details";
/// Asked once when a run starts; what it changes: [`Patches`].
const PATCH_AIRPORT_CHANGE_OF_MIND: &str = "airport-change-of-mind";
/// Asked once when a run starts; what it changes: [`Patches`].
const PATCH_MEDICAL_CLEARANCE: &str = "medical-clearance";
/// Asked once when a run starts; what it changes: [`Patches`].
const PATCH_SAFE_PHONE: &str = "safe-phone";
/// Asked once when a run starts; what it changes: [`Patches`].
const PATCH_SUPPLIER_INVOICES: &str = "supplier-invoices";
/// Asked once when a run starts; what it changes: [`Patches`].
const PATCH_CHILD_ESCORT: &str = "child-escort";
/// Asked once when a run starts; what it changes: [`Patches`].
const PATCH_RECEPTION_CONFIRMED: &str = "reception-confirmed";
/// Asked once when a run starts; what it changes: [`Patches`].
const PATCH_CHILD_SEQUENCE: &str = "child-sequence";
/// Asked once when a run starts; what it changes: [`Patches`].
const PATCH_PLAN_BUDGET: &str = "plan-budget";
/// Asked once when a run starts; what it changes: [`Patches`].
const PATCH_RSS_BASELINE: &str = "rss-baseline";

/// Asks, before the run issues any other command, which recorded changes it makes. Once per
/// run: a run recorded before a change replays without it to its end; a new run (and every
/// continued one) has it.
pub(super) fn ask_patches(ctx: &Ctx) {
    let protected_decisions = ctx.patched(PATCH_PROTECTED_DECISIONS);
    let task_projection = ctx.patched(PATCH_TASK_PROJECTION);
    let consulate_consent = ctx.patched(PATCH_CONSULATE_CONSENT);
    let follow_up_retry = ctx.patched(PATCH_FOLLOW_UP_RETRY);
    let medical_deferral = ctx.patched(PATCH_MEDICAL_DEFERRAL);
    let paid_notice_cash_only = ctx.patched(PATCH_PAID_NOTICE_CASH_ONLY);
    let flight_details = ctx.patched(PATCH_FLIGHT_DETAILS);
    let airport_change_of_mind = ctx.patched(PATCH_AIRPORT_CHANGE_OF_MIND);
    let medical_clearance = ctx.patched(PATCH_MEDICAL_CLEARANCE);
    let safe_phone = ctx.patched(PATCH_SAFE_PHONE);
    let supplier_invoices = ctx.patched(PATCH_SUPPLIER_INVOICES);
    let child_escort = ctx.patched(PATCH_CHILD_ESCORT);
    let reception_confirmed = ctx.patched(PATCH_RECEPTION_CONFIRMED);
    let child_sequence = ctx.patched(PATCH_CHILD_SEQUENCE);
    let plan_budget = ctx.patched(PATCH_PLAN_BUDGET);
    let rss_baseline = ctx.patched(PATCH_RSS_BASELINE);
    ctx.state_mut(|s| {
        s.patches = Patches {
            protected_decisions,
            task_projection,
            consulate_consent,
            follow_up_retry,
            medical_deferral,
            paid_notice_cash_only,
            flight_details,
            airport_change_of_mind,
            medical_clearance,
            safe_phone,
            supplier_invoices,
            child_escort,
            reception_confirmed,
            child_sequence,
            plan_budget,
            rss_baseline,
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Time and interruption.
// ---------------------------------------------------------------------------------------------

/// The workflow's current time, also kept in state for validators.
pub(super) fn now(ctx: &Ctx) -> DateTime<Utc> {
    let t = time_of(ctx.workflow_time()).unwrap_or_else(|| ctx.state(|s| s.now));
    ctx.state_mut(|s| s.now = t);
    t
}

/// Stops the stage if a withdrawal or early closure was accepted.
pub(super) fn interrupted(ctx: &Ctx) -> Step<()> {
    if ctx.state(|s| s.interrupt.is_some()) {
        Err(Halt::Interrupted)
    } else {
        Ok(())
    }
}

/// The case's closure, now, for `reason`, decided by `by`.
pub(super) fn closure(
    ctx: &Ctx,
    reason: ClosureReason,
    by: Actor,
    note: impl Into<String>,
) -> Closure {
    Closure {
        reason,
        at: now(ctx),
        by,
        note: note.into(),
    }
}

/// Ends the case early: `Err(Halt::Closed(…))`, for `?` to carry.
pub(super) fn closed<T>(
    ctx: &Ctx,
    reason: ClosureReason,
    by: Actor,
    note: impl Into<String>,
) -> Step<T> {
    Err(Halt::Closed(closure(ctx, reason, by, note)))
}

// ---------------------------------------------------------------------------------------------
// Activity options.
// ---------------------------------------------------------------------------------------------

/// Case-store writes: local activities (a marker in history instead of a scheduled task and a
/// workflow task of its own), idempotent, retried patiently through a database outage.
pub(super) fn store() -> LocalActivityOptions {
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

/// Activity options: this long per attempt, retried with backoff from `first` to `longest`,
/// at most `attempts` times (0: until it succeeds).
fn retried(timeout: u64, first: u64, longest: u64, attempts: u32) -> ActivityOptions {
    let retry = RetryPolicy::builder()
        .initial_interval(Duration::from_secs(first))
        .maximum_interval(Duration::from_secs(longest));
    let retry = if attempts > 0 {
        retry.maximum_attempts(attempts).build()
    } else {
        retry.build()
    };
    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(timeout))
        .retry_policy(retry)
        .build()
}

/// Notification calls: cheap, idempotent, retried patiently through outages.
pub(super) fn quick() -> ActivityOptions {
    retried(30, 1, 60, 0)
}

/// Partner calls that create something: bounded retries, so that a partner's outage becomes a
/// task for a human instead of an endless loop. Permanent failures (4xx) are not retried.
pub(super) fn partner() -> ActivityOptions {
    let mut options = retried(60, 2, 120, 10);
    options.heartbeat_timeout = Some(Duration::from_secs(20));
    options
}

/// Asking a partner where something stands: a few quick tries, then the next poll.
pub(super) fn status_poll() -> ActivityOptions {
    retried(30, 1, 10, 3)
}

/// The partner's own message from a failed activity (the innermost cause), for a human.
pub(super) fn failure_message(e: &ActivityExecutionError) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut last = e.to_string();
    while let Some(s) = source {
        last = s.to_string();
        source = s.source();
    }
    last.chars().take(300).collect()
}

// ---------------------------------------------------------------------------------------------
// Effects.
// ---------------------------------------------------------------------------------------------

/// Moves the case to `stage` and mirrors the change into the case store.
pub(super) async fn enter(ctx: &mut Ctx, stage: Stage) -> Step<()> {
    interrupted(ctx)?;
    let at = now(ctx);
    ctx.state_mut(|s| s.stage = stage);
    super::visibility::refresh(ctx);
    record_stage(ctx, stage, at).await?;
    Ok(())
}

/// Mirrors the case's stage into the case store (a local activity, idempotent).
pub(super) async fn record_stage(
    ctx: &Ctx,
    stage: Stage,
    at: DateTime<Utc>,
) -> Result<(), temporalio_workflow::ActivityExecutionError> {
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
    .await
    .map(|_| ())
}

/// Sends a templated notice (to the returnee in their language); each gets its own
/// idempotency key.
pub(super) async fn notify(
    ctx: &mut Ctx,
    template: NoticeTemplate,
    audience: Audience,
) -> Step<()> {
    send_notice(ctx, template, audience, None).await
}

/// Tells `audience` of the booked flight: its date, time, airport and meeting point.
pub(super) async fn notify_flight(
    ctx: &mut Ctx,
    audience: Audience,
    flight: FlightNotice,
) -> Step<()> {
    send_notice(ctx, NoticeTemplate::FlightDetails, audience, Some(flight)).await
}

async fn send_notice(
    ctx: &mut Ctx,
    template: NoticeTemplate,
    audience: Audience,
    flight: Option<FlightNotice>,
) -> Step<()> {
    let (reference, n, language) = ctx.state_mut(|s| {
        s.facts.notices_sent += 1;
        let language = match audience {
            Audience::Returnee => s.case.intake.language.clone(),
            _ => None,
        };
        (s.case.reference.clone(), s.facts.notices_sent, language)
    });
    // A trafficking victim is texted only at a phone they confirmed safe (IOM, "Handbook on
    // Protection and Assistance for Migrants Vulnerable to Violence, Exploitation and Abuse"
    // (2019): contact with a victim must not expose them to those who exploited them).
    let safe_phone_only = audience == Audience::Returnee
        && ctx.state(|s| {
            s.patches.safe_phone
                && s.case
                    .intake
                    .has(crate::domain::Vulnerability::VictimOfTrafficking)
        });
    let notice = Notice {
        idempotency_key: IdempotencyKey::Notice {
            reference: reference.clone(),
            template,
            n,
        }
        .into(),
        reference,
        template,
        audience,
        language,
        task: None,
        flight,
        safe_phone_only,
    };
    ctx.execute_activity(OutreachActivities::notify, notice, quick())
        .await?;
    Ok(())
}
