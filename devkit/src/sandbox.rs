//! The partner sandbox: one HTTP server that speaks the partners' wire formats (as the clients in
//! `http_partners.rs` expect them), backed by a [`LocalLedger`], with realistic delays and fault
//! injection. `homeward sandbox` runs it alone; `homeward dev` runs it beside the stack, so a new
//! user sees complete cases without any outside account. `GET /ledger` shows what was booked and
//! paid, so tests and benchmarks can prove there are no duplicates.

// Handlers short-circuit with a ready axum `Response` as their error, as axum intends.
#![allow(clippy::result_large_err)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde_json::{Value, json};

use homeward_workflows::activities::{
    CancelRequest, Disbursement, HandOver, Notice, OfferRequest, OrderRequest, PaymentState,
};
use homeward_workflows::domain::{CaseRef, CountryCode, Language};
use homeward_workflows::programme::{Money, PaymentKind};

use homeward_activities::http_partners::payment_webhook;
use homeward_activities::notices::{Channel, Message};
use homeward_activities::partners::{Outreach, PartnerError, PaymentProvider, TravelPartner};
use homeward_activities::wire::{from_minor, to_minor};

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
}

/// A webhook subscription: where to post and the shared signing secret.
#[derive(Clone)]
pub struct Webhook {
    /// The receiving URL (Homeward's `/api/v1/webhooks/payments`).
    pub url: url::Url,
    /// The shared secret the signature is made with.
    pub secret: String,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url.as_str())
            .field("secret", &"[REDACTED]")
            .finish()
    }
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
            for attempt in 0..5u32 {
                let signature = payment_webhook::sign(hook.secret.as_bytes(), &body, Utc::now());
                let sent = sb
                    .http
                    .post(hook.url.clone())
                    .header("content-type", "application/json")
                    .header(payment_webhook::SIGNATURE_HEADER, signature)
                    .body(body.clone())
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        sb.webhooks_sent
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        return;
                    }
                    // A 4xx will not get better (e.g. a closed case): stop.
                    Ok(r) if r.status().is_client_error() => return,
                    _ => tokio::time::sleep(Duration::from_secs(1 << attempt)).await,
                }
            }
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
            .route("/air/orders", post(orders))
            .route("/air/orders/{id}", get(order))
            .route("/air/orders/{id}/actions/cancel", post(cancel))
            .route("/disbursements", post(disbursements))
            .route("/disbursements/{id}", get(disbursement))
            .route("/messages", post(messages))
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
        Json(json!({"errors": [{"message": "sandbox: injected outage"}]})),
    )
        .into_response()
}

fn refused(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"errors": [{"message": message}]}))).into_response()
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
fn answer(lost: bool, status: StatusCode, body: Value) -> Response {
    if lost {
        unavailable()
    } else {
        (status, Json(body)).into_response()
    }
}

#[derive(Deserialize)]
struct OfferRequestBody {
    data: OfferRequestData,
}

#[derive(Deserialize)]
struct OfferRequestData {
    slices: Vec<Slice>,
    passengers: Vec<Value>,
    #[serde(default)]
    assistance: Value,
    #[serde(default)]
    metadata: Value,
}

#[derive(Deserialize)]
struct Slice {
    origin: String,
    destination: String,
    departure_date: NaiveDate,
    latest_departure_date: Option<NaiveDate>,
}

fn bad(message: impl std::fmt::Display) -> Response {
    refused(StatusCode::UNPROCESSABLE_ENTITY, &message.to_string())
}

