//! Stages 9-10: the hand-over to the reception partner, its confirmation that the returnees
//! arrived (escalated to operations when late or when they did not arrive), the baseline
//! survey, and the reintegration plan the partner submits and operations approve (or send
//! back).

use super::effects::{Ctx, Step, enter, notify, now, partner};
use super::record::ClosureReason;
use super::waits::{Ask, answer_within, ask, escalation_answered, open, retract};
use crate::activities::{Audience, HandOver, NoticeTemplate, OutreachActivities};
use crate::domain::{Stage, Vulnerability};
use crate::idempotency::IdempotencyKey;
use crate::tasks::{TaskOutcome, TaskType};

/// Hands the case over to the partner and waits for the reception confirmation; escalates when
/// it is late (operations keep waiting, or close the case as unreachable).
pub(super) async fn reception(ctx: &mut Ctx) -> Step<()> {
    enter(ctx, Stage::ArrivalReception).await?;
    let (record, deadline) = ctx.state(|s| {
        let order = s.facts.order.clone();
        let order_id = order
            .as_ref()
            .map(|o| o.order_id.clone())
            .unwrap_or_default();
        (
            HandOver {
                idempotency_key: IdempotencyKey::HandOver {
                    reference: s.case.reference.clone(),
                    order_id,
                }
                .into(),
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
                if let TaskOutcome::Arrival { received: true, .. } = answer.outcome {
                    if let Some(e) = escalation {
                        retract(ctx, e);
                    }
                    let at = now(ctx);
                    ctx.state_mut(|s| s.facts.arrived_at = Some(at));
                    return Ok(());
                }
                // Not received: the partner confirms again once the returnee is found, and
                // operations find out what happened.
                arrival = open(ctx, Ask::new(TaskType::ArrivalConfirmation).due(deadline));
                if escalation.is_none() {
                    escalation = Some(escalate(ctx).await?);
                }
                wait = None;
            }
            Some((_, answer)) => {
                escalation = None;
                escalation_answered(ctx, answer, arrival, ClosureReason::Unreachable)?;
            }
            None => {
                escalation = Some(escalate(ctx).await?);
                wait = None;
            }
        }
    }
}

/// Opens the reception escalation for operations and tells them.
async fn escalate(ctx: &mut Ctx) -> Step<u32> {
    let approval = ctx.state(|s| s.case.rules.deadlines.approval);
    let id = open(ctx, Ask::new(TaskType::ReceptionEscalation).due(approval));
    notify(ctx, NoticeTemplate::ReceptionOverdue, Audience::Operations).await?;
    Ok(id)
}

/// The partner submits the plan; operations approve it (never the partner who submitted), or
/// reject it for resubmission.
pub(super) async fn plan(ctx: &mut Ctx) -> Step<()> {
    enter(ctx, Stage::ReintegrationPlan).await?;
    let (deadline, approval) = ctx.state(|s| {
        (
            s.case.rules.deadlines.reintegration_plan,
            s.case.rules.deadlines.approval,
        )
    });
    // The survey as the assessment the plan is tailored to (a returnee not reached has none:
    // the plan goes ahead on the partner's own assessment).
    if ctx.state(|s| s.patches.rss_baseline && s.facts.baseline.is_none()) {
        let window = ctx.state(|s| s.case.rules.monitoring.survey_window);
        let survey = ask(ctx, Ask::new(TaskType::BaselineSurvey).due(window)).await?;
        if let TaskOutcome::Survey {
            answers: Some(answers),
            ..
        } = survey.outcome
        {
            let scores = answers.scores();
            ctx.state_mut(|s| s.facts.baseline = Some(scores));
        }
    }
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
            ctx.state_mut(|s| {
                s.facts.plan_approved_at = Some(at);
                // The costed budget the plan's tranches pay (`plan-budget`; the validator
                // refused lines in runs without it).
                if let TaskOutcome::Plan { lines, .. } = submitted.outcome {
                    s.facts.plan_lines = lines;
                }
            });
            return Ok(());
        }
    }
}
