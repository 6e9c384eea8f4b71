//! Partner clients over HTTP (reqwest). The wire formats live here and nowhere else.
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

use chrono::{DateTime, NaiveDate, Utc};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;

use homeward_workflows::activities::{
    CancelRequest, Disbursement, HandOver, Notice, Offer, OfferRequest, Order, OrderRequest,
    OrderStatus, PaymentState, Receipt,
};
use homeward_workflows::programme::Money;

use crate::partners::{Outreach, PartnerError, PaymentProvider, TravelPartner};

/// How to reach one partner.
#[derive(Clone)]
pub struct Endpoint {
    /// The API's base URL, e.g. `https://api.duffel.com`.
    pub base_url: url::Url,
    /// The bearer token, if the partner wants one.
    pub token: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("base_url", &self.base_url.as_str())
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .field("timeout", &self.timeout)
            .finish()
    }
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
        if let Some(token) = &self.endpoint.token {
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
        response
            .json::<T>()
            .await
            .map_err(|e| PartnerError::Refused {
                partner: self.name,
                message: format!("unexpected answer: {e}"),
            })
    }
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
    let body = response.text().await.unwrap_or_default();
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

/// Parses a decimal amount (`"600.50"`) into minor units, exactly.
pub fn to_minor(amount: &str) -> Option<i64> {
    let (whole, frac) = amount.trim().split_once('.').unwrap_or((amount.trim(), ""));
    if frac.len() > 2 || whole.is_empty() {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    whole
        .checked_mul(100)?
        .checked_add(if whole < 0 { -frac } else { frac })
}

/// Formats minor units as a decimal amount.
pub fn from_minor(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, (minor % 100).abs())
}

#[derive(Deserialize)]
struct Data<T> {
    data: T,
}

#[derive(Deserialize)]
struct WireOfferRequest {
    offers: Vec<WireOffer>,
}

#[derive(Deserialize)]
struct WireOffer {
    id: String,
    total_amount: String,
    total_currency: String,
    departing_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct WireOrder {
    id: String,
    total_amount: String,
    total_currency: String,
    departing_at: DateTime<Utc>,
    #[serde(default)]
    cancelled_at: Option<DateTime<Utc>>,
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
    async fn search_offers(&self, request: &OfferRequest) -> Result<Vec<Offer>, PartnerError> {
        let passengers: Vec<_> = (0..request.travellers)
            .map(|_| json!({"type": "adult"}))
            .collect();
        let body = json!({"data": {
            "slices": [{
                "origin": request.from_country.as_str(),
                "destination": request.to_country.as_str(),
                "departure_date": request.earliest,
                "latest_departure_date": request.latest.min(NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(request.latest)),
            }],
            "passengers": passengers,
            "assistance": { "medical_escort": request.medical_escort },
            "metadata": { "case": request.reference.as_str() },
        }});
        let answer: Data<WireOfferRequest> = self
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
                })
            })
            .collect()
    }

    async fn create_order(&self, request: &OrderRequest) -> Result<Order, PartnerError> {
        let body = json!({"data": {
            "selected_offers": [request.offer_id],
            "metadata": { "case": request.reference.as_str() },
        }});
        let answer: Data<WireOrder> = self
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
        })
    }

    async fn cancel_order(&self, request: &CancelRequest) -> Result<(), PartnerError> {
        let path = format!("air/orders/{}/actions/cancel", segment(&request.order_id));
        let _: serde_json::Value = self
            .send(
                self.request(reqwest::Method::POST, &path)
                    .header("Idempotency-Key", &request.idempotency_key)
                    .json(&json!({})),
            )
            .await?;
        Ok(())
    }

    async fn order_status(&self, order_id: &str) -> Result<OrderStatus, PartnerError> {
        let path = format!("air/orders/{}", segment(order_id));
        let answer: Data<WireOrder> = self.send(self.request(reqwest::Method::GET, &path)).await?;
        Ok(OrderStatus {
            order_id: answer.data.id,
            departs_at: answer.data.departing_at,
            cancelled: answer.data.cancelled_at.is_some(),
        })
    }
}

/// A partner's id as one URL path segment (escaped: an id is the partner's, not ours).
fn segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

#[derive(Serialize, Deserialize)]
struct WireDisbursement {
    id: String,
    status: String,
}

#[async_trait::async_trait]
impl PaymentProvider for HttpPartner {
    async fn disburse(&self, request: &Disbursement) -> Result<Receipt, PartnerError> {
        let body = json!({
            "reference": request.reference.as_str(),
            "tranche": request.tranche,
            "kind": request.kind,
            "amount": from_minor(request.amount.minor),
            "currency": request.amount.currency,
        });
        let created: WireDisbursement = self
            .send(
                self.request(reqwest::Method::POST, "disbursements")
                    .header("Idempotency-Key", &request.idempotency_key)
                    .json(&body),
            )
            .await?;
        match created.status.as_str() {
            "confirmed" => Ok(Receipt {
                payment_id: created.id,
                idempotency_key: request.idempotency_key.clone(),
            }),
            "failed" | "rejected" => Err(PartnerError::Refused {
                partner: self.name,
                message: format!("disbursement {} was {}", created.id, created.status),
            }),
            // Pending: retry later; the same key finds the same disbursement.
            other => Err(PartnerError::Unavailable {
                partner: self.name,
                message: format!("disbursement {} is {other}", created.id),
                retry_after: Some(Duration::from_secs(30)),
            }),
        }
    }

    async fn disbursement_status(&self, payment_id: &str) -> Result<PaymentState, PartnerError> {
        let path = format!("disbursements/{}", segment(payment_id));
        let d: WireDisbursement = self.send(self.request(reqwest::Method::GET, &path)).await?;
        match d.status.as_str() {
            "confirmed" => Ok(PaymentState::Confirmed),
            "failed" | "rejected" => Ok(PaymentState::Failed),
            "pending" | "processing" => Ok(PaymentState::Pending),
            other => Err(PartnerError::Refused {
                partner: self.name,
                message: format!("disbursement {} has an unknown status {other:?}", d.id),
            }),
        }
    }
}

#[async_trait::async_trait]
impl Outreach for HttpPartner {
    async fn notify(&self, notice: &Notice) -> Result<(), PartnerError> {
        let body = json!({
            "template": notice.template,
            "audience": notice.audience,
            "case": notice.reference.as_str(),
        });
        let _: serde_json::Value = self
            .send(
                self.request(reqwest::Method::POST, "messages")
                    .header("Idempotency-Key", &notice.idempotency_key)
                    .json(&body),
            )
            .await?;
        Ok(())
    }

    async fn hand_over(&self, record: &HandOver) -> Result<(), PartnerError> {
        let _: serde_json::Value = self
            .send(
                self.request(reqwest::Method::POST, "handovers")
                    .header("Idempotency-Key", &record.idempotency_key)
                    .json(record),
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_convert_exactly() {
        assert_eq!(to_minor("600.50"), Some(60050));
        assert_eq!(to_minor("600.5"), Some(60050));
        assert_eq!(to_minor("600"), Some(60000));
        assert_eq!(to_minor("1.234"), None);
        assert_eq!(to_minor("abc"), None);
        assert_eq!(from_minor(60005), "600.05");
    }
}
