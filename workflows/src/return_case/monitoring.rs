//! Stages 11-13 after the continue-as-new: the reintegration timeline (each tranche and
//! follow-up at its date, in order), monitoring follow-ups scored with the RSS (low scores open
//! referrals; an unreachable returnee is tried again, then escalated to operations), and the
//! end of the support period.

use super::effects::{Ctx, Step, closure, interrupted, now, store};
use super::grants::tranche;
use super::record::{Closure, ClosureReason, ScoreRecord};
use super::waits::{
    Ask, Decision, answer_within, decide, open, retract, sleep, sleep_until, take_answer,
};
use crate::activities::{CaseOutcome, CaseStoreActivities};
use crate::domain::Stage;
use crate::rules::{self, Milestone};
use crate::tasks::{Actor, TaskCompletion, TaskOutcome, TaskType};

/// Staged grants and monitoring until the support period ends.
pub(super) async fn reintegrate(ctx: &mut Ctx) -> Step<Closure> {
    super::effects::enter(ctx, Stage::Reintegration).await?;
    let (programme, arrived, plan_approved) = ctx.state(|s| {
        (
            s.case.rules.clone(),
            s.facts.arrived_at.unwrap_or(s.now),
            s.facts.plan_approved_at.unwrap_or(s.now),
        )
    });
    for (at, milestone) in rules::reintegration_timeline(&programme, arrived, plan_approved) {
        sleep_until(ctx, at).await?;
        match milestone {
            Milestone::Tranche(i) => tranche(ctx, i).await?,
            Milestone::FollowUp(i) => follow_up(ctx, i).await?,
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
    sleep_until(ctx, arrived + programme.support_period.chrono()).await?;
    Ok(closure(
        ctx,
        ClosureReason::SupportPeriodEnded,
        Actor::system(),
        "support period ended",
    ))
}

/// The follow-up at position `i`: the survey, tried again when the returnee cannot be reached,
/// then escalated (operations keep the case, or close it as unreachable). Low scores open
/// referrals.
async fn follow_up(ctx: &mut Ctx, i: usize) -> Step<()> {
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
    loop {
        if survey_round(ctx, subject, window, retries, retry_after, threshold).await? {
            return Ok(());
        }
        // Unreachable after every try: operations follow up, and may have it tried again.
        let escalation = Ask::new(TaskType::MonitoringEscalation).subject(subject);
        match decide(ctx, escalation).await? {
            Decision::Retry if ctx.state(|s| s.patches.follow_up_retry) => continue,
            decision => return decision.or_close(ctx, ClosureReason::Unreachable),
        }
    }
}

/// One round of tries at the follow-up survey (the first and the programme's retries); `true`
/// once the returnee was reached and scored (low scores open referrals).
async fn survey_round(
    ctx: &mut Ctx,
    subject: u32,
    window: crate::programme::Span,
    retries: u32,
    retry_after: crate::programme::Span,
    threshold: f64,
) -> Step<bool> {
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
                for dimension in rules::referrals(&scores, threshold) {
                    open(
                        ctx,
                        Ask::new(TaskType::Referral).due(due).subject(dimension),
                    );
                }
                return Ok(true);
            }
            Some(_) => {}
            None => retract(ctx, survey),
        }
    }
    Ok(false)
}
