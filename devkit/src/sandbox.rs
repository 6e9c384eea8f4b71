//! The partner sandbox: one HTTP server that plays the travel, payment and outreach partners,
//! backed by a [`LocalLedger`], with realistic delays and fault injection. It reads and answers
//! the very structs Homeward's clients send and read (`homeward_activities::wire`), and turns
//! them into the ledger's domain types here, refusing what it cannot read with a 4xx that names
//! the field. `homeward sandbox` runs it alone; `homeward dev` runs it beside the stack, so a
//! new user sees complete cases without any outside account. `GET /ledger` ([`LedgerView`])
//! shows what was booked and paid, so tests and benchmarks can prove there are no duplicates.

// Handlers short-circuit with a ready axum `Response` as their error, as axum intends.
#![allow(clippy::result_large_err)]

use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use homeward_activities::http_partners::{message_receipts, payment_webhook};
use homeward_activities::notices::{Attachment, Channel, Message};
use homeward_activities::partners::{Outreach, PartnerError, PaymentProvider, TravelPartner};
use homeward_activities::sharing::Shared;
use homeward_activities::suppliers::Supplier;
use homeward_activities::travel::{NamedPassenger, Search};
use homeward_activities::wire::{self, Data, from_minor, outreach, payments, to_minor, travel};
use homeward_workflows::activities::{
    CancelRequest, Disbursement, HandOver, Invoice, Notice, OrderRequest, PaymentState,
};
use homeward_workflows::domain::{CaseRef, CountryCode, Language};
use homeward_workflows::programme::Money;

use crate::ledger::{Confirmation, Faults, LocalLedger};

/// Faults the sandbox injects.
#[derive(Debug, Clone, Default)]
pub struct SandboxFaults {
    /// Share of requests answered with a 503 (half before doing the work, half after, as if
    /// the answer was lost).
    pub error_rate: f64,
    /// Share of requests that hang for `hang` (longer than a client's timeout).
    pub timeout_rate: f64,
    /// How long a hanging request hangs.
    pub hang: Duration,
    /// Delay added to every request.
    pub latency: Duration,
    /// Offers whose id contains this are refused with a 422 when booked.
    pub refuse_offers_containing: Option<String>,
    /// Any keyed request (order, cancellation, payment, notice, hand-over) whose idempotency
    /// key contains this is refused with a 422, e.g. `tranche:cash` or `:handover:`.
    pub refuse_keys_containing: Option<String>,
    /// Flights leave this long after the search (instead of 09:00 on the earliest day).
    pub departs_in: Option<Duration>,
    /// Payments stay pending this long, then confirm (`None`: confirmed at once).
    pub confirm_after: Option<Duration>,
    /// Where settled payments are announced (the provider's webhook), if anywhere. Each
    /// delivery is dropped with `error_rate`, so the case's polling is exercised too.
    pub webhook: Option<Webhook>,
    /// Where the gateway posts its delivery receipts (Homeward's `/api/v1/webhooks/messages`),
    /// if anywhere. An SMS to a number ending in `0000` is reported undelivered
    /// (`unknown_subscriber`); every other message delivered.
    pub receipts: Option<Webhook>,
}

/// A webhook subscription: where to post and the shared signing secret.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// The receiving URL (Homeward's `/api/v1/webhooks/payments`).
    pub url: url::Url,
    /// The shared secret the signature is made with (its `Debug` prints `[REDACTED]`).
    pub secret: SecretString,
}

/// The sandbox's state.
#[derive(Clone)]
pub struct Sandbox {
    /// What was booked, paid and sent.
    pub ledger: Arc<LocalLedger>,
    /// Faults to inject.
    faults: SandboxFaults,
    /// Seeded, so a run's faults can be reproduced.
    rng: Arc<Mutex<rand::rngs::StdRng>>,
    /// How many faults were injected (errors, hangs and dropped webhooks).
    injected: Arc<std::sync::atomic::AtomicU64>,
    /// Webhooks delivered.
    webhooks_sent: Arc<std::sync::atomic::AtomicU64>,
    /// Pending payments whose settlement is already scheduled.
    scheduled: Arc<Mutex<std::collections::BTreeSet<String>>>,
    /// Posts webhooks.
    http: reqwest::Client,
}

