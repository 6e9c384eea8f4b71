//! The end of a case: recording its closure, and before that, for a withdrawn or early-closed
//! case, the saga that unwinds what was done (cancel the booking, void unpaid tranches, tell
//! the partner or consulate). Each compensation is idempotent.

use temporalio_workflow::WorkflowResult;

use super::effects::{Ctx, Halt, Step, closure, notify, record_stage};
use super::record::{Closure, ClosureReason, Compensation, Interrupt};
use super::travel::cancel_order;
use super::waits::{record_decisions, retract};
use crate::activities::{Audience, NoticeTemplate};
use crate::domain::Stage;
use crate::rules;
use crate::tasks::Actor;

/// Records the closure and ends the run: open tasks are withdrawn, the case store learns.
pub(super) async fn close(ctx: &mut Ctx, closure: Closure) -> WorkflowResult<Closure> {
    match record_decisions(ctx).await {
        Ok(()) | Err(Halt::Interrupted | Halt::Closed(_)) => {}
        Err(Halt::Engine(t)) => return Err(t),
    }
    let open: Vec<u32> = ctx.state(|s| s.tasks.iter().map(|t| t.id).collect());
    for id in open {
        retract(ctx, id);
    }
    ctx.state_mut(|s| s.closure = Some(closure.clone()));
    let at = closure.at;
    ctx.state_mut(|s| s.stage = Stage::Closed);
    super::visibility::refresh(ctx);
    super::projection::project(ctx).await?;
    record_stage(ctx, Stage::Closed, at).await?;
    Ok(closure)
}

/// Unwinds a withdrawn or early-closed case, then closes it.
pub(super) async fn unwind(ctx: &mut Ctx) -> WorkflowResult<Closure> {
    let interrupt = ctx.state(|s| s.interrupt.clone());
    let (reason, by, note) = match interrupt {
        Some(Interrupt::Withdrawn { by, reason }) => (ClosureReason::ConsentWithdrawn, by, reason),
        Some(Interrupt::ClosedEarly { by, reason, note }) => (reason, by, note),
        None => (ClosureReason::OptedOut, Actor::system(), String::new()),
    };
    // Compensations must run even though the case is interrupted; clear the flag so the
    // primitives do not stop them, and keep the record in the decisions.
    ctx.state_mut(|s| s.interrupt = None);
    match compensate(ctx).await {
        Ok(()) | Err(Halt::Interrupted | Halt::Closed(_)) => {}
        Err(Halt::Engine(t)) => return Err(t),
    }
    let c = closure(ctx, reason, by, note);
    close(ctx, c).await
}

/// The compensations, in order.
async fn compensate(ctx: &mut Ctx) -> Step<()> {
    if let Some(order) = ctx.state(|s| s.facts.order.clone()) {
        cancel_order(ctx).await?;
        ctx.state_mut(|s| {
            s.facts.compensations.push(Compensation::OrderCancelled {
                order_id: order.order_id.clone(),
            })
        });
    }
    let unpaid = ctx.state(|s| {
        rules::unpaid_tranches(&s.case.rules, &s.facts.payments, &s.facts.voided_tranches)
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
        Some(Audience::Partner)
    } else if super::documents::consulate_contacted(ctx) {
        Some(Audience::Consulate)
    } else {
        // A consulate never asked is not told either.
        None
    };
    if let Some(audience) = audience {
        notify(ctx, NoticeTemplate::ReturnCancelled, audience).await?;
        ctx.state_mut(|s| s.facts.compensations.push(Compensation::PartnerNotified));
    }
    Ok(())
}
