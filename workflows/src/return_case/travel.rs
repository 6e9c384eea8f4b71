//! Stages 7-8: booking through the travel partner (operations approve a price over budget),
//! flight day (the airline may have cancelled or moved the flight), and the departure the
//! officer confirms. A refused booking, a cancelled flight or a no-show goes to operations, who
//! rebook (under a new key: never a second order for one attempt) or close the case.

use super::effects::{
    Ctx, PATCH_FLIGHT_DAY_CHECK, Step, enter, failure_message, notify, notify_flight, now, partner,
    status_poll,
};
use super::record::ClosureReason;
use super::waits::{Ask, answer_within, ask, decide, open, retract, sleep_until};
use crate::activities::{
    Audience, CancelRequest, FlightNotice, NoticeTemplate, OfferRequest, Order, OrderRequest,
    TravelActivities,
};
use crate::domain::Stage;
use crate::idempotency::IdempotencyKey;
use crate::rules;
use crate::tasks::{TaskCompletion, TaskOutcome, TaskType};

/// How the journey ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Journey {
    /// The returnee flew.
    Departed,
    /// The returnee changed their mind at the airport: the order is cancelled and the case goes
    /// back to counselling (patch `airport-change-of-mind`).
    ChangedMind,
}

/// Books a flight, waits for the day, and confirms departure; a failed booking or a missed
/// flight goes to operations, who rebook or close.
pub(super) async fn book_and_depart(ctx: &mut Ctx) -> Step<Journey> {
    confirm_receptions(ctx).await?;
    loop {
        enter(ctx, Stage::FlightBooking).await?;
        let attempt = ctx.state_mut(|s| {
            s.facts.booking_attempts += 1;
            s.facts.booking_attempts
        });
        let order = match book_flight(ctx, attempt).await? {
            Ok(order) => order,
            Err(note) => {
                let failed = Ask::new(TaskType::BookingFailed).note(Some(note));
                decide(ctx, failed)
                    .await?
                    .or_close(ctx, ClosureReason::TravelNotPossible)?;
                continue;
            }
        };
        ctx.state_mut(|s| s.facts.order = Some(order.clone()));
        if ctx.state(|s| s.patches.flight_details) {
            let flight = FlightNotice {
                departs_at: order.departs_at,
                office: ctx.state(|s| s.case.intake.host_country.clone()),
            };
            notify_flight(ctx, Audience::ReturnOfficer, flight.clone()).await?;
            notify_flight(ctx, Audience::Returnee, flight).await?;
        } else {
            notify(ctx, NoticeTemplate::FlightBooked, Audience::ReturnOfficer).await?;
            notify(ctx, NoticeTemplate::FlightBooked, Audience::Returnee).await?;
        }

        // 8. Departure: wait for the day, then for the officer's confirmation.
        enter(ctx, Stage::Departure).await?;
        sleep_until(ctx, order.departs_at).await?;
        // Flight day: the airline may have cancelled or moved the flight since the booking.
        // (Asked right after the timer, before any local activity in this workflow task.)
        if ctx.patched(PATCH_FLIGHT_DAY_CHECK)
            && let Some(note) = flight_day_check(ctx, &order).await?
        {
            cancel_order(ctx).await?;
            let failed = Ask::new(TaskType::BookingFailed).note(Some(note));
            decide(ctx, failed)
                .await?
                .or_close(ctx, ClosureReason::TravelNotPossible)?;
            continue;
        }
        let grace = ctx.state(|s| s.case.rules.deadlines.departure_grace);
        let confirm = open(ctx, Ask::new(TaskType::DepartureConfirmation).due(grace));
        let answer = answer_within(ctx, &[confirm], Some(grace.get())).await?;
        let outcome = answer
            .as_ref()
            .map(|(_, TaskCompletion { outcome, .. })| outcome);
        if let Some(TaskOutcome::Departure { departed: true, .. }) = outcome {
            let at = now(ctx);
            ctx.state_mut(|s| s.facts.departed_at = Some(at));
            return Ok(Journey::Departed);
        }
        // Voluntariness is re-confirmed on the day: a returnee who no longer wants to go is not a
        // no-show. Their seat is given up and the case goes back to counselling. (IOM, "A
        // Framework for Assisted Voluntary Return and Reintegration" (2018), principle
        // "Voluntariness": the decision must be free and informed, and stay so up to departure.)
        if let Some(TaskOutcome::Departure {
            changed_mind: true, ..
        }) = outcome
            && ctx.state(|s| s.patches.airport_change_of_mind)
        {
            cancel_order(ctx).await?;
            ctx.state_mut(|s| s.facts.changed_mind_at_airport += 1);
            return Ok(Journey::ChangedMind);
        }
        if answer.is_none() {
            retract(ctx, confirm);
        }
        // No-show: cancel what is booked, then operations rebook or close.
        cancel_order(ctx).await?;
        decide(ctx, Ask::new(TaskType::NoShow))
            .await?
            .or_close(ctx, ClosureReason::NoShow)?;
    }
}