async fn offer_requests(State(sb): State<Sandbox>, Json(body): Json<OfferRequestBody>) -> Response {
    let lost = match sb.before().await {
        Ok(lost) => lost,
        Err(r) => return r,
    };
    let Some(slice) = body.data.slices.first() else {
        return bad("slices: one slice is required");
    };
    let reference = body.data.metadata["case"]
        .as_str()
        .and_then(|r| CaseRef::parse(r).ok());
    let (Some(reference), Ok(from), Ok(to)) = (
        reference,
        CountryCode::parse(&slice.origin),
        CountryCode::parse(&slice.destination),
    ) else {
        return bad("metadata.case, origin and destination are required");
    };
    let request = OfferRequest {
        reference,
        from_country: from,
        to_country: to,
        earliest: slice.departure_date,
        latest: slice.latest_departure_date.unwrap_or(slice.departure_date),
        travellers: u8::try_from(body.data.passengers.len()).unwrap_or(u8::MAX),
        medical_escort: body.data.assistance["medical_escort"]
            .as_bool()
            .unwrap_or(false),
    };
    match sb.ledger.search_offers(&request).await {
        Ok(offers) => {
            let offers: Vec<Value> = offers
                .iter()
                .map(|o| {
                    json!({"id": o.offer_id, "total_amount": from_minor(o.total.minor),
                           "total_currency": o.total.currency, "departing_at": o.departs_at})
                })
                .collect();
            answer(
                lost,
                StatusCode::CREATED,
                json!({"data": {"id": "orq", "offers": offers}}),
            )
        }
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
    let offer_id = body["data"]["selected_offers"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if let Some(bad_offer) = &sb.faults.refuse_offers_containing
        && offer_id.contains(bad_offer.as_str())
    {
        return refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The selected offer has expired",
        );
    }
    let Some(reference) = body["data"]["metadata"]["case"]
        .as_str()
        .and_then(|r| CaseRef::parse(r).ok())
    else {
        return bad("data.metadata.case is required");
    };
    let request = OrderRequest {
        idempotency_key: key,
        reference,
        offer_id,
    };
    match sb.ledger.create_order(&request).await {
        Ok(o) => answer(
            lost,
            StatusCode::CREATED,
            json!({"data": {"id": o.order_id, "total_amount": from_minor(o.total.minor),
                            "total_currency": o.total.currency, "departing_at": o.departs_at}}),
        ),
        Err(e) => partner_error(e),
    }
}

async fn order(State(sb): State<Sandbox>, Path(id): Path<String>) -> Response {
    match sb.ledger.order_status(&id).await {
        Ok(o) => {
            let cancelled_at = o.cancelled.then(Utc::now);
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
            (
                StatusCode::OK,
                Json(
                    json!({"data": {"id": o.order_id, "departing_at": o.departs_at,
                                     "total_amount": from_minor(total.minor),
                                     "total_currency": total.currency,
                                     "cancelled_at": cancelled_at}}),
                ),
            )
                .into_response()
        }
        Err(e) => not_found(e),
    }
}

async fn disbursement(State(sb): State<Sandbox>, Path(id): Path<String>) -> Response {
    match sb.ledger.disbursement_status(&id).await {
        Ok(state) => (StatusCode::OK, Json(json!({"id": id, "status": state}))).into_response(),
        Err(e) => not_found(e),
    }
}

fn not_found(e: PartnerError) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"errors": [{"title": "not found", "message": e.to_string()}]})),
    )
        .into_response()
}

