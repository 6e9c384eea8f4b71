//! Partner integrations as traits (travel, payments, outreach), the activities over them, and
//! the one mapping of partner failures onto Temporal's retries ([`PartnerError`]).
//!
//! Production implements the traits with the HTTP clients (`http_partners.rs`); development
//! and tests with the in-process ledger of `homeward-devkit`, which keeps the same idempotency
//! guarantees a real partner gives. Workflows see only the contracts in
//! `homeward_workflows::activities`; the wire formats are in `wire.rs`.

use std::sync::Arc;
use std::time::Duration;

use temporalio_common::error::ApplicationFailure;
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use homeward_workflows::activities::{
    Audience, CancelRequest, Disbursement, HandOver, Notice, NoticeTemplate, Offer, OfferRequest,
    Order, OrderRequest, OrderStatus, PaymentState, Receipt, markers,
};
use homeward_workflows::idempotency::{ESCORT_RETURN, IdempotencyKey};

use crate::consulate_pack::ConsulatePack;
use crate::notices::{Channel, Message, Templates};
use crate::offices::Offices;
use crate::sharing::{self, Shared};
use crate::store::StoreError;
use crate::suppliers::Supplier;
use crate::travel::{NamedPassenger, OfferPassenger, Routes, Search};
use crate::vault::{Vault, VaultError};
use homeward_workflows::domain::CaseRef;
use homeward_workflows::person::Purpose;

/// A partner call's failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PartnerError {
    /// Worth retrying: a timeout, a connection error, a 429 or a 5xx.
    #[error("{partner} is unavailable: {message}")]
    Unavailable {
        /// Which partner.
        partner: &'static str,
        /// What happened (no personal data).
        message: String,
        /// The partner's Retry-After, if it sent one.
        retry_after: Option<Duration>,
    },
    /// Not worth retrying: the partner refused the request (a 4xx). A human must look.
    #[error("{partner} refused the request: {message}")]
    Refused {
        /// Which partner.
        partner: &'static str,
        /// The partner's own error message.
        message: String,
    },
}

impl PartnerError {
    /// The one place that maps partner failures onto Temporal's retry semantics.
    pub fn into_activity_error(self) -> ActivityError {
        match &self {
            PartnerError::Unavailable { retry_after, .. } => {
                let failure = ApplicationFailure::builder(self.clone())
                    .type_name("PartnerUnavailable".to_owned())
                    .maybe_next_retry_delay(*retry_after)
                    .build();
                ActivityError::application(failure)
            }
            PartnerError::Refused { .. } => ActivityError::application(
                ApplicationFailure::builder(self)
                    .type_name("PartnerRefused".to_owned())
                    .non_retryable(true)
                    .build(),
            ),
        }
    }
}

/// The travel partner (offers, orders, cancellations).
#[async_trait::async_trait]
pub trait TravelPartner: Send + Sync {
    /// Offers for a route, window and party.
    async fn search_offers(&self, search: &Search) -> Result<Vec<Offer>, PartnerError>;
    /// The passengers an offer is for, with the ids an order names them by.
    async fn offer_passengers(&self, offer_id: &str) -> Result<Vec<OfferPassenger>, PartnerError>;
    /// Books an offer under an idempotency key, naming the `passengers` who agreed to share
    /// their data with the travel partner (the rest travel as anonymous seats).
    async fn create_order(
        &self,
        request: &OrderRequest,
        passengers: &[NamedPassenger],
    ) -> Result<Order, PartnerError>;
    /// Cancels an order; cancelling twice succeeds.
    async fn cancel_order(&self, request: &CancelRequest) -> Result<(), PartnerError>;
    /// Fetches an order's status (a rebooking or a cancelled flight shows here first).
    async fn order_status(&self, order_id: &str) -> Result<OrderStatus, PartnerError>;
}

/// The payment provider.
#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync {
    /// Pays under an idempotency key; the same key never pays twice. `beneficiary`: the
    /// principal applicant, if they agreed to share with the provider.
    async fn disburse(
        &self,
        request: &Disbursement,
        beneficiary: Option<&Shared>,
        supplier: Option<&Supplier>,
    ) -> Result<Receipt, PartnerError>;
    /// Fetches a disbursement's state by the provider's payment id.
    async fn disbursement_status(&self, payment_id: &str) -> Result<PaymentState, PartnerError>;
}