impl Sandbox {
    /// A sandbox with faults and a seed, its ledger in memory.
    pub fn new(faults: SandboxFaults, seed: u64) -> Self {
        let ledger = LocalLedger::faulty(Self::ledger_faults(&faults));
        Self::with_ledger(faults, seed, Arc::new(ledger))
    }

    /// A sandbox whose ledger is kept in SQLite at `url` (`sqlite://…`): a restart remembers
    /// what was booked and paid, and settles the payments still pending.
    pub async fn durable(faults: SandboxFaults, seed: u64, url: &str) -> Result<Self, String> {
        let journal = crate::journal::Journal::open(url).await?;
        let ledger = LocalLedger::durable(Self::ledger_faults(&faults), journal).await?;
        let sandbox = Self::with_ledger(faults, seed, Arc::new(ledger));
        for payment_id in sandbox.ledger.pending_payments() {
            sandbox.schedule_settlement(payment_id);
        }
        Ok(sandbox)
    }

    fn ledger_faults(faults: &SandboxFaults) -> Faults {
        Faults {
            departs_in: faults.departs_in,
            // Pending until the settlement timer below settles it.
            confirmation: match faults.confirm_after {
                Some(_) => Confirmation::WhenSettled,
                None => Confirmation::AtOnce,
            },
            ..Default::default()
        }
    }

