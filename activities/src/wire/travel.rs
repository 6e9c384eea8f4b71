//! The travel partner's wire format, shaped after Duffel's API so that a real provider plugs in
//! by configuration. Every body travels in [`Data`](super::Data):
//! - `POST /air/offer_requests`: [`CreateOfferRequest`], answered by an [`OfferRequest`] that
//!   carries the [`Offer`]s;
//! - `POST /air/orders` (with `Idempotency-Key`): [`CreateOrder`], answered by an [`Order`];
//! - `GET /air/orders/{id}`: answered by an [`OrderStatus`] (an airline's cancellation shows);
//! - `POST /air/orders/{id}/actions/cancel` (with `Idempotency-Key`): [`CreateCancellation`],
//!   answered by a [`Cancellation`].

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use homeward_workflows::activities as contract;

use super::from_minor;

/// A search for offers: a route, a window and a party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOfferRequest {
    /// What help the party needs on the journey (absent: none).
    #[serde(default)]
    pub assistance: Assistance,
    /// Homeward's own reference for the search.
    pub metadata: Metadata,
    /// One entry per traveller; the sandbox counts them.
    pub passengers: Vec<Passenger>,
    /// The journey; Homeward sends one slice, and the sandbox reads the first.
    pub slices: Vec<Slice>,
}

/// Help a party needs on the journey.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assistance {
    /// A medical escort travels with the party (absent: no).
    #[serde(default)]
    pub medical_escort: bool,
}

/// Homeward's reference on a search or an order, which the partner keeps and echoes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The case reference (`HW-…`): never a name.
    pub case: String,
}

/// One traveller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passenger {
    /// The fare type: Homeward books every traveller as `adult` (a seat each).
    #[serde(rename = "type")]
    pub kind: String,
}

/// One leg of a journey and the days it may leave on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    /// The earliest day to leave.
    pub departure_date: NaiveDate,
    /// Where to (Homeward sends the ISO alpha-3 country of origin).
    pub destination: String,
    /// The latest day to leave (absent: the earliest day only).
    #[serde(default)]
    pub latest_departure_date: Option<NaiveDate>,
    /// Where from (Homeward sends the ISO alpha-3 host country).
    pub origin: String,
}

impl From<&contract::OfferRequest> for CreateOfferRequest {
    fn from(request: &contract::OfferRequest) -> Self {
        let latest = NaiveDate::from_ymd_opt(9999, 12, 31)
            .map_or(request.latest, |last| request.latest.min(last));
        Self {
            assistance: Assistance {
                medical_escort: request.medical_escort,
            },
            metadata: Metadata {
                case: request.reference.as_str().to_owned(),
            },
            passengers: (0..request.travellers)
                .map(|_| Passenger {
                    kind: "adult".into(),
                })
                .collect(),
            slices: vec![Slice {
                departure_date: request.earliest,
                destination: request.to_country.as_str().to_owned(),
                latest_departure_date: Some(latest),
                origin: request.from_country.as_str().to_owned(),
            }],
        }
    }
}

/// The answer to a search: the offer request, with its offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfferRequest {
    /// The partner's id of the search (the clients do not need it; absent reads as empty).
    #[serde(default)]
    pub id: String,
    /// What the partner offers, in its own order.
    pub offers: Vec<Offer>,
}

/// A bookable flight for the whole party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    /// When it leaves.
    pub departing_at: DateTime<Utc>,
    /// The partner's offer id, booked by [`CreateOrder::selected_offers`].
    pub id: String,
    /// The price for the whole party, as a decimal string (`"612.40"`): exact, unlike a
    /// JSON number.
    pub total_amount: String,
    /// ISO 4217.
    pub total_currency: String,
}

impl From<&contract::Offer> for Offer {
    fn from(offer: &contract::Offer) -> Self {
        Self {
            departing_at: offer.departs_at,
            id: offer.offer_id.clone(),
            total_amount: from_minor(offer.total.minor),
            total_currency: offer.total.currency.clone(),
        }
    }
}

/// A booking of one offer (the `Idempotency-Key` header makes a retry find the same order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOrder {
    /// Homeward's own reference for the order.
    pub metadata: Metadata,
    /// The travellers who agreed to share their data with the travel partner (absent: none;
    /// the partner then holds anonymous seats, completed with the office).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passengers: Vec<OrderPassenger>,
    /// The offer to book; Homeward sends one, and the sandbox reads the first.
    pub selected_offers: Vec<String>,
}

/// A named traveller, as Duffel's order passengers (`given_name`, `family_name`, `born_on`,
/// `gender`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPassenger {
    /// Date of birth (absent when only the year is known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub born_on: Option<NaiveDate>,
    /// Family name, as in the travel document.
    pub family_name: String,
    /// `f`, `m` or `x` (absent: not recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Given names, as in the travel document.
    pub given_name: String,
}

impl std::fmt::Debug for OrderPassenger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrderPassenger { .. }")
    }
}

impl CreateOrder {
    /// The order with the travellers who agreed to share (see `crate::sharing`).
    pub fn with_passengers(mut self, people: &[crate::sharing::Shared]) -> Self {
        self.passengers = people
            .iter()
            .map(|p| OrderPassenger {
                born_on: p.born_on,
                family_name: p.family_name.clone().unwrap_or_default(),
                gender: p.sex.map(str::to_owned),
                given_name: p.given_name.clone().unwrap_or_default(),
            })
            .collect();
        self
    }
}

impl From<&contract::OrderRequest> for CreateOrder {
    fn from(request: &contract::OrderRequest) -> Self {
        Self {
            metadata: Metadata {
                case: request.reference.as_str().to_owned(),
            },
            passengers: vec![],
            selected_offers: vec![request.offer_id.clone()],
        }
    }
}

/// A booked order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// When the flight leaves (an airline may move it; [`OrderStatus`] shows the latest).
    pub departing_at: DateTime<Utc>,
    /// The partner's order id.
    pub id: String,
    /// The price paid for the whole party, as a decimal string.
    pub total_amount: String,
    /// ISO 4217.
    pub total_currency: String,
}

impl From<&contract::Order> for Order {
    fn from(order: &contract::Order) -> Self {
        Self {
            departing_at: order.departs_at,
            id: order.order_id.clone(),
            total_amount: from_minor(order.total.minor),
            total_currency: order.total.currency.clone(),
        }
    }
}

/// An order as `GET /air/orders/{id}` shows it: the order, and whether it was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStatus {
    /// When the order was cancelled, by Homeward or by the airline; `null` (or absent) while
    /// it stands.
    #[serde(default)]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// The order itself.
    #[serde(flatten)]
    pub order: Order,
}

/// A cancellation: the body is empty, the order is in the path and the key in the header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateCancellation {}

/// The answer to a cancellation (the clients do not read it: cancelling twice succeeds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    /// The cancelled order's id.
    pub id: String,
    /// `cancelled`.
    pub status: String,
}