/// Notifications and the reception partner.
#[async_trait::async_trait]
pub trait Outreach: Send + Sync {
    /// Sends a rendered notice through the gateway.
    /// Sends a rendered notice through the gateway; an SMS goes to `phone` (E.164, read from the
    /// person record at send time), an e-mail to the audience the gateway knows.
    async fn notify(&self, message: &Message, phone: Option<&str>) -> Result<(), PartnerError>;
    /// Sends the hand-over record to the reception partner, with the `people` who agreed to
    /// share with it.
    async fn hand_over(&self, record: &HandOver, people: &[Shared]) -> Result<(), PartnerError>;
}

/// The partners a worker talks to, and the texts of what it tells them.
#[derive(Clone)]
pub struct Partners {
    /// Travel.
    pub travel: Arc<dyn TravelPartner>,
    /// Payments.
    pub payments: Arc<dyn PaymentProvider>,
    /// Notifications and reception.
    pub outreach: Arc<dyn Outreach>,
    /// Notice texts by template and language.
    pub templates: Arc<Templates>,
    /// The offices' departure airports and the countries' arrival airports.
    pub routes: Arc<Routes>,
    /// The offices' contact details (the consulate request pack names the requesting office's).
    pub offices: Arc<Offices>,
}

/// Runs a partner call, heartbeating every few seconds so the server notices a hung worker and
/// a cancelled activity learns of it; the call itself is bounded by the client's timeout.
async fn heartbeating<T>(ctx: &ActivityContext, call: impl std::future::Future<Output = T>) -> T {
    let mut call = std::pin::pin!(call);
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    loop {
        tokio::select! {
            out = &mut call => return out,
            _ = tick.tick() => {
                let _ = ctx.record_heartbeat("waiting for partner".to_owned()).await;
            }
        }
    }
}

/// A configuration or projection gap the operator fixes (retried until then): named by key and
/// case, never by a value.
fn not_ready(message: String) -> ActivityError {
    PartnerError::Unavailable {
        partner: "outreach",
        message,
        retry_after: None,
    }
    .into_activity_error()
}

/// A notice rendered for the gateway, with what is worked out at send time (never from the
/// workflow's history): a flight's local date, time, airport and meeting point; a consulate's
/// language (its country's, the case's origin in the case store); the consulate's request pack
/// for the request for travel documents (the members who agreed to share with the consulate,
/// read and audited now; none agreed: no pack); and for an SMS the returnee's phone (none on
/// record: the officer is told instead). Answers the message and the phone to text.
pub async fn prepare_notice(
    partners: &Partners,
    vault: &Vault,
    mut notice: Notice,
) -> Result<(Message, Option<String>), ActivityError> {
    // A flight's date, time, airport and meeting point are worked out now, from the office's
    // configuration (an office without an airport booked nothing, so this is a retried
    // configuration error the operator fixes).
    let flight = match &notice.flight {
        Some(f) => Some(partners.routes.flight_text(f).map_err(not_ready)?),
        None => None,
    };
    let mut pack_office = None;
    if notice.audience == Audience::Consulate {
        let case = vault
            .store()
            .get_case(&notice.reference)
            .await
            .map_err(StoreError::into_activity_error)?;
        if let Some(language) = case
            .as_ref()
            .and_then(|c| partners.templates.consulate_language(&c.origin_country))
        {
            notice.language = Some(language.clone());
        }
        if notice.template == NoticeTemplate::DocumentsRequested {
            // The requesting office is the case's: checked before anyone's data is read.
            let case = case.ok_or_else(|| {
                not_ready(format!(
                    "case {} is not in the case store",
                    notice.reference
                ))
            })?;
            let office = partners
                .offices
                .contact(&case.host_country)
                .ok_or_else(|| {
                    not_ready(format!(
                        "no contact for office {0}: configure offices.{0} (name, email, phone)",
                        case.host_country
                    ))
                })?;
            pack_office = Some(office.clone());
        }
    }
    let mut message = partners.templates.render_flight(&notice, flight.as_ref());
    if let Some(office) = pack_office {
        let members = sharing::for_purpose(vault, &notice.reference, Purpose::Consulate)
            .await
            .map_err(vault_error)?;
        if !members.is_empty() {
            let pack = ConsulatePack {
                reference: notice.reference.clone(),
                language: message.language.clone(),
                office,
                members,
            };
            message.attachments.push(pack.attachment());
        }
    }
    let phone = if message.channel == Channel::Sms {
        match sharing::principal_phone(vault, &notice.reference, notice.safe_phone_only)
            .await
            .map_err(vault_error)?
        {
            Ok(phone) => Some(phone),
            // No number on record, or not one a protected returnee confirmed safe: the officer
            // is told, and passes it on.
            Err(why) => {
                message = partners.templates.for_officer_instead(&message, why);
                None
            }
        }
    } else {
        None
    };
    Ok((message, phone))
}