    fn with_ledger(faults: SandboxFaults, seed: u64, ledger: Arc<LocalLedger>) -> Self {
        Self {
            ledger,
            faults,
            rng: Arc::new(Mutex::new(rand::rngs::StdRng::seed_from_u64(seed))),
            injected: Arc::default(),
            webhooks_sent: Arc::default(),
            scheduled: Arc::default(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Posts a signed webhook, retried a few times as partners do; a 4xx is final.
    async fn post_webhook(&self, hook: &Webhook, body: Vec<u8>) {
        for attempt in 0..5u32 {
            let signature =
                payment_webhook::sign(hook.secret.expose_secret().as_bytes(), &body, Utc::now());
            let sent = self
                .http
                .post(hook.url.clone())
                .header("content-type", "application/json")
                .header(payment_webhook::SIGNATURE_HEADER, signature)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    self.webhooks_sent
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
                // A 4xx will not get better (e.g. a closed case): stop.
                Ok(r) if r.status().is_client_error() => return,
                _ => tokio::time::sleep(Duration::from_secs(1 << attempt)).await,
            }
        }
    }

    /// Reports what became of an accepted message (in the background, like a carrier).
    fn send_receipt(&self, reference: &CaseRef, key: &str, phone: Option<&str>) {
        let Some(hook) = self.faults.receipts.clone() else {
            return;
        };
        let (status, error) = match phone {
            Some(p) if p.ends_with("0000") => ("undelivered", Some("unknown_subscriber")),
            _ => ("delivered", None),
        };
        let body = message_receipts::body(reference.as_str(), key, status, error);
        let sb = self.clone();
        tokio::spawn(async move { sb.post_webhook(&hook, body).await });
    }

    /// Settles a pending payment after `confirm_after` and announces it by webhook (retried
    /// a few times, as providers do; dropped with `error_rate`).
    fn schedule_settlement(&self, payment_id: String) {
        let Some(after) = self.faults.confirm_after else {
            return;
        };
        let fresh = match self.scheduled.lock() {
            Ok(mut s) => s.insert(payment_id.clone()),
            Err(p) => p.into_inner().insert(payment_id.clone()),
        };
        if !fresh {
            return;
        }
        let sb = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let (state, d) = match sb.ledger.settle(&payment_id).await {
                Ok(Some(settled)) => settled,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "the sandbox could not journal a settlement");
                    return;
                }
            };
            let Some(hook) = sb.faults.webhook.clone() else {
                return;
            };
            if sb.roll() < sb.faults.error_rate {
                sb.count_fault();
                return;
            }
            let body = payment_webhook::body(&payment_id, state, &d.reference, &d.idempotency_key);
            sb.post_webhook(&hook, body).await;
        });
    }

    /// Serves the sandbox on `127.0.0.1:port` (0: a free port) until the task is dropped or
    /// aborted; answers the address it listens on.
    pub async fn serve(
        self,
        port: u16,
    ) -> std::io::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, self.router()).await {
                tracing::error!(error = %e, "the partner sandbox stopped");
            }
        });
        Ok((addr, task))
    }

    /// The sandbox's routes.
    pub fn router(self) -> Router {
        Router::new()
            .route("/air/offer_requests", post(offer_requests))
            .route("/air/offers/{id}", get(offer))
            .route("/air/orders", post(orders))
            .route("/air/orders/{id}", get(order))
            .route("/air/order_cancellations", post(create_cancellation))
            .route(
                "/air/order_cancellations/{id}/actions/confirm",
                post(confirm_cancellation),
            )
            .route("/disbursements", post(disbursements))
            .route("/disbursements/{id}", get(disbursement))
            // Room for a message with its largest attachment (base64 is 4/3 of the bytes).
            .route(
                "/messages",
                post(messages).layer(DefaultBodyLimit::max(
                    outreach::MAX_ATTACHMENT_BYTES / 3 * 4 + 1024 * 1024,
                )),
            )
            .route("/handovers", post(handovers))
            .route("/ledger", get(ledger))
            .with_state(self)
    }

    fn count_fault(&self) {
        self.injected
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn roll(&self) -> f64 {
        match self.rng.lock() {
            Ok(mut r) => r.gen_range(0.0..1.0),
            Err(p) => p.into_inner().gen_range(0.0..1.0),
        }
    }

    /// Before the work: latency, hangs, and errors that happen before anything is done.
    async fn before(&self) -> Result<bool, Response> {
        tokio::time::sleep(self.faults.latency).await;
        if self.roll() < self.faults.timeout_rate {
            self.count_fault();
            tokio::time::sleep(self.faults.hang).await;
        }
        if self.roll() < self.faults.error_rate {
            self.count_fault();
            // Half the injected errors come before the work, half after it.
            if self.roll() < 0.5 {
                return Err(unavailable());
            }
            return Ok(true);
        }
        Ok(false)
    }
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [("retry-after", "1")],
        Json(wire::Errors::message("sandbox: injected outage")),
    )
        .into_response()
}

fn refused(status: StatusCode, message: &str) -> Response {
    (status, Json(wire::Errors::message(message))).into_response()
}

fn partner_error(e: PartnerError) -> Response {
    match e {
        PartnerError::Unavailable { .. } => unavailable(),
        PartnerError::Refused { message, .. } => {
            refused(StatusCode::UNPROCESSABLE_ENTITY, &message)
        }
    }
}

/// The start of every keyed request: its Idempotency-Key, then the injected faults. Returns the
/// key and whether the answer is to be lost after the work is done.
async fn keyed(sb: &Sandbox, headers: &HeaderMap) -> Result<(String, bool), Response> {
    let key = key(headers)?;
    refuse_key(sb, &key)?;
    let lost = sb.before().await?;
    Ok((key, lost))
}

/// The configured 4xx for given inputs.
fn refuse_key(sb: &Sandbox, key: &str) -> Result<(), Response> {
    match &sb.faults.refuse_keys_containing {
        Some(text) if key.contains(text.as_str()) => Err(refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "sandbox: this request is refused by configuration (refuse_keys_containing)",
        )),
        _ => Ok(()),
    }
}

fn key(headers: &HeaderMap) -> Result<String, Response> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            refused(
                StatusCode::BAD_REQUEST,
                "Idempotency-Key header is required",
            )
        })
}

/// Answers after the work, unless the fault roll said the answer gets lost.
fn answer(lost: bool, status: StatusCode, body: impl Serialize) -> Response {
    if lost {
        unavailable()
    } else {
        (status, Json(body)).into_response()
    }
}

