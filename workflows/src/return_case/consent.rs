//! Stages 2-4: counselling until the returnee decides, informed consent (every member who
//! signs; for an unaccompanied child first the family assessment at origin and the
//! best-interests determination, then the child's views and the guardian's consent), and
//! operations' eligibility approval. Consent not given in time counts as undecided and goes
//! back to counselling.

use super::effects::{Ctx, Step, closed, enter, notify, now};
use super::record::ClosureReason;
use super::waits::{Ask, answer_within, ask, open, retract};
use crate::activities::{Audience, NoticeTemplate};
use crate::domain::{Stage, Vulnerability};
use crate::rules;
use crate::tasks::{Actor, CounsellingDecision, Role, TaskOutcome, TaskType};

/// Counselling, then consent, again until consent is given in time. Returns the officer who
/// recorded "wants to return" (who then may not approve eligibility).
pub(super) async fn counsel_until_consent(ctx: &mut Ctx) -> Step<Actor> {
    loop {
        let officer = counsel(ctx).await?;
        if consent(ctx, &officer).await? == Consent::Given {
            return Ok(officer);
        }
    }
}

/// Counselling sessions until a decision: the officer who recorded "wants to return", or the
/// case closes when the returnee does not want to.
async fn counsel(ctx: &mut Ctx) -> Step<Actor> {
    enter(ctx, Stage::Counselling).await?;
    loop {
        let answer = ask(ctx, Ask::new(TaskType::CounsellingSession)).await?;
        match answer.outcome {
            TaskOutcome::Counselling {
                decision: CounsellingDecision::WantsToReturn,
            } => return Ok(answer.actor),
            TaskOutcome::Counselling {
                decision: CounsellingDecision::DoesNotWantToReturn,
            } => {
                return closed(
                    ctx,
                    ClosureReason::DoesNotWantToReturn,
                    answer.actor,
                    answer.reason,
                );
            }
            // Undecided: another session.
            _ => continue,
        }
    }
}

/// How the consent stage ended (a refusal closes the case).
#[derive(PartialEq, Eq)]
enum Consent {
    Given,
    Expired,
}

/// Declarations from every member who signs, and for an unaccompanied child the protection
/// gates, all within the consent deadline; an unaccompanied child's assessments come first, each
/// with its own deadline (`child-sequence`).
async fn consent(ctx: &mut Ctx, officer: &Actor) -> Step<Consent> {
    enter(ctx, Stage::Consent).await?;
    let sequenced = ctx.state(|s| s.patches.child_sequence);
    if sequenced {
        assess_child(ctx, officer).await?;
    }
    let (signers, gates, umc, deadline) = ctx.state(|s| {
        let intake = &s.case.intake;
        (
            rules::signers(&intake.members()),
            rules::child_protection_gates(intake, sequenced),
            intake.has(Vulnerability::UnaccompaniedChild),
            s.case.rules.deadlines.consent,
        )
    });
    let mut pending: Vec<u32> = Vec::new();
    for subject in signers {
        pending.push(open(
            ctx,
            Ask::new(TaskType::Consent).due(deadline).subject(subject),
        ));
    }
    let child = ctx.state(|s| {
        s.case
            .intake
            .members()
            .iter()
            .position(|m| {
                m.vulnerabilities
                    .contains(&Vulnerability::UnaccompaniedChild)
            })
            .and_then(|i| u32::try_from(i).ok())
    });
    for gate in gates {
        let mut ask = Ask::new(gate).due(deadline);
        if !sequenced {
            // Runs recorded before the sequence asked the officer for all three gates.
            ask = ask.role(Role::ReturnOfficer);
        }
        if let (TaskType::ChildViews, Some(child)) = (gate, child) {
            ask = ask.subject(child);
        }
        pending.push(open(ctx, ask));
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
                        | TaskOutcome::ChildViews {
                            heard: true,
                            wants_to_return: false
                        }
                );
                if refused {
                    for id in pending {
                        retract(ctx, id);
                    }
                    let child_refused = matches!(answer.outcome, TaskOutcome::ChildViews { .. });
                    let reason = if umc && !child_refused {
                        ClosureReason::NotInChildsBestInterests
                    } else {
                        ClosureReason::DoesNotWantToReturn
                    };
                    return closed(ctx, reason, answer.actor, answer.reason);
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

/// An unaccompanied child's family assessment in the country of origin, then the best-interests
/// determination by a designated child protection officer (never the officer who asked), one
/// after the other and each with its own deadline (`rules::child_assessments`); either against
/// return closes the case. Asked once: a consent asked again after it expired does not repeat
/// them.
async fn assess_child(ctx: &mut Ctx, officer: &Actor) -> Step<()> {
    let (assessments, done) = ctx.state(|s| {
        (
            rules::child_assessments(&s.case.intake),
            s.facts.child_assessed,
        )
    });
    if done || assessments.is_empty() {
        return Ok(());
    }
    for assessment in assessments {
        let answer = ask(ctx, Ask::new(assessment).requested_by(officer)).await?;
        if let TaskOutcome::Assessment {
            supports_return: false,
        } = answer.outcome
        {
            return closed(
                ctx,
                ClosureReason::NotInChildsBestInterests,
                answer.actor,
                answer.reason,
            );
        }
    }
    ctx.state_mut(|s| s.facts.child_assessed = true);
    Ok(())
}

/// Operations approve eligibility, never the officer who asked; a refusal closes the case.
pub(super) async fn eligibility(ctx: &mut Ctx, officer: &Actor) -> Step<()> {
    enter(ctx, Stage::EligibilityApproval).await?;
    let due = ctx.state(|s| s.case.rules.deadlines.approval);
    let answer = ask(
        ctx,
        Ask::new(TaskType::EligibilityApproval)
            .due(due)
            .requested_by(officer),
    )
    .await?;
    if let TaskOutcome::Approval { approved: false } = answer.outcome {
        return closed(ctx, ClosureReason::Ineligible, answer.actor, answer.reason);
    }
    Ok(())
}