/// The partner activities registered with the worker.
pub struct PartnerActivities {
    /// The partners behind them.
    partners: Partners,
    /// Where they read, at call time, what a partner may receive of a person.
    vault: Vault,
}

/// A vault failure as an activity error: the store's own mapping; a key that does not open the
/// record is not worth retrying (a person must look).
fn vault_error(e: VaultError) -> ActivityError {
    match e {
        VaultError::Store(e) => e.into_activity_error(),
        other => StoreError::Corrupt {
            column: "people",
            problem: other.to_string(),
        }
        .into_activity_error(),
    }
}

impl PartnerActivities {
    /// Wraps the partners.
    pub fn new(partners: Partners, vault: Vault) -> Self {
        Self { partners, vault }
    }

    /// The members `purpose` may receive, read now (never from the workflow's history).
    async fn shared(
        &self,
        reference: &CaseRef,
        purpose: Purpose,
    ) -> Result<Vec<Shared>, ActivityError> {
        sharing::for_purpose(&self.vault, reference, purpose)
            .await
            .map_err(vault_error)
    }
}

#[activities]
impl PartnerActivities {
    #[activity(definition = markers::SearchOffers)]
    pub async fn search_offers(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: OfferRequest,
    ) -> Result<Vec<Offer>, ActivityError> {
        let people = self
            .shared(&request.reference, Purpose::TravelPartner)
            .await?;
        let search = self
            .partners
            .routes
            .search(&request, &people)
            .map_err(PartnerError::into_activity_error)?;
        let mut offers = heartbeating(&ctx, self.partners.travel.search_offers(&search))
            .await
            .map_err(PartnerError::into_activity_error)?;
        // An escort (medical, or a child's) flies home after the hand-over: priced and booked
        // with the party.
        if request.medical_escort || request.child_escort {
            let home = crate::travel::escort_return_search(&search);
            let returns = heartbeating(&ctx, self.partners.travel.search_offers(&home))
                .await
                .map_err(PartnerError::into_activity_error)?;
            offers = crate::travel::with_escort_returns(offers, &returns);
        }
        offers.sort_by_key(|o| o.total.minor);
        Ok(offers)
    }

    #[activity(definition = markers::CreateOrder)]
    pub async fn create_order(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: OrderRequest,
    ) -> Result<Order, ActivityError> {
        let people = self
            .shared(&request.reference, Purpose::TravelPartner)
            .await?;
        let travel = &self.partners.travel;
        let passengers = heartbeating(&ctx, travel.offer_passengers(&request.offer_id))
            .await
            .and_then(|offer| crate::travel::name_passengers(&offer, &people))
            .map_err(PartnerError::into_activity_error)?;
        let mut order = heartbeating(
            &ctx,
            self.partners.travel.create_order(&request, &passengers),
        )
        .await
        .map_err(PartnerError::into_activity_error)?;
        // The escort's flight home: its own order (the escort's seat, like the outbound one, is
        // named by the office with the partner), under the booking's key and `:escort-return`.
        if let Some(home) = &request.escort_return_offer_id {
            let return_request = OrderRequest {
                idempotency_key: format!("{}{ESCORT_RETURN}", request.idempotency_key),
                reference: request.reference.clone(),
                offer_id: home.clone(),
                escort_return_offer_id: None,
            };
            match heartbeating(&ctx, travel.create_order(&return_request, &[])).await {
                Ok(back) => {
                    order.total.minor = order.total.minor.saturating_add(back.total.minor);
                    order.escort_return_order_id = Some(back.order_id);
                }
                Err(e @ PartnerError::Refused { .. }) => {
                    // Never an escort out without a way home: undo the outbound order.
                    let undo = CancelRequest {
                        idempotency_key: IdempotencyKey::Cancel {
                            reference: request.reference.clone(),
                            order_id: order.order_id.clone(),
                        }
                        .into(),
                        order_id: order.order_id.clone(),
                        escort_return_order_id: None,
                    };
                    heartbeating(&ctx, travel.cancel_order(&undo))
                        .await
                        .map_err(PartnerError::into_activity_error)?;
                    return Err(e.into_activity_error());
                }
                Err(e) => return Err(e.into_activity_error()),
            }
        }
        tracing::info!(case = %request.reference, order = %order.order_id, "flight booked");
        Ok(order)
    }