fn bad(message: impl std::fmt::Display) -> Response {
    refused(StatusCode::UNPROCESSABLE_ENTITY, &message.to_string())
}

/// Reads a keyed request's body as its wire struct. The body arrives as JSON (malformed JSON is
/// axum's 400) and is read only after the Idempotency-Key check and the injected faults, as
/// the sandbox always did; a body of another shape is a 422 naming the field, e.g.
/// `data.selected_offers: invalid type: …`.
fn read<T: DeserializeOwned>(body: Value) -> Result<T, Response> {
    serde_path_to_error::deserialize(body).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body" } else { path.as_str() };
        bad(format!("{field}: {}", e.inner()))
    })
}

async fn offer_requests(
    State(sb): State<Sandbox>,
    Json(body): Json<Data<travel::CreateOfferRequest>>,
) -> Response {
    let lost = match sb.before().await {
        Ok(lost) => lost,
        Err(r) => return r,
    };
    let search = body.data;
    let Some(slice) = search.slices.first() else {
        return bad("slices: one slice is required");
    };
    let Ok(reference) = CaseRef::parse(&search.metadata.case) else {
        return bad("metadata.case: a case reference is required");
    };
    let mut fares = Vec::new();
    for (i, p) in search.passengers.iter().enumerate() {
        match p.fare() {
            Ok(f) => fares.push(f),
            Err(e) => return bad(format!("passengers[{i}].{e}")),
        }
    }
    let request = Search {
        reference,
        origin: slice.origin.clone(),
        destination: slice.destination.clone(),
        earliest: slice.departure_date,
        latest: slice.latest_departure_date.unwrap_or(slice.departure_date),
        passengers: fares,
        medical_escort: search.assistance.medical_escort,
        child_escort: false,
    };
    match sb.ledger.search_offers(&request).await {
        Ok(offers) => {
            let mut listed = Vec::new();
            for o in &offers {
                match sb.ledger.offer_passengers(&o.offer_id).await {
                    Ok(passengers) => listed.push(travel::Offer::from((o, passengers.as_slice()))),
                    Err(e) => return partner_error(e),
                }
            }
            answer(
                lost,
                StatusCode::CREATED,
                Data {
                    data: travel::OfferRequest {
                        id: "orq".into(),
                        offers: listed,
                    },
                },
            )
        }
        Err(e) => partner_error(e),
    }
}

/// `GET /air/offers/{id}`: the offer with its passengers' ids.
async fn offer(State(sb): State<Sandbox>, Path(id): Path<String>) -> Response {
    let Some(o) = sb.ledger.offer(&id) else {
        return refused(StatusCode::NOT_FOUND, "offer not found");
    };
    match sb.ledger.offer_passengers(&id).await {
        Ok(passengers) => (
            StatusCode::OK,
            Json(Data {
                data: travel::Offer::from((&o, passengers.as_slice())),
            }),
        )
            .into_response(),
        Err(e) => partner_error(e),
    }
}