/// Before booking, operations confirm the reception the returnee needs in the country of
/// origin (`rules::receptions_to_confirm`): asked until confirmed (a refusal names why, and the
/// next asks again: another facility or partner); operations may close the case instead.
async fn confirm_receptions(ctx: &mut Ctx) -> Step<()> {
    let (needed, due) = ctx.state(|s| {
        let needed = if s.patches.reception_confirmed {
            rules::receptions_to_confirm(&s.case.intake)
        } else {
            Vec::new()
        };
        (needed, s.case.rules.deadlines.approval)
    });
    for task in needed {
        while !ctx.state(|s| s.facts.receptions_confirmed.contains(&task)) {
            let answer = ask(ctx, Ask::new(task).due(due)).await?;
            if let TaskOutcome::Approval { approved: true } = answer.outcome {
                ctx.state_mut(|s| s.facts.receptions_confirmed.push(task));
            }
        }
    }
    Ok(())
}

/// One booking attempt: offers within the document's validity, operations' approval when over
/// budget, then the order under this attempt's key. `Ok(Err(note))` says why it failed.
async fn book_flight(ctx: &mut Ctx, attempt: u32) -> Step<Result<Order, String>> {
    let (request, budget) = ctx.state(|s| {
        let d = &s.case.rules.deadlines;
        let child_escort = s.patches.child_escort && rules::child_needs_escort(&s.case.intake);
        let travellers = rules::travellers(
            s.case.intake.household_size.get(),
            s.facts.medical_escort || child_escort,
        );
        (
            OfferRequest {
                reference: s.case.reference.clone(),
                from_country: s.case.intake.host_country.clone(),
                to_country: s.case.intake.origin_country.clone(),
                earliest: (s.now + d.booking_lead_time.chrono()).date_naive(),
                latest: rules::last_flight_day(s.facts.document_expires_on, d),
                travellers,
                medical_escort: s.facts.medical_escort,
                child_escort,
            },
            rules::booking_budget(&s.case.rules, travellers),
        )
    });
    let offers = ctx
        .execute_activity(TravelActivities::search_offers, request.clone(), partner())
        .await;
    let (offer, failure) = match offers {
        Ok(offers) => (
            rules::cheapest_offer(offers, request.latest),
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
                idempotency_key: IdempotencyKey::Booking {
                    reference: reference.clone(),
                    attempt,
                }
                .into(),
                reference,
                offer_id: offer.offer_id,
                escort_return_offer_id: offer.escort_return_offer_id,
            },
            partner(),
        )
        .await;
    Ok(order.map_err(|e| failure_message(&e)))
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

/// Cancels the current order, if any (idempotent: the key names the order).
pub(super) async fn cancel_order(ctx: &mut Ctx) -> Step<()> {
    let Some(order) = ctx.state(|s| s.facts.order.clone()) else {
        return Ok(());
    };
    let reference = ctx.state(|s| s.case.reference.clone());
    ctx.execute_activity(
        TravelActivities::cancel_order,
        CancelRequest {
            idempotency_key: IdempotencyKey::Cancel {
                reference,
                order_id: order.order_id.clone(),
            }
            .into(),
            order_id: order.order_id.clone(),
            escort_return_order_id: order.escort_return_order_id.clone(),
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
