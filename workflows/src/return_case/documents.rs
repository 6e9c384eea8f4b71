//! Stages 5-6: travel documents from the consulate (reminders, then an escalation to operations
//! when late), and the pre-embarkation fit-to-travel check of a medical case.

use super::effects::{Ctx, Step, enter, notify, now, quick};
use super::record::ClosureReason;
use super::waits::{Ask, answer_within, ask, decide, escalation_answered, open, retract, sleep};
use crate::activities::{Audience, NoticeTemplate, OutreachActivities};
use crate::domain::Stage;
use crate::rules;
use crate::tasks::{TaskOutcome, TaskType};

/// Waits for the travel document; reminds the consulate, escalates past the deadline
/// (operations keep waiting, or close the case).
pub(super) async fn travel_documents(ctx: &mut Ctx) -> Step<()> {
    enter(ctx, Stage::TravelDocuments).await?;
    let (deadline, every) = ctx.state(|s| {
        (
            s.case.rules.deadlines.travel_documents,
            s.case.rules.deadlines.document_reminder_every,
        )
    });
    let route = consulate_route(ctx).await?;
    if route.is_none() {
        notify(ctx, NoticeTemplate::DocumentsRequested, Audience::Consulate).await?;
    }
    let doc = open(
        ctx,
        Ask::new(TaskType::TravelDocument).due(deadline).note(route),
    );
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
                return Ok(());
            }
            Some((_, answer)) => {
                // Operations resolved the escalation: keep waiting, or close.
                escalation = None;
                escalation_answered(ctx, answer, doc, ClosureReason::TravelNotPossible)?;
            }
            None => {
                if escalation.is_none() && now(ctx) >= escalate_at {
                    let approval = ctx.state(|s| s.case.rules.deadlines.approval);
                    escalation = Some(open(
                        ctx,
                        Ask::new(TaskType::DocumentEscalation).due(approval),
                    ));
                    notify(ctx, NoticeTemplate::DocumentsOverdue, Audience::Operations).await?;
                } else if consulate_contacted(ctx) {
                    notify(ctx, NoticeTemplate::DocumentsReminder, Audience::Consulate).await?;
                }
            }
        }
    }
}

/// Whether the consulate may be asked for the travel document. `None` when it may (the request
/// goes out); otherwise why not, as the officer's note on the document task: they obtain it by
/// another route (the returnee's own passport, an application in person), and nothing is sent.
/// A trafficking victim's risk assessment comes first; then the principal applicant's consent.
/// Runs recorded before this check contact the consulate as they did.
async fn consulate_route(ctx: &mut Ctx) -> Step<Option<String>> {
    if !ctx.state(|s| s.patches.consulate_consent) {
        return Ok(None);
    }
    let why_not = if ctx.state(|s| rules::needs_risk_assessment(&s.case.intake)) {
        let answer = ask(ctx, Ask::new(TaskType::RiskAssessment)).await?;
        match answer.outcome {
            TaskOutcome::RiskAssessment {
                safe_to_contact_authorities: true,
            } => None,
            _ => Some(
                "The consulate is not contacted: the risk assessment found contact unsafe. \
                 Obtain the travel document by another route.",
            ),
        }
    } else {
        None
    };
    let why_not = match why_not {
        Some(reason) => Some(reason),
        None => {
            let reference = ctx.state(|s| s.case.reference.clone());
            let agreed = ctx
                .execute_activity(
                    OutreachActivities::consulate_contact_agreed,
                    reference,
                    quick(),
                )
                .await?;
            (!agreed).then_some(
                "The consulate is not contacted: the returnee has not agreed to it (person \
                 record, consent for the consulate). Record their consent, or obtain the \
                 travel document by another route.",
            )
        }
    };
    ctx.state_mut(|s| s.facts.consulate_contact = Some(why_not.is_none()));
    Ok(why_not.map(str::to_owned))
}

/// Whether this case has asked the consulate for a document (so may remind it, or tell it of a
/// cancellation). Runs recorded before the check wrote to it regardless.
pub(super) fn consulate_contacted(ctx: &Ctx) -> bool {
    ctx.state(|s| !s.patches.consulate_consent || s.facts.consulate_contact == Some(true))
}

/// The pre-embarkation medical check of a medical case, until the returnee is fit to fly
/// (noting whether a medical escort must fly along). Found unfit, the journey is deferred: the
/// next assessment after the programme's interval; after its limit of unfit assessments in a
/// row, operations defer again or close the case (travel not possible).
pub(super) async fn fit_to_travel(ctx: &mut Ctx) -> Step<()> {
    if !ctx.state(|s| rules::needs_fit_to_travel(&s.case.intake)) {
        return Ok(());
    }
    enter(ctx, Stage::FitToTravel).await?;
    let (due, medical, deferral, clearance) = ctx.state(|s| {
        (
            s.case.rules.deadlines.fit_to_travel,
            s.case.rules.medical.clone(),
            s.patches.medical_deferral,
            s.patches.medical_clearance,
        )
    });
    let mut unfit = 0;
    loop {
        let answer = ask(ctx, Ask::new(TaskType::FitToTravel).due(due)).await?;
        if let TaskOutcome::FitToTravel {
            fit: true,
            medical_escort,
        } = answer.outcome
        {
            ctx.state_mut(|s| s.facts.medical_escort = medical_escort);
            // Fit with conditions: the airline clears the passenger first (IATA, "Medical
            // Manual", www.iata.org/en/publications/medical-manual: the Medical Information Form,
            // MEDIF, with which a carrier's medical service clears a passenger who needs medical
            // attention or an escort on board). Refused, it counts as unfit.
            if !(medical_escort && clearance) {
                return Ok(());
            }
            let cleared = ask(ctx, Ask::new(TaskType::MedicalClearance).due(due)).await?;
            if let TaskOutcome::Approval { approved: true } = cleared.outcome {
                return Ok(());
            }
        }
        if !deferral {
            continue;
        }
        unfit += 1;
        if unfit >= medical.max_deferrals {
            let note = format!("Unfit to travel at {unfit} assessments in a row.");
            decide(ctx, Ask::new(TaskType::MedicalEscalation).note(Some(note)))
                .await?
                .or_close(ctx, ClosureReason::TravelNotPossible)?;
            unfit = 0;
        }
        sleep(ctx, medical.reassess_after.get()).await?;
    }
}