async fn orders(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (key, lost) = match keyed(&sb, &headers).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let order = match read::<Data<travel::CreateOrder>>(body) {
        Ok(body) => body.data,
        Err(r) => return r,
    };
    let offer_id = order.selected_offers.first().cloned().unwrap_or_default();
    if let Some(bad_offer) = &sb.faults.refuse_offers_containing
        && offer_id.contains(bad_offer.as_str())
    {
        return refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The selected offer has expired",
        );
    }
    let Ok(reference) = CaseRef::parse(&order.metadata.case) else {
        return bad("data.metadata.case is required");
    };
    let request = OrderRequest {
        idempotency_key: key,
        reference,
        offer_id,
        escort_return_offer_id: None,
    };
    let passengers: Vec<NamedPassenger> = order
        .passengers
        .iter()
        .enumerate()
        .map(|(i, p)| NamedPassenger {
            id: p.id.clone().unwrap_or_else(|| format!("unnamed-{i}")),
            person: Shared {
                member: i as u32,
                given_name: Some(p.given_name.clone()),
                family_name: Some(p.family_name.clone()),
                born_on: p.born_on,
                sex: p.gender.as_deref().and_then(|g| match g {
                    "f" => Some("f"),
                    "m" => Some("m"),
                    _ => None,
                }),
                email: p.email.clone(),
                phone: p.phone_number.clone(),
                passport: p.identity_documents.first().map(|d| {
                    (
                        d.unique_identifier.clone(),
                        d.issuing_country_code.clone(),
                        d.expires_on,
                    )
                }),
                ..Shared::default()
            },
            infant_passenger_id: p.infant_passenger_id.clone(),
            services: p
                .special_service_requests
                .iter()
                .map(|r| r.code.clone())
                .collect(),
        })
        .collect();
    match sb.ledger.create_order(&request, &passengers).await {
        Ok(o) => answer(
            lost,
            StatusCode::CREATED,
            Data {
                data: travel::Order::from(&o),
            },
        ),
        Err(e) => partner_error(e),
    }
}

async fn order(State(sb): State<Sandbox>, Path(id): Path<String>) -> Response {
    match sb.ledger.order_status(&id).await {
        Ok(o) => {
            let total = sb
                .ledger
                .snapshot()
                .orders
                .values()
                .find(|x| x.order_id == id)
                .map(|x| x.total.clone())
                .unwrap_or(Money {
                    minor: 0,
                    currency: "EUR".into(),
                });
            let status = travel::OrderStatus {
                cancelled_at: o.cancelled.then(Utc::now),
                order: travel::Order {
                    departing_at: o.departs_at,
                    id: o.order_id,
                    total_amount: from_minor(total.minor),
                    total_currency: total.currency,
                },
            };
            (StatusCode::OK, Json(Data { data: status })).into_response()
        }
        Err(e) => not_found(e),
    }
}

async fn disbursement(State(sb): State<Sandbox>, Path(id): Path<String>) -> Response {
    match sb.ledger.disbursement_status(&id).await {
        Ok(state) => (
            StatusCode::OK,
            Json(payments::Disbursement {
                id,
                status: payments::status_word(state).into(),
            }),
        )
            .into_response(),
        Err(e) => not_found(e),
    }
}

fn not_found(e: PartnerError) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(wire::Errors::titled(Some("not found"), e.to_string())),
    )
        .into_response()
}

/// The sandbox's cancellation id for an order: the order's id behind `ore_` (no state to keep
/// between the two steps, so a restart between them loses nothing).
fn cancellation_id(order_id: &str) -> String {
    format!("ore_{order_id}")
}

/// Step 1: a pending cancellation of a booked order, with its (full) refund.
async fn create_cancellation(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let lost = match keyed(&sb, &headers).await {
        Ok((_, lost)) => lost,
        Err(r) => return r,
    };
    let request = match read::<Data<travel::CreateCancellation>>(body) {
        Ok(r) => r.data,
        Err(r) => return r,
    };
    if request.order_id.trim().is_empty() {
        return bad("data.order_id: is required");
    }
    let (order, cancelled) = match sb.ledger.order_status(&request.order_id).await {
        Ok(status) => (status, status_cancelled(&sb, &request.order_id)),
        Err(e) => return not_found(e),
    };
    let refund = sb
        .ledger
        .snapshot()
        .orders
        .values()
        .find(|o| o.order_id == order.order_id)
        .map(|o| o.total.clone());
    answer(
        lost,
        StatusCode::CREATED,
        Data {
            data: travel::Cancellation {
                confirmed_at: cancelled.then(Utc::now),
                id: cancellation_id(&order.order_id),
                order_id: order.order_id,
                refund_amount: refund.as_ref().map(|m| from_minor(m.minor)),
                refund_currency: refund.map(|m| m.currency),
            },
        },
    )
}

