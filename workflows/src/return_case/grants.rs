//! Stage 11: staged reintegration grants. For each tranche the partner verifies its milestone,
//! the programme's approver (finance or operations; never the verifier) approves, and the
//! payment goes out under a key derived from case and tranche, so it is made once at most. A
//! tranche counts as paid only once the provider confirms it (webhook or polling); a failed or
//! unconfirmed payment goes to finance, who try again or void the tranche.

use futures_util::future::{Either, select};
use temporalio_workflow::CancellableFuture;

use super::ReturnCase;
use super::effects::{
    Ctx, PATCH_TRANCHE_PAID_NOTICE, Step, failure_message, notify, now, partner, status_poll, store,
};
use super::record::PaymentRecord;
use super::waits::{Ask, Decision, ask, decide};
use crate::activities::{
    Audience, CaseOutcome, CaseStoreActivities, Disbursement, Invoice, NoticeTemplate,
    PaymentActivities, PaymentState, Receipt,
};
use crate::idempotency::IdempotencyKey;
use crate::programme::PaymentKind;
use crate::tasks::{TaskOutcome, TaskType};

/// The tranche at position `i` of the programme: verified, approved, paid once.
pub(super) async fn tranche(ctx: &mut Ctx, i: usize) -> Step<()> {
    let (t, reference, verify_in, approve_in) = ctx.state(|s| {
        let r = &s.case.rules;
        (
            r.tranches[i].clone(),
            s.case.reference.clone(),
            r.deadlines.milestone_verification,
            r.deadlines.approval,
        )
    });
    let subject = u32::try_from(i).unwrap_or(u32::MAX);
    let verified = ask(
        ctx,
        Ask::new(TaskType::MilestoneVerification)
            .due(verify_in)
            .subject(subject)
            .note(Some(t.milestone.clone())),
    )
    .await?;
    match verified.outcome {
        TaskOutcome::Milestone { reached: false, .. } => {
            ctx.state_mut(|s| s.facts.voided_tranches.push(t.name.clone()));
            return Ok(());
        }
        // The review proposes an amended budget: operations approve it (never the partner who
        // proposed it) before the tranche is paid from it.
        TaskOutcome::Milestone {
            amended_lines: Some(lines),
            ..
        } => {
            let answer = ask(
                ctx,
                Ask::new(TaskType::PlanApproval)
                    .due(approve_in)
                    .requested_by(&verified.actor)
                    .note(Some(format!("{}: amended plan", t.name))),
            )
            .await?;
            if let TaskOutcome::Approval { approved: true } = answer.outcome {
                ctx.state_mut(|s| s.facts.plan_lines = lines);
            }
        }
        _ => {}
    }
    let approval = ask(
        ctx,
        Ask::new(TaskType::TrancheApproval)
            .role(t.approver)
            .due(approve_in)
            .requested_by(&verified.actor)
            .subject(subject),
    )
    .await?;
    if let TaskOutcome::Approval { approved: false } = approval.outcome {
        ctx.state_mut(|s| s.facts.voided_tranches.push(t.name.clone()));
        return Ok(());
    }
    let mut amount = ctx.state(|s| s.tranche_grant(i));
    // In-kind support is bought from a supplier: finance record its invoice (at most what the
    // tranche grants; the validator checks), and the tranche pays that invoice to the supplier.
    let mut invoice = None;
    if t.kind == PaymentKind::InKind && ctx.state(|s| s.patches.supplier_invoices) {
        let recorded = ask(
            ctx,
            Ask::new(TaskType::SupplierInvoice)
                .due(approve_in)
                .subject(subject)
                .note(Some(format!(
                    "{}: up to {}.{:02} {}",
                    t.name,
                    amount.minor / 100,
                    amount.minor % 100,
                    amount.currency
                ))),
        )
        .await?;
        if let TaskOutcome::Invoice {
            supplier,
            invoice_reference,
            amount: invoiced,
        } = recorded.outcome
        {
            amount = invoiced;
            invoice = Some(Invoice {
                supplier,
                invoice_reference,
            });
        }
    }
    // The first attempt pays under `<ref>:tranche:<name>`; only a payment the provider reports
    // as failed is tried again, under a new key (`…:<attempt>`), since the old key would find
    // the failed payment.
    let mut attempt = 1u32;
    let mut waiting_on: Option<Receipt> = None;
    loop {
        let request = Disbursement {
            idempotency_key: IdempotencyKey::Tranche {
                reference: reference.clone(),
                tranche: t.name.clone(),
                attempt,
            }
            .into(),
            reference: reference.clone(),
            tranche: t.name.clone(),
            kind: t.kind,
            amount: amount.clone(),
            invoice: invoice.clone(),
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
                    // "Payment sent to you": only money that went to the returnee; in-kind
                    // support is bought by the office (runs before this rule told of both).
                    let to_returnee = t.kind == PaymentKind::Cash
                        || !ctx.state(|s| s.patches.paid_notice_cash_only);
                    if tell_returnee && to_returnee {
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
        let failed = Ask::new(TaskType::PaymentFailed)
            .subject(subject)
            .note(Some(problem));
        if let Decision::GiveUp(_) = decide(ctx, failed).await? {
            ctx.state_mut(|s| s.facts.voided_tranches.push(t.name.clone()));
            return Ok(());
        }
    }
}

/// Waits until the provider settles a payment: its webhook (the `payment_settled` signal)
/// wakes the case at once, which then asks the provider (runs recorded before
/// `protected-decisions` took the webhook's word); without one the case asks every
/// `payment_status_poll`. Answers `Pending` if `payment_confirmation` passes first. Not cut
/// short by a withdrawal or closure: money in flight is recorded before a case unwinds.
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
            if let Some(state) = ask_provider(ctx, id).await {
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
                if let Some(state) = ask_provider(ctx, id).await {
                    return Ok(state);
                }
            }
        }
    }
}

/// The provider's answer about a payment, if it has settled (`None`: still pending, or the
/// provider could not be asked).
async fn ask_provider(ctx: &Ctx, payment_id: &str) -> Option<PaymentState> {
    ctx.execute_activity(
        PaymentActivities::disbursement_status,
        payment_id.to_owned(),
        status_poll(),
    )
    .await
    .ok()
    .filter(|state| *state != PaymentState::Pending)
}