    #[activity(definition = markers::CancelOrder)]
    pub async fn cancel_order(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: CancelRequest,
    ) -> Result<(), ActivityError> {
        heartbeating(&ctx, self.partners.travel.cancel_order(&request))
            .await
            .map_err(PartnerError::into_activity_error)?;
        // The escort's flight home goes with it.
        if let Some(home) = &request.escort_return_order_id {
            let back = CancelRequest {
                idempotency_key: format!("{}{ESCORT_RETURN}", request.idempotency_key),
                order_id: home.clone(),
                escort_return_order_id: None,
            };
            heartbeating(&ctx, self.partners.travel.cancel_order(&back))
                .await
                .map_err(PartnerError::into_activity_error)?;
        }
        Ok(())
    }

    #[activity(definition = markers::FetchOrder)]
    pub async fn fetch_order(
        self: Arc<Self>,
        ctx: ActivityContext,
        order_id: String,
    ) -> Result<OrderStatus, ActivityError> {
        heartbeating(&ctx, self.partners.travel.order_status(&order_id))
            .await
            .map_err(PartnerError::into_activity_error)
    }

    #[activity(definition = markers::Disburse)]
    pub async fn disburse(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: Disbursement,
    ) -> Result<Receipt, ActivityError> {
        // The principal applicant (member 0) is the beneficiary.
        let shared = self
            .shared(&request.reference, Purpose::PaymentProvider)
            .await?;
        let beneficiary = shared.iter().find(|s| s.member == 0);
        // In kind: the supplier the invoice names, read from the register now (its account
        // never enters history). One no longer registered is for finance to resolve.
        let supplier = match &request.invoice {
            Some(invoice) => Some(
                self.vault
                    .store()
                    .supplier(&invoice.supplier)
                    .await
                    .map_err(StoreError::into_activity_error)?
                    .ok_or_else(|| {
                        PartnerError::Refused {
                            partner: "payments",
                            message: format!(
                                "supplier {} is not registered: record the invoice again",
                                invoice.supplier
                            ),
                        }
                        .into_activity_error()
                    })?,
            ),
            None => None,
        };
        let receipt = heartbeating(
            &ctx,
            self.partners
                .payments
                .disburse(&request, beneficiary, supplier.as_ref()),
        )
        .await
        .map_err(PartnerError::into_activity_error)?;
        tracing::info!(case = %request.reference, tranche = %request.tranche,
                       state = ?receipt.state, "tranche disbursed");
        Ok(receipt)
    }

    #[activity(definition = markers::DisbursementStatus)]
    pub async fn disbursement_status(
        self: Arc<Self>,
        ctx: ActivityContext,
        payment_id: String,
    ) -> Result<PaymentState, ActivityError> {
        heartbeating(
            &ctx,
            self.partners.payments.disbursement_status(&payment_id),
        )
        .await
        .map_err(PartnerError::into_activity_error)
    }

    #[activity(definition = markers::Notify)]
    pub async fn notify(
        self: Arc<Self>,
        ctx: ActivityContext,
        notice: Notice,
    ) -> Result<(), ActivityError> {
        let (message, phone) = prepare_notice(&self.partners, &self.vault, notice).await?;
        heartbeating(
            &ctx,
            self.partners.outreach.notify(&message, phone.as_deref()),
        )
        .await
        .map_err(PartnerError::into_activity_error)?;
        // The template, language and number of files only: never the text or a recipient.
        tracing::info!(case = %message.notice.reference, template = %message.notice.template,
                       language = %message.language, attachments = message.attachments.len(),
                       "notice sent");
        Ok(())
    }

    #[activity(definition = markers::HandOver)]
    pub async fn hand_over(
        self: Arc<Self>,
        ctx: ActivityContext,
        record: HandOver,
    ) -> Result<(), ActivityError> {
        let people = self
            .shared(&record.reference, Purpose::ReceptionPartner)
            .await?;
        heartbeating(&ctx, self.partners.outreach.hand_over(&record, &people))
            .await
            .map_err(PartnerError::into_activity_error)
    }

    #[activity(definition = markers::ConsulateContactAgreed)]
    pub async fn consulate_contact_agreed(
        self: Arc<Self>,
        _ctx: ActivityContext,
        reference: CaseRef,
    ) -> Result<bool, ActivityError> {
        let agreed = sharing::principal_agrees(&self.vault, &reference, Purpose::Consulate)
            .await
            .map_err(vault_error)?;
        tracing::info!(case = %reference, agreed, "consent to contact the consulate checked");
        Ok(agreed)
    }
}