/// Step 2: the confirmation; the order is cancelled (idempotent by key).
async fn confirm_cancellation(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (key, lost) = match keyed(&sb, &headers).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let Some(order_id) = id.strip_prefix("ore_").filter(|o| !o.is_empty()) else {
        return not_found(PartnerError::Refused {
            partner: "travel",
            message: format!("no order cancellation {id}"),
        });
    };
    let request = CancelRequest {
        idempotency_key: key,
        order_id: order_id.to_owned(),
        escort_return_order_id: None,
    };
    match sb.ledger.cancel_order(&request).await {
        Ok(()) => answer(
            lost,
            StatusCode::OK,
            Data {
                data: travel::Cancellation {
                    confirmed_at: Some(Utc::now()),
                    id,
                    order_id: request.order_id,
                    refund_amount: None,
                    refund_currency: None,
                },
            },
        ),
        Err(e) => partner_error(e),
    }
}

/// Whether the ledger already holds the order as cancelled.
fn status_cancelled(sb: &Sandbox, order_id: &str) -> bool {
    sb.ledger.snapshot().cancelled.contains(order_id)
}

async fn disbursements(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (key, lost) = match keyed(&sb, &headers).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let payment = match read::<payments::CreateDisbursement>(body) {
        Ok(payment) => payment,
        Err(r) => return r,
    };
    let reference = match CaseRef::parse(&payment.reference) {
        Ok(r) => r,
        Err(e) => return bad(format!("reference: {e}")),
    };
    let Some(minor) = to_minor(&payment.amount) else {
        return bad("amount: must be a decimal amount with at most two decimals, e.g. \"1500.00\"");
    };
    if let Some(problem) = payment.refusal() {
        return bad(problem);
    }
    let beneficiary = payment.beneficiary.as_ref().map(|b| Shared {
        given_name: Some(b.given_name.clone()),
        family_name: Some(b.family_name.clone()),
        phone: b.phone_number.clone(),
        ..Shared::default()
    });
    // A supplier as the provider knows it: a name and an account, paid against an invoice.
    let (supplier, invoice) = match &payment.payee {
        Some(payments::Payee::Supplier {
            name,
            iban,
            invoice_reference,
        }) => (
            Some(Supplier {
                id: String::new(),
                office: String::new(),
                name: name.clone(),
                iban: iban.clone(),
                created_by: String::new(),
                created_at: chrono::Utc::now(),
            }),
            Some(Invoice {
                supplier: String::new(),
                invoice_reference: invoice_reference.clone(),
            }),
        ),
        _ => (None, None),
    };
    let request = Disbursement {
        idempotency_key: key,
        reference,
        tranche: payment.tranche,
        kind: payment.kind,
        amount: Money {
            minor,
            currency: payment.currency,
        },
        invoice,
    };
    match sb
        .ledger
        .disburse(&request, beneficiary.as_ref(), supplier.as_ref())
        .await
    {
        Ok(r) => {
            if r.state == PaymentState::Pending {
                sb.schedule_settlement(r.payment_id.clone());
            }
            answer(
                lost,
                StatusCode::OK,
                payments::Disbursement {
                    status: payments::status_word(r.state).into(),
                    id: r.payment_id,
                },
            )
        }
        Err(e) => partner_error(e),
    }
}

