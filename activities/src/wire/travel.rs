//! The travel partner's wire format, shaped after Duffel's API so that a real provider plugs in
//! by configuration. Every body travels in [`Data`](super::Data):
//! - `POST /air/offer_requests`: [`CreateOfferRequest`], answered by an [`OfferRequest`] that
//!   carries the [`Offer`]s;
//! - `GET /air/offers/{id}`: answered by an [`Offer`] with its passengers' ids;
//! - `POST /air/orders` (with `Idempotency-Key`): [`CreateOrder`], answered by an [`Order`];
//! - `GET /air/orders/{id}`: answered by an [`OrderStatus`] (an airline's cancellation shows);
//! - `POST /air/order_cancellations` (with `Idempotency-Key`): [`CreateCancellation`] naming
//!   the order, answered by a pending [`Cancellation`] (its refund); then
//!   `POST /air/order_cancellations/{id}/actions/confirm` (with `Idempotency-Key`), answered by
//!   the [`Cancellation`] confirmed. Duffel's two steps ("Order Cancellations",
//!   duffel.com/docs/api/v1/order-cancellations).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use homeward_workflows::activities as contract;

use super::from_minor;
use crate::travel::{Fare, NamedPassenger, OfferPassenger, Search};

/// A search for offers: a route, a window and a party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateOfferRequest {
    /// What help the party needs on the journey (absent: none).
    #[serde(default)]
    pub assistance: Assistance,
    /// Homeward's own reference for the search.
    pub metadata: Metadata,
    /// One entry per traveller, by fare: `{"type":"adult"}`, a child's `{"age":9}` (on the
    /// departure date), `{"type":"infant_without_seat"}`.
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
    /// An escort travels with an unaccompanied child (absent: no).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub child_escort: bool,
}

/// Homeward's reference on a search or an order, which the partner keeps and echoes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The case reference (`HW-…`): never a name.
    pub case: String,
}

/// One traveller of a search, or of an offer (which adds the partner's `id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passenger {
    /// A child's age on the departure date (Duffel: under 18, give the age, not a type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<u8>,
    /// The partner's id for the passenger (offers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `adult` or `infant_without_seat` (absent for a child given by age).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl Passenger {
    /// The search entry of a fare.
    pub fn of(fare: Fare) -> Self {
        let (kind, age) = match fare {
            Fare::Adult => (Some("adult".to_owned()), None),
            Fare::Child { age } => (None, Some(age)),
            Fare::InfantWithoutSeat => (Some("infant_without_seat".to_owned()), None),
        };
        Self {
            age,
            id: None,
            kind,
        }
    }

    /// The fare this entry asks for, or what is wrong with it.
    pub fn fare(&self) -> Result<Fare, String> {
        match (self.kind.as_deref(), self.age) {
            (Some("adult"), None) => Ok(Fare::Adult),
            (Some("infant_without_seat"), None) => Ok(Fare::InfantWithoutSeat),
            (None, Some(age)) if (2..18).contains(&age) => Ok(Fare::Child { age }),
            (None, Some(age)) if age < 2 => Ok(Fare::InfantWithoutSeat),
            (None, Some(_)) => Err("age: from 18 a passenger is an adult".into()),
            (Some(other), _) => Err(format!(
                "type: {other:?} is not adult or infant_without_seat"
            )),
            (None, None) => Err("type or age is required".into()),
        }
    }
}

/// One leg of a journey and the days it may leave on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    /// The earliest day to leave.
    pub departure_date: NaiveDate,
    /// Where to: an IATA airport code.
    pub destination: String,
    /// The latest day to leave (absent: the earliest day only).
    #[serde(default)]
    pub latest_departure_date: Option<NaiveDate>,
    /// Where from: an IATA airport code.
    pub origin: String,
}

