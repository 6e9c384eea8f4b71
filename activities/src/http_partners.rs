//! Partner clients over HTTP (reqwest): requests, answers, failures and the payment webhook's
//! signature. The bodies themselves are the structs of [`crate::wire`], shared with the
//! development sandbox.
//!
//! Travel is shaped after Duffel's public API (offer requests carry offers; an order books one
//! offer; orders are cancelled through an action), so that a real provider plugs in by
//! configuration. Payments, notifications and reception are small JSON APIs. Every call that
//! creates something sends an `Idempotency-Key` header; every call has a timeout.
//!
//! Failures are classified once, in [`classify`]: timeouts, connection errors, 429 and 5xx are
//! retryable (honouring `Retry-After`); any other 4xx is permanent and carries the partner's
//! own message, so it becomes a task for a human instead of an endless retry.

use std::time::Duration;

use reqwest::{Client, RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde::de::IgnoredAny;

use homeward_workflows::activities::{
    CancelRequest, Disbursement, HandOver, Offer, Order, OrderRequest, OrderStatus, PaymentState,
    Receipt,
};
use homeward_workflows::programme::Money;

use crate::notices::Message;
use crate::partners::{Outreach, PartnerError, PaymentProvider, TravelPartner};
use crate::sharing::Shared;
use crate::suppliers::Supplier;
use crate::travel::{NamedPassenger, OfferPassenger, Search};
use crate::wire::{Data, outreach, payments, to_minor, travel};

/// How to reach one partner.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The API's base URL, e.g. `https://api.duffel.com`.
    pub base_url: url::Url,
    /// The bearer token, if the partner wants one (its `Debug` prints `[REDACTED]`).
    pub token: Option<SecretString>,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// A JSON-over-HTTP partner client.
#[derive(Debug, Clone)]
pub struct HttpPartner {
    /// The partner's name, for errors and logs.
    name: &'static str,
    /// Where it is.
    endpoint: Endpoint,
    /// The shared connection pool.
    http: Client,
}

impl HttpPartner {
    /// A client for `endpoint`.
    pub fn new(name: &'static str, endpoint: Endpoint) -> Result<Self, PartnerError> {
        let http = Client::builder()
            .timeout(endpoint.timeout)
            .connect_timeout(endpoint.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| PartnerError::Refused {
                partner: name,
                message: format!("cannot build the HTTP client: {e}"),
            })?;
        Ok(Self {
            name,
            endpoint,
            http,
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        let url = format!(
            "{}/{}",
            self.endpoint.base_url.as_str().trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        let mut req = self
            .http
            .request(method, url)
            .header("Accept", "application/json");
        if let Some(token) = self
            .endpoint
            .token
            .as_ref()
            .map(ExposeSecret::expose_secret)
        {
            req = req.bearer_auth(token);
        }
        req
    }

    async fn send<T: for<'de> Deserialize<'de>>(
        &self,
        req: RequestBuilder,
    ) -> Result<T, PartnerError> {
        let response = req.send().await.map_err(|e| PartnerError::Unavailable {
            partner: self.name,
            message: if e.is_timeout() {
                "timed out".into()
            } else {
                "connection failed".into()
            },
            retry_after: None,
        })?;
        let response = classify(self.name, response).await?;
        let body = read_bounded(response, MAX_RESPONSE_BYTES)
            .await
            .map_err(|message| PartnerError::Refused {
                partner: self.name,
                message,
            })?;
        serde_json::from_slice::<T>(&body).map_err(|e| PartnerError::Refused {
            partner: self.name,
            message: format!("unexpected answer: {e}"),
        })
    }
}

/// The largest answer read from a partner: a misbehaving or hostile partner cannot fill the
/// worker's memory.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Reads a response body, refusing one larger than `limit` (by its Content-Length, or as it
/// streams in without one).
pub async fn read_bounded(mut response: Response, limit: usize) -> Result<Vec<u8>, String> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(format!("answer larger than {limit} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| "the answer was cut off".to_owned())?
    {
        if body.len() + chunk.len() > limit {
            return Err(format!("answer larger than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Sorts a response into success, retryable failure or permanent failure.
pub async fn classify(partner: &'static str, response: Response) -> Result<Response, PartnerError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = read_bounded(response, 64 * 1024).await.unwrap_or_default();
    let body = String::from_utf8_lossy(&body);
    let message = partner_message(&body).unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Err(PartnerError::Unavailable {
            partner,
            message: format!("HTTP {}: {message}", status.as_u16()),
            retry_after,
        })
    } else {
        Err(PartnerError::Refused {
            partner,
            message: format!("HTTP {}: {message}", status.as_u16()),
        })
    }
}

/// The partner's own error text: Duffel-style `{"errors":[{"message":…}]}` or `{"message":…}`.
fn partner_message(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v["errors"][0]["message"]
        .as_str()
        .or_else(|| v["message"].as_str())
        .or_else(|| v["error"].as_str())
        .map(|m| m.chars().take(300).collect())
}

impl HttpPartner {
    fn money(&self, amount: &str, currency: String) -> Result<Money, PartnerError> {
        Ok(Money {
            minor: to_minor(amount).ok_or_else(|| PartnerError::Refused {
                partner: self.name,
                message: format!("unreadable amount {amount:?}"),
            })?,
            currency,
        })
    }
}

#[async_trait::async_trait]
impl TravelPartner for HttpPartner {
    async fn search_offers(&self, search: &Search) -> Result<Vec<Offer>, PartnerError> {
        let body = Data {
            data: travel::CreateOfferRequest::from(search),
        };
        let answer: Data<travel::OfferRequest> = self
            .send(
                self.request(reqwest::Method::POST, "air/offer_requests")
                    .json(&body),
            )
            .await?;
        answer
            .data
            .offers
            .into_iter()
            .map(|o| {
                Ok(Offer {
                    total: self.money(&o.total_amount, o.total_currency)?,
                    offer_id: o.id,
                    departs_at: o.departing_at,
                    escort_return_offer_id: None,
                })
            })
            .collect()
    }

    async fn offer_passengers(&self, offer_id: &str) -> Result<Vec<OfferPassenger>, PartnerError> {
        let path = format!("air/offers/{}", segment(offer_id));
        let answer: Data<travel::Offer> =
            self.send(self.request(reqwest::Method::GET, &path)).await?;
        answer
            .data
            .passengers()
            .map_err(|message| PartnerError::Refused {
                partner: self.name,
                message: format!("the offer's {message}"),
            })
    }

    async fn create_order(
        &self,
        request: &OrderRequest,
        passengers: &[NamedPassenger],
    ) -> Result<Order, PartnerError> {
        let body = Data {
            data: travel::CreateOrder::from(request).with_passengers(passengers),
        };
        let answer: Data<travel::Order> = self
            .send(
                self.request(reqwest::Method::POST, "air/orders")
                    .header("Idempotency-Key", &request.idempotency_key)
                    .json(&body),
            )
            .await?;
        let o = answer.data;
        Ok(Order {
            total: self.money(&o.total_amount, o.total_currency)?,
            order_id: o.id,
            departs_at: o.departing_at,
            escort_return_order_id: None,
        })
    }

    async fn cancel_order(&self, request: &CancelRequest) -> Result<(), PartnerError> {
        // Duffel's two steps: a pending cancellation naming the order, then its confirmation.
        // Each under its own key, so a retry of either finds what was done (cancelling twice
        // succeeds).
        let pending: Data<travel::Cancellation> = self
            .send(
                self.request(reqwest::Method::POST, "air/order_cancellations")
                    .header("Idempotency-Key", &request.idempotency_key)
                    .json(&Data {
                        data: travel::CreateCancellation {
                            order_id: request.order_id.clone(),
                        },
                    }),
            )
            .await?;
        if pending.data.confirmed_at.is_some() {
            return Ok(());
        }
        let path = format!(
            "air/order_cancellations/{}/actions/confirm",
            segment(&pending.data.id)
        );
        let _: IgnoredAny = self
            .send(self.request(reqwest::Method::POST, &path).header(
                "Idempotency-Key",
                format!("{}:confirm", request.idempotency_key),
            ))
            .await?;
        Ok(())
    }

    async fn order_status(&self, order_id: &str) -> Result<OrderStatus, PartnerError> {
        let path = format!("air/orders/{}", segment(order_id));
        let answer: Data<travel::OrderStatus> =
            self.send(self.request(reqwest::Method::GET, &path)).await?;
        Ok(OrderStatus {
            order_id: answer.data.order.id,
            departs_at: answer.data.order.departing_at,
            cancelled: answer.data.cancelled_at.is_some(),
        })
    }
}

/// A partner's id as one URL path segment (escaped: an id is the partner's, not ours).
fn segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

#[async_trait::async_trait]
impl PaymentProvider for HttpPartner {
    async fn disburse(
        &self,
        request: &Disbursement,
        beneficiary: Option<&Shared>,
        supplier: Option<&Supplier>,
    ) -> Result<Receipt, PartnerError> {
        let created: payments::Disbursement = self
            .send(
                self.request(reqwest::Method::POST, "disbursements")
                    .header("Idempotency-Key", &request.idempotency_key)
                    .json(
                        &payments::CreateDisbursement::from(request)
                            .to_beneficiary(beneficiary)
                            .to_supplier(supplier, request.invoice.as_ref()),
                    ),
            )
            .await?;
        // Pending is an answer, not a failure: the case waits for the provider's webhook or
        // polls. A failed payment is reported as such, so the case retries under a new key.
        Ok(Receipt {
            state: self.payment_state(&created)?,
            payment_id: created.id,
            idempotency_key: request.idempotency_key.clone(),
        })
    }

    async fn disbursement_status(&self, payment_id: &str) -> Result<PaymentState, PartnerError> {
        let path = format!("disbursements/{}", segment(payment_id));
        let d: payments::Disbursement =
            self.send(self.request(reqwest::Method::GET, &path)).await?;
        self.payment_state(&d)
    }
}

impl HttpPartner {
    fn payment_state(&self, d: &payments::Disbursement) -> Result<PaymentState, PartnerError> {
        payments::payment_state(&d.status).ok_or_else(|| PartnerError::Refused {
            partner: self.name,
            message: format!("disbursement {} has an unknown status {:?}", d.id, d.status),
        })
    }
}

/// The payment provider's webhook: a JSON event signed with a shared secret.
///
/// `Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`; the
/// timestamp bounds replays. The body is a [`crate::wire::payments::Event`]:
/// `{"type":"disbursement.updated","data":{"id","status","reference","idempotency_key"}}`.
pub mod payment_webhook {
    use chrono::{DateTime, Utc};
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    use homeward_workflows::activities::{PaymentSettlement, PaymentState};
    use homeward_workflows::domain::CaseRef;

    use crate::wire::payments::{Event, payment_state};

    /// The header that carries the signature.
    pub const SIGNATURE_HEADER: &str = "webhook-signature";

    /// How far a signature's timestamp may be from now.
    pub const TOLERANCE_SECS: i64 = 300;

    /// Why a webhook was not accepted.
    #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
    pub enum WebhookError {
        /// Missing, stale or wrong signature (or no secret configured).
        #[error("{0}")]
        Signature(&'static str),
        /// A signature header that cannot be read (a timestamp out of range, no `v1`).
        #[error("{0}")]
        Malformed(&'static str),
        /// A correctly signed body that is not a disbursement event we understand.
        #[error("{field}: {problem}")]
        Body {
            /// The field at fault.
            field: &'static str,
            /// What is wrong with it.
            problem: String,
        },
    }

    fn mac(secret: &[u8], at: i64, body: &[u8]) -> Hmac<Sha256> {
        // HMAC accepts a key of any length; `new_from_slice` cannot fail for it.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(at.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The signature header's value for `body` sent at `at`.
    pub fn sign(secret: &[u8], body: &[u8], at: DateTime<Utc>) -> String {
        let t = at.timestamp();
        let tag = mac(secret, t, body).finalize().into_bytes();
        format!("t={t},v1={}", hex::encode(tag))
    }

    /// The event body for a disbursement's state. The event's `id` names the payment and the
    /// state, so a provider that sends the same event again sends the same id.
    pub fn body(payment_id: &str, state: PaymentState, reference: &CaseRef, key: &str) -> Vec<u8> {
        let event = Event::disbursement_updated(payment_id, state, reference, key);
        serde_json::to_vec(&event).unwrap_or_default()
    }

    /// A webhook event, read and verified.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct WebhookEvent {
        /// The provider's event id: an event seen before is acknowledged and ignored.
        pub id: String,
        /// What it announces. Only a hint: the case asks the provider before acting on it.
        pub settlement: PaymentSettlement,
    }

    /// Checks a webhook's signature (constant time) and its timestamp's freshness: the one check
    /// every partner webhook (payments, message receipts) passes before its body is read.
    pub fn verify(
        secret: Option<&[u8]>,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), WebhookError> {
        let secret = secret
            .filter(|s| !s.is_empty())
            .ok_or(WebhookError::Signature("partner webhooks are not enabled"))?;
        let signature = signature.ok_or(WebhookError::Signature(
            "the Webhook-Signature header is missing",
        ))?;
        let mut t = None;
        let mut v1 = None;
        for part in signature.split(',') {
            match part.trim().split_once('=') {
                Some(("t", v)) => t = v.parse::<i64>().ok(),
                Some(("v1", v)) => v1 = hex::decode(v).ok(),
                _ => {}
            }
        }
        let (Some(t), Some(v1)) = (t, v1) else {
            return Err(WebhookError::Malformed(
                "must be t=<unix seconds>,v1=<hex HMAC-SHA256>",
            ));
        };
        let skew = now
            .timestamp()
            .checked_sub(t)
            .and_then(i64::checked_abs)
            .ok_or(WebhookError::Malformed("t is not a plausible unix time"))?;
        if skew > TOLERANCE_SECS {
            return Err(WebhookError::Signature(
                "the signature's timestamp is too old or in the future",
            ));
        }
        mac(secret, t, body)
            .verify_slice(&v1)
            .map_err(|_| WebhookError::Signature("the signature does not match"))
    }

    /// Checks the signature (constant time) and reads the settlement.
    pub fn read(
        secret: Option<&[u8]>,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<WebhookEvent, WebhookError> {
        verify(secret, signature, body, now)?;
        let event = parse(body)?;
        let data = &event.data;
        let reference = CaseRef::parse(required("reference", &data.reference)?).map_err(|e| {
            WebhookError::Body {
                field: "reference",
                problem: e.to_string(),
            }
        })?;
        let state = payment_state(required("status", &data.status)?).ok_or(WebhookError::Body {
            field: "status",
            problem: "must be pending, processing, confirmed, paid, failed, rejected or returned"
                .into(),
        })?;
        if !(1..=200).contains(&event.id.len()) {
            return Err(WebhookError::Body {
                field: "id",
                problem: "is required (the event's id, 1 to 200 characters)".into(),
            });
        }
        Ok(WebhookEvent {
            id: event.id.clone(),
            settlement: PaymentSettlement {
                reference,
                payment_id: required("id", &data.id)?.to_owned(),
                state,
            },
        })
    }

    /// A field the event must carry (absent and empty are the same to the reader).
    fn required<'a>(field: &'static str, value: &'a str) -> Result<&'a str, WebhookError> {
        Some(value)
            .filter(|v| !v.is_empty())
            .ok_or(WebhookError::Body {
                field,
                problem: "is required (a string)".into(),
            })
    }

    /// Reads the event's JSON; a field of the wrong type is named (by the last step of its
    /// path, when it is one of the event's own fields).
    fn parse(body: &[u8]) -> Result<Event, WebhookError> {
        let malformed = |e: &serde_json::Error| WebhookError::Body {
            field: "body",
            problem: format!("malformed JSON: {e}"),
        };
        let mut json = serde_json::Deserializer::from_slice(body);
        let event = serde_path_to_error::deserialize(&mut json).map_err(|e| {
            if !e.inner().is_data() {
                return malformed(e.inner());
            }
            let last = e.path().iter().next_back().map(ToString::to_string);
            let field = [
                "data",
                "id",
                "type",
                "idempotency_key",
                "reference",
                "status",
            ]
            .into_iter()
            .find(|f| last.as_deref() == Some(*f))
            .unwrap_or("body");
            WebhookError::Body {
                field,
                problem: e.inner().to_string(),
            }
        })?;
        json.end().map_err(|e| malformed(&e))?;
        Ok(event)
    }
}

/// The notification gateway's delivery receipts (`POST /api/v1/webhooks/messages`): signed as
/// the payment webhooks are ([`payment_webhook::verify`], the same secret), a
/// [`crate::wire::outreach::ReceiptEvent`] naming the message by its idempotency key.
pub mod message_receipts {
    use chrono::{DateTime, Utc};

    use homeward_workflows::domain::CaseRef;

    use super::payment_webhook::{WebhookError, verify};
    use crate::notices::Delivery;
    use crate::wire::outreach::{MESSAGE_STATUS, ReceiptEvent};

    /// A receipt, read and verified.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Receipt {
        /// The gateway's event id: an event seen before is acknowledged and ignored.
        pub id: String,
        /// The case.
        pub reference: CaseRef,
        /// The message's idempotency key.
        pub idempotency_key: String,
        /// What became of it.
        pub delivery: Delivery,
        /// The carrier's reason when it was not delivered (at most 64 characters).
        pub error_code: Option<String>,
    }

    /// The signed body of a receipt (what the sandbox sends, and tests).
    pub fn body(reference: &str, key: &str, status: &str, error_code: Option<&str>) -> Vec<u8> {
        serde_json::to_vec(&ReceiptEvent::new(reference, key, status, error_code))
            .unwrap_or_default()
    }

    /// Checks the signature and reads the receipt, naming a bad field.
    pub fn read(
        secret: Option<&[u8]>,
        signature: Option<&str>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Receipt, WebhookError> {
        verify(secret, signature, body, now)?;
        let bad = |field: &'static str, problem: &str| WebhookError::Body {
            field,
            problem: problem.to_owned(),
        };
        let event: ReceiptEvent = serde_json::from_slice(body)
            .map_err(|e| bad("body", &format!("malformed JSON: {e}")))?;
        if event.kind != MESSAGE_STATUS {
            return Err(bad("type", "must be message.status"));
        }
        if !(1..=200).contains(&event.id.len()) {
            return Err(bad(
                "id",
                "is required (the event's id, 1 to 200 characters)",
            ));
        }
        let data = event.data;
        let reference =
            CaseRef::parse(&data.reference).map_err(|e| bad("reference", &e.to_string()))?;
        // The key is `<ref>:<template>:<n>[:officer]`, for this case.
        let key_ok = data
            .idempotency_key
            .strip_prefix(reference.as_str())
            .is_some_and(|rest| rest.starts_with(':') && rest.len() <= 100);
        if !key_ok {
            return Err(bad(
                "idempotency_key",
                "must be the message's Idempotency-Key, which starts with its case reference",
            ));
        }
        let delivery = match data.status.as_str() {
            "delivered" => Delivery::Delivered,
            "failed" | "undelivered" => Delivery::NotDelivered,
            _ => return Err(bad("status", "must be delivered, failed or undelivered")),
        };
        let error_code = data.error_code.filter(|c| !c.is_empty());
        if error_code.as_ref().is_some_and(|c| {
            c.len() > 64
                || !c
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        }) {
            return Err(bad("error_code", "at most 64 letters, digits, '_' or '-'"));
        }
        Ok(Receipt {
            id: event.id,
            reference,
            idempotency_key: data.idempotency_key,
            delivery,
            error_code,
        })
    }
}

#[async_trait::async_trait]
impl Outreach for HttpPartner {
    async fn notify(&self, message: &Message, phone: Option<&str>) -> Result<(), PartnerError> {
        // An e-mail goes to the audience of a case, whose addresses the gateway keeps; an SMS
        // to the returnee's number, read from the person record now and sent nowhere else.
        let _: IgnoredAny = self
            .send(
                self.request(reqwest::Method::POST, "messages")
                    .header("Idempotency-Key", &message.notice.idempotency_key)
                    .json(&outreach::Message::from(message).to_phone(phone)),
            )
            .await?;
        Ok(())
    }

    async fn hand_over(&self, record: &HandOver, people: &[Shared]) -> Result<(), PartnerError> {
        let _: IgnoredAny = self
            .send(
                self.request(reqwest::Method::POST, "handovers")
                    .header("Idempotency-Key", &record.idempotency_key)
                    .json(&outreach::HandOver::from(record).with_people(people)),
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_are_read_only_signed_and_name_a_bad_field() {
        use message_receipts::{body, read};
        use payment_webhook::{WebhookError, sign};
        let now = chrono::Utc::now();
        let r = "HW-0123456789AB";
        let signed = |b: &[u8]| sign(b"secret", b, now);
        let ok = body(
            r,
            "HW-0123456789AB:flight_details:3",
            "undelivered",
            Some("unknown_subscriber"),
        );
        let got = read(Some(b"secret"), Some(&signed(&ok)), &ok, now).expect("read");
        assert_eq!(got.delivery, crate::notices::Delivery::NotDelivered);
        assert_eq!(got.error_code.as_deref(), Some("unknown_subscriber"));
        assert!(matches!(
            read(Some(b"other"), Some(&signed(&ok)), &ok, now),
            Err(WebhookError::Signature(_))
        ));
        for (bad, field) in [
            (
                body(r, "HW-0123456789AB:flight_details:3", "read", None),
                "status",
            ),
            (
                body(r, "HW-999999999999:flight_details:3", "delivered", None),
                "idempotency_key",
            ),
            (body("HW-1", "HW-1:x:1", "delivered", None), "reference"),
            (
                body(r, "HW-0123456789AB:x:1", "failed", Some("no spaces")),
                "error_code",
            ),
            (b"{".to_vec(), "body"),
        ] {
            match read(Some(b"secret"), Some(&signed(&bad)), &bad, now) {
                Err(WebhookError::Body { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn webhooks_are_read_only_with_a_fresh_matching_signature() {
        use payment_webhook::{WebhookError, body, read, sign};
        let reference = homeward_workflows::domain::CaseRef::parse("HW-0123456789AB").unwrap();
        let now = chrono::Utc::now();
        let event = body("pay-1", PaymentState::Confirmed, &reference, "k");
        let good = sign(b"secret", &event, now);
        let read_with =
            |secret: Option<&[u8]>, sig: Option<&str>, body: &[u8]| read(secret, sig, body, now);
        let e = read_with(Some(b"secret"), Some(&good), &event).expect("accepted");
        assert_eq!(e.id, "evt_pay-1_confirmed");
        let s = e.settlement;
        assert_eq!(
            (s.payment_id.as_str(), s.state),
            ("pay-1", PaymentState::Confirmed)
        );
        assert_eq!(s.reference, reference);
        // Wrong secret, changed body, stale timestamp, missing header, no secret configured.
        for (secret, sig, b) in [
            (Some(&b"other"[..]), Some(good.as_str()), &event[..]),
            (Some(b"secret"), Some(good.as_str()), b"{}"),
            (Some(b"secret"), None, &event[..]),
            (None, Some(good.as_str()), &event[..]),
        ] {
            assert!(matches!(
                read_with(secret, sig, b),
                Err(WebhookError::Signature(_))
            ));
        }
        // A header that cannot be read, including a timestamp whose distance from now
        // overflows (it panicked once), is malformed, not a panic.
        for sig in ["v1=00", "t=-9223372036854775808,v1=00"] {
            assert!(
                matches!(
                    read_with(Some(b"secret"), Some(sig), &event),
                    Err(WebhookError::Malformed(_))
                ),
                "{sig}"
            );
        }
        let stale = sign(b"secret", &event, now - chrono::Duration::minutes(10));
        assert!(matches!(
            read_with(Some(b"secret"), Some(&stale), &event),
            Err(WebhookError::Signature(_))
        ));
        // Signed but unreadable: the field is named.
        let bad = br#"{"data":{"id":"pay-1","status":"lost","reference":"HW-0123456789AB"}}"#;
        let sig = sign(b"secret", bad, now);
        assert_eq!(
            read_with(Some(b"secret"), Some(&sig), bad)
                .unwrap_err()
                .to_string()
                .split(':')
                .next(),
            Some("status")
        );
    }
}