async fn messages(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let (key, lost) = match keyed(&sb, &headers).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let sent = match read::<outreach::Message>(body) {
        Ok(message) => message,
        Err(r) => return r,
    };
    let reference = match CaseRef::parse(&sent.to.case) {
        Ok(r) => r,
        Err(e) => return bad(format!("to.case: {e}")),
    };
    for (field, value) in [
        ("language", &sent.language),
        ("subject", &sent.subject),
        ("text", &sent.text),
    ] {
        if value.trim().is_empty() {
            return bad(format!("{field}: is required"));
        }
    }
    if sent.channel == Channel::Sms && sent.text.chars().count() > 480 {
        return bad("text: an SMS holds at most 480 characters (three parts)");
    }
    // The files' bytes; what they must be (a PDF, at most 5 MiB) the ledger checks.
    let mut attachments = Vec::new();
    for (i, a) in sent.attachments.iter().enumerate() {
        let Some(content) = a.decoded() else {
            return bad(format!("attachments[{i}].content: not base64"));
        };
        attachments.push(Attachment {
            filename: a.filename.clone(),
            content_type: a.content_type.clone(),
            content,
        });
    }
    let message = Message {
        notice: Notice {
            idempotency_key: key,
            reference,
            template: sent.template,
            audience: sent.to.audience,
            language: Language::parse(&sent.language).ok(),
            task: None,
            flight: None,
            safe_phone_only: false,
        },
        channel: sent.channel,
        language: sent.language,
        subject: sent.subject,
        text: sent.text,
        attachments,
    };
    match sb
        .ledger
        .notify(&message, sent.to.phone_number.as_deref())
        .await
    {
        Ok(()) => {
            sb.send_receipt(
                &message.notice.reference,
                &message.notice.idempotency_key,
                sent.to.phone_number.as_deref(),
            );
            answer(
                lost,
                StatusCode::ACCEPTED,
                outreach::Accepted {
                    status: "queued".into(),
                },
            )
        }
        Err(e) => partner_error(e),
    }
}

async fn handovers(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Json(record): Json<outreach::HandOver>,
) -> Response {
    let lost = match keyed(&sb, &headers).await {
        Ok((_, lost)) => lost,
        Err(r) => return r,
    };
    let (reference, origin_country) = match (
        CaseRef::parse(&record.reference),
        CountryCode::parse(&record.origin_country),
    ) {
        (Ok(r), Ok(c)) => (r, c),
        (Err(e), _) => return bad(format!("reference: {e}")),
        (_, Err(e)) => return bad(format!("origin_country: {e}")),
    };
    let people: Vec<Shared> = record
        .people
        .iter()
        .enumerate()
        .map(|(i, p)| Shared {
            member: i as u32,
            given_name: Some(p.given_name.clone()),
            family_name: Some(p.family_name.clone()),
            phone: p.phone_number.clone(),
            destination: p.destination.clone(),
            ..Shared::default()
        })
        .collect();
    let record = HandOver {
        idempotency_key: record.idempotency_key,
        reference,
        origin_country,
        arrives_at: record.arrives_at,
        household_size: record.household_size,
        unaccompanied_child: record.unaccompanied_child,
        medical_assistance: record.medical_assistance,
    };
    match sb.ledger.hand_over(&record, &people).await {
        Ok(()) => answer(
            lost,
            StatusCode::ACCEPTED,
            outreach::Accepted {
                status: "received".into(),
            },
        ),
        Err(e) => partner_error(e),
    }
}

/// What `GET /ledger` shows: every order and payment the sandbox holds, and counts of the rest.
/// The sandbox's own format (no partner has it); `homeward bench` checks its runs against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerView {
    /// When the ledger was read.
    pub at: DateTime<Utc>,
    /// Every file a notice carried: its name, type and size (never its content).
    #[serde(default)]
    pub attachments: Vec<LedgerAttachment>,
    /// How many `disburse` calls arrived (retries included).
    pub disburse_calls: u32,
    /// How many faults were injected (errors, hangs and dropped webhooks).
    pub faults_injected: u64,
    /// How many hand-overs were received.
    pub hand_overs: usize,
    /// How many notices were sent.
    pub notices: usize,
    /// Notices by language.
    pub notices_by_language: BTreeMap<String, u32>,
    /// Every order, by idempotency key.
    pub orders: Vec<LedgerOrder>,
    /// Every payment, by idempotency key.
    pub payments: Vec<LedgerPayment>,
    /// Every person an order, payment or hand-over named (what the partners received).
    #[serde(default)]
    pub people: Vec<LedgerPerson>,
    /// How many webhooks were delivered.
    pub webhooks_sent: u64,
}

/// An order in the [`LedgerView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerOrder {
    /// Whether it was cancelled.
    pub cancelled: bool,
    /// The key it was booked under (`<ref>:booking:<n>`).
    pub idempotency_key: String,
    /// The sandbox's order id.
    pub order_id: String,
}