impl From<&Search> for CreateOfferRequest {
    fn from(search: &Search) -> Self {
        let latest = NaiveDate::from_ymd_opt(9999, 12, 31)
            .map_or(search.latest, |last| search.latest.min(last));
        Self {
            assistance: Assistance {
                medical_escort: search.medical_escort,
                child_escort: search.child_escort,
            },
            metadata: Metadata {
                case: search.reference.as_str().to_owned(),
            },
            passengers: search
                .passengers
                .iter()
                .map(|f| Passenger::of(*f))
                .collect(),
            slices: vec![Slice {
                departure_date: search.earliest,
                destination: search.destination.clone(),
                latest_departure_date: Some(latest),
                origin: search.origin.clone(),
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
    /// The passengers it is for, each with the id an order names them by (absent: none
    /// listed).
    #[serde(default)]
    pub passengers: Vec<Passenger>,
}

impl Offer {
    /// The offer's passengers as the clients read them; an entry without an id or a fare is
    /// the partner's mistake, named.
    pub fn passengers(&self) -> Result<Vec<OfferPassenger>, String> {
        self.passengers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let id =
                    p.id.clone()
                        .ok_or_else(|| format!("passengers[{i}].id is missing"))?;
                let fare = p.fare().map_err(|e| format!("passengers[{i}].{e}"))?;
                Ok(OfferPassenger { id, fare })
            })
            .collect()
    }
}

impl From<(&contract::Offer, &[OfferPassenger])> for Offer {
    fn from((offer, passengers): (&contract::Offer, &[OfferPassenger])) -> Self {
        Self {
            departing_at: offer.departs_at,
            id: offer.offer_id.clone(),
            total_amount: from_minor(offer.total.minor),
            total_currency: offer.total.currency.clone(),
            passengers: passengers
                .iter()
                .map(|p| Passenger {
                    id: Some(p.id.clone()),
                    ..Passenger::of(p.fare)
                })
                .collect(),
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

/// A named traveller, as Duffel's order passengers: the offer's passenger `id`, names as in
/// the travel document, `born_on`, `gender` (`m`/`f`) and `title` (`mr`/`ms`, from the recorded
/// sex: marital status is not asked), contact, the passport where recorded, and for an adult
/// carrying an infant, the infant's passenger id.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPassenger {
    /// Date of birth (absent when only the year is known: the partner refuses it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub born_on: Option<NaiveDate>,
    /// E-mail (absent: not recorded or not shared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Family name, as in the travel document.
    pub family_name: String,
    /// `f` or `m` (absent: not recorded, or neither).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Given names, as in the travel document.
    pub given_name: String,
    /// The offer's passenger id (absent from orders made before offers listed passengers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Passports (Duffel's only identity document type); absent: none recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity_documents: Vec<IdentityDocument>,
    /// The infant this adult carries on their lap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infant_passenger_id: Option<String>,
    /// E.164 (absent: not recorded or not shared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Help on board, by IATA SSR code (`WCHR`, `UMNR`, …; see `crate::travel`). Not one of
    /// Duffel's fields: this contract's one addition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub special_service_requests: Vec<ServiceRequest>,
    /// `mr` or `ms` (absent with the gender).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A special service request: the airline acts on its code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRequest {
    /// The IATA code.
    pub code: String,
}

/// A passport, as Duffel's `identity_documents` entries.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityDocument {
    /// Last valid day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<NaiveDate>,
    /// ISO 3166-1 alpha-2 of the issuing country.
    pub issuing_country_code: String,
    /// `passport`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The document number.
    pub unique_identifier: String,
}

impl std::fmt::Debug for OrderPassenger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OrderPassenger { .. }")
    }
}

impl From<&NamedPassenger> for OrderPassenger {
    fn from(p: &NamedPassenger) -> Self {
        let person = &p.person;
        let gender = person.sex.filter(|s| matches!(*s, "f" | "m"));
        Self {
            born_on: person.born_on,
            email: person.email.clone(),
            family_name: person.family_name.clone().unwrap_or_default(),
            gender: gender.map(str::to_owned),
            given_name: person.given_name.clone().unwrap_or_default(),
            id: Some(p.id.clone()),
            identity_documents: person
                .passport
                .iter()
                .filter_map(|(number, country, expires_on)| {
                    Some(IdentityDocument {
                        expires_on: *expires_on,
                        issuing_country_code: crate::airports::alpha2(country)?.to_owned(),
                        kind: "passport".into(),
                        unique_identifier: number.clone(),
                    })
                })
                .collect(),
            infant_passenger_id: p.infant_passenger_id.clone(),
            phone_number: person.phone.clone(),
            special_service_requests: p
                .services
                .iter()
                .map(|code| ServiceRequest { code: code.clone() })
                .collect(),
            title: gender.map(|g| if g == "f" { "ms" } else { "mr" }.to_owned()),
        }
    }
}

impl CreateOrder {
    /// The order naming the offer's passengers who agreed to share (see `crate::travel`).
    pub fn with_passengers(mut self, people: &[NamedPassenger]) -> Self {
        self.passengers = people.iter().map(OrderPassenger::from).collect();
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

/// A pending cancellation of an order (the key travels in the header).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateCancellation {
    /// The order to cancel.
    pub order_id: String,
}

/// An order cancellation, pending until confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    /// When it was confirmed (the order is then cancelled); `null` while pending.
    #[serde(default)]
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The cancellation's id (`ore_…`), confirmed by `…/{id}/actions/confirm`.
    pub id: String,
    /// The order it cancels.
    pub order_id: String,
    /// What is refunded, as a decimal string.
    #[serde(default)]
    pub refund_amount: Option<String>,
    /// Its currency.
    #[serde(default)]
    pub refund_currency: Option<String>,
}