async fn cancel(State(sb): State<Sandbox>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let (key, lost) = match keyed(&sb, &headers).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let request = CancelRequest {
        idempotency_key: key,
        order_id: id.clone(),
    };
    match sb.ledger.cancel_order(&request).await {
        Ok(()) => answer(
            lost,
            StatusCode::OK,
            json!({"data": {"id": id, "status": "cancelled"}}),
        ),
        Err(e) => partner_error(e),
    }
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
    let reference = body["reference"]
        .as_str()
        .and_then(|r| CaseRef::parse(r).ok());
    let minor = body["amount"].as_str().and_then(to_minor);
    let kind: Option<PaymentKind> = serde_json::from_value(body["kind"].clone()).ok();
    let (Some(reference), Some(minor), Some(kind)) = (reference, minor, kind) else {
        return bad("reference, kind and amount are required");
    };
    let request = Disbursement {
        idempotency_key: key,
        reference,
        tranche: body["tranche"].as_str().unwrap_or_default().to_owned(),
        kind,
        amount: Money {
            minor,
            currency: body["currency"].as_str().unwrap_or("EUR").to_owned(),
        },
    };
    match sb.ledger.disburse(&request).await {
        Ok(r) => {
            if r.state == PaymentState::Pending {
                sb.schedule_settlement(r.payment_id.clone());
            }
            answer(
                lost,
                StatusCode::OK,
                json!({"id": r.payment_id, "status": r.state}),
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
    let to = &body["to"];
    let reference = to["case"].as_str().and_then(|r| CaseRef::parse(r).ok());
    let audience = serde_json::from_value(to["audience"].clone()).ok();
    let template = serde_json::from_value(body["template"].clone()).ok();
    let channel = match body["channel"].as_str() {
        Some("sms") => Some(Channel::Sms),
        Some("email") => Some(Channel::Email),
        _ => None,
    };
    let text = |field: &str| {
        body[field]
            .as_str()
            .filter(|t| !t.trim().is_empty())
            .map(str::to_owned)
    };
    let (
        Some(reference),
        Some(audience),
        Some(template),
        Some(channel),
        Some(language),
        Some(subject),
        Some(text),
    ) = (
        reference,
        audience,
        template,
        channel,
        text("language"),
        text("subject"),
        text("text"),
    )
    else {
        return bad(
            "to.case, to.audience, template, channel, language, subject and text are required",
        );
    };
    if channel == Channel::Sms && text.chars().count() > 480 {
        return bad("text: an SMS holds at most 480 characters (three parts)");
    }
    let message = Message {
        notice: Notice {
            idempotency_key: key,
            reference,
            template,
            audience,
            language: Language::parse(&language).ok(),
        },
        channel,
        language,
        subject,
        text,
    };
    match sb.ledger.notify(&message).await {
        Ok(()) => answer(lost, StatusCode::ACCEPTED, json!({"status": "queued"})),
        Err(e) => partner_error(e),
    }
}

async fn handovers(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    Json(record): Json<HandOver>,
) -> Response {
    let lost = match keyed(&sb, &headers).await {
        Ok((_, lost)) => lost,
        Err(r) => return r,
    };
    match sb.ledger.hand_over(&record).await {
        Ok(()) => answer(lost, StatusCode::ACCEPTED, json!({"status": "received"})),
        Err(e) => partner_error(e),
    }
}

async fn ledger(State(sb): State<Sandbox>) -> Json<Value> {
    let s = sb.ledger.snapshot();
    let orders: Vec<Value> = s
        .orders
        .iter()
        .map(|(k, o)| json!({"idempotency_key": k, "order_id": o.order_id, "cancelled": s.cancelled.contains(&o.order_id)}))
        .collect();
    let payments: Vec<Value> = s
        .payments
        .iter()
        .map(|(k, (d, r))| json!({"idempotency_key": k, "payment_id": r.payment_id, "state": r.state, "case": d.reference, "tranche": d.tranche, "amount": from_minor(d.amount.minor), "currency": d.amount.currency}))
        .collect();
    Json(json!({
        "orders": orders,
        "payments": payments,
        "disburse_calls": s.disburse_calls,
        "notices": s.notices.len(),
        "notices_by_language": s.notices.values().fold(std::collections::BTreeMap::<String, u32>::new(), |mut m, n| {
            *m.entry(n.language.clone()).or_default() += 1;
            m
        }),
        "hand_overs": s.hand_overs.len(),
        "faults_injected": sb.injected.load(std::sync::atomic::Ordering::Relaxed),
        "webhooks_sent": sb.webhooks_sent.load(std::sync::atomic::Ordering::Relaxed),
        "at": DateTime::<Utc>::from(std::time::SystemTime::now()),
    }))
}