/// A person a partner received, in the [`LedgerView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerPerson {
    /// The order's, payment's or hand-over's key (`<ref>:booking:…`, `<ref>:tranche:…`,
    /// `<ref>:handover:…`).
    pub idempotency_key: String,
    /// Given names.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Date of birth.
    pub born_on: Option<chrono::NaiveDate>,
    /// Sex.
    pub sex: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Destination.
    pub destination: Option<String>,
    /// The special service requests an order asked for this passenger (IATA codes).
    #[serde(default)]
    pub services: Vec<String>,
}

/// A file a notice carried, in the [`LedgerView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerAttachment {
    /// The notice's key (`<ref>:documents_requested:<n>`).
    pub idempotency_key: String,
    /// The file's name.
    pub filename: String,
    /// Its media type.
    pub content_type: String,
    /// Its size in bytes.
    pub size: usize,
}

/// A payment in the [`LedgerView`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerPayment {
    /// The amount, as a decimal string.
    pub amount: String,
    /// The case reference.
    pub case: String,
    /// ISO 4217.
    pub currency: String,
    /// The key it was paid under (`<ref>:tranche:<name>…`).
    pub idempotency_key: String,
    /// The sandbox's payment id.
    pub payment_id: String,
    /// Where it stands.
    pub state: PaymentState,
    /// The tranche's name.
    pub tranche: String,
    /// In kind: the supplier's invoice number it paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_reference: Option<String>,
}

async fn ledger(State(sb): State<Sandbox>) -> Json<LedgerView> {
    let s = sb.ledger.snapshot();
    let orders = s
        .orders
        .iter()
        .map(|(k, o)| LedgerOrder {
            cancelled: s.cancelled.contains(&o.order_id),
            idempotency_key: k.clone(),
            order_id: o.order_id.clone(),
        })
        .collect();
    let payments = s
        .payments
        .iter()
        .map(|(k, (d, r))| LedgerPayment {
            amount: from_minor(d.amount.minor),
            case: d.reference.as_str().to_owned(),
            currency: d.amount.currency.clone(),
            idempotency_key: k.clone(),
            payment_id: r.payment_id.clone(),
            state: r.state,
            tranche: d.tranche.clone(),
            invoice_reference: d.invoice.as_ref().map(|i| i.invoice_reference.clone()),
        })
        .collect();
    let people = s
        .people
        .iter()
        .flat_map(|(k, people)| {
            let services = s.services.get(k);
            people.iter().enumerate().map(move |(i, p)| LedgerPerson {
                idempotency_key: k.clone(),
                given_name: p.given_name.clone(),
                family_name: p.family_name.clone(),
                born_on: p.born_on,
                sex: p.sex.map(str::to_owned),
                phone: p.phone.clone(),
                destination: p.destination.clone(),
                services: services
                    .and_then(|all| all.get(i))
                    .cloned()
                    .unwrap_or_default(),
            })
        })
        .collect();
    let attachments = s
        .attachments
        .iter()
        .flat_map(|(k, files)| {
            files.iter().map(move |f| LedgerAttachment {
                idempotency_key: k.clone(),
                filename: f.filename.clone(),
                content_type: f.content_type.clone(),
                size: f.size,
            })
        })
        .collect();
    let mut notices_by_language = BTreeMap::<String, u32>::new();
    for n in s.notices.values() {
        *notices_by_language.entry(n.language.clone()).or_default() += 1;
    }
    Json(LedgerView {
        at: DateTime::<Utc>::from(std::time::SystemTime::now()),
        attachments,
        disburse_calls: s.disburse_calls,
        faults_injected: sb.injected.load(std::sync::atomic::Ordering::Relaxed),
        hand_overs: s.hand_overs.len(),
        notices: s.notices.len(),
        notices_by_language,
        orders,
        payments,
        people,
        webhooks_sent: sb.webhooks_sent.load(std::sync::atomic::Ordering::Relaxed),
    })
}
