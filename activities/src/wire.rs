//! The partners' wire formats, one submodule per partner: the JSON bodies that Homeward's HTTP
//! clients ([`crate::http_partners`]) send and read, and that the development sandbox
//! (`homeward-devkit`) reads and answers. Defined once, so the two sides cannot drift apart.
//!
//! - [`travel`]: Duffel-shaped offer requests, offers, orders, order status, cancellations.
//! - [`payments`]: disbursements, their status, and the provider's webhook event.
//! - [`outreach`]: messages to the notification gateway, hand-overs to the reception partner.
//!
//! The structs mirror the JSON and nothing more: strings, dates, numbers, and the domain's own
//! serde enums where a body carries exactly those. Building a body from domain values is a
//! `From` beside its struct; reading one into domain values, with the checks each side needs,
//! is the business of the side that reads it. Fields are declared in alphabetical order where
//! the body used to be written with `json!` (serde_json sorts those keys), so the bytes on the
//! wire did not change when these structs replaced it. This module does no I/O.

use serde::{Deserialize, Serialize};

pub mod outreach;
pub mod payments;
pub mod travel;

/// Duffel's envelope: every travel body, sent or answered, is `{"data": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Data<T> {
    /// The body proper.
    pub data: T,
}

/// A partner's refusal, as the sandbox writes it (Duffel's shape):
/// `{"errors": [{"message": …}]}`. The clients read any partner's error text more leniently
/// (`http_partners::classify`): a real partner may answer `{"message": …}` or `{"error": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Errors {
    /// What went wrong; the first entry's message is the one shown.
    pub errors: Vec<ErrorEntry>,
}

/// One entry of [`Errors`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEntry {
    /// The partner's own words (no personal data).
    pub message: String,
    /// A short title (`not found`), when the partner gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl Errors {
    /// A refusal with one message.
    pub fn message(message: impl Into<String>) -> Self {
        Self::titled(None, message)
    }

    /// A refusal with a title and a message.
    pub fn titled(title: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            errors: vec![ErrorEntry {
                message: message.into(),
                title: title.map(str::to_owned),
            }],
        }
    }
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

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone, Utc};
    use homeward_workflows::activities as contract;
    use homeward_workflows::domain::{CaseRef, CountryCode};
    use homeward_workflows::programme::{Money, PaymentKind};

    use super::*;
    use crate::notices::{Channel, Message};

    fn json(body: &impl Serialize) -> String {
        serde_json::to_string(body).unwrap_or_default()
    }

    /// The bytes each client sent before these structs existed (captured from the `json!`
    /// bodies they replaced): a partner that parsed them then parses them now.
    #[test]
    fn request_bodies_are_the_bytes_they_always_were() {
        let reference = CaseRef::parse("HW-0123456789AB").expect("ref");
        // Changed on purpose (issue "Partner messages that a real partner would accept"):
        // airports by IATA code, passengers by fare (a child's age, an infant on a lap).
        let search = crate::travel::Search {
            reference: reference.clone(),
            origin: "AMS".into(),
            destination: "EBL".into(),
            earliest: NaiveDate::from_ymd_opt(2027, 1, 10).expect("date"),
            latest: NaiveDate::from_ymd_opt(2027, 3, 1).expect("date"),
            passengers: vec![
                crate::travel::Fare::Adult,
                crate::travel::Fare::Child { age: 9 },
                crate::travel::Fare::InfantWithoutSeat,
            ],
            medical_escort: true,
            child_escort: false,
        };
        assert_eq!(
            json(&Data {
                data: travel::CreateOfferRequest::from(&search)
            }),
            r#"{"data":{"assistance":{"medical_escort":true},"metadata":{"case":"HW-0123456789AB"},"passengers":[{"type":"adult"},{"age":9},{"type":"infant_without_seat"}],"slices":[{"departure_date":"2027-01-10","destination":"EBL","latest_departure_date":"2027-03-01","origin":"AMS"}]}}"#
        );
        let order = contract::OrderRequest {
            idempotency_key: "k".into(),
            reference: reference.clone(),
            offer_id: "off_1".into(),
            escort_return_offer_id: None,
        };
        assert_eq!(
            json(&Data {
                data: travel::CreateOrder::from(&order)
            }),
            r#"{"data":{"metadata":{"case":"HW-0123456789AB"},"selected_offers":["off_1"]}}"#
        );
        // Changed on purpose: Duffel's order cancellation names the order in its body.
        assert_eq!(
            json(&Data {
                data: travel::CreateCancellation {
                    order_id: "ord_1".into()
                }
            }),
            r#"{"data":{"order_id":"ord_1"}}"#
        );
        let payment = contract::Disbursement {
            idempotency_key: "k".into(),
            reference: reference.clone(),
            tranche: "start".into(),
            kind: PaymentKind::InKind,
            amount: Money {
                minor: 150005,
                currency: "EUR".into(),
            },
            invoice: None,
        };
        assert_eq!(
            json(&payments::CreateDisbursement::from(&payment)),
            r#"{"amount":"1500.05","currency":"EUR","kind":"in_kind","reference":"HW-0123456789AB","tranche":"start"}"#
        );
        let message = Message {
            notice: contract::Notice {
                idempotency_key: "k".into(),
                reference: reference.clone(),
                template: contract::NoticeTemplate::FlightBooked,
                audience: contract::Audience::Returnee,
                language: None,
                task: None,
                flight: None,
                safe_phone_only: false,
            },
            channel: Channel::Sms,
            language: "en".into(),
            subject: "Booked".into(),
            text: "Case HW-0123456789AB.".into(),
            attachments: vec![],
        };
        assert_eq!(
            json(&outreach::Message::from(&message)),
            r#"{"channel":"sms","language":"en","subject":"Booked","template":"flight_booked","text":"Case HW-0123456789AB.","to":{"audience":"returnee","case":"HW-0123456789AB"}}"#
        );
        // Added on purpose (issue 13): the consulate's request pack, base64, before the channel.
        let mut request = message.clone();
        request.notice.template = contract::NoticeTemplate::DocumentsRequested;
        request.notice.audience = contract::Audience::Consulate;
        request.channel = Channel::Email;
        request.attachments = vec![crate::notices::Attachment {
            filename: "HW-0123456789AB-travel-document-request.pdf".into(),
            content_type: "application/pdf".into(),
            content: b"%PDF-1.7".to_vec(),
        }];
        assert_eq!(
            json(&outreach::Message::from(&request)),
            r#"{"attachments":[{"content":"JVBERi0xLjc=","content_type":"application/pdf","filename":"HW-0123456789AB-travel-document-request.pdf"}],"channel":"email","language":"en","subject":"Booked","template":"documents_requested","text":"Case HW-0123456789AB.","to":{"audience":"consulate","case":"HW-0123456789AB"}}"#
        );
        let hand_over = contract::HandOver {
            idempotency_key: "k".into(),
            reference: reference.clone(),
            origin_country: CountryCode::parse("IRQ").expect("IRQ"),
            arrives_at: Utc
                .with_ymd_and_hms(2027, 1, 12, 15, 0, 0)
                .single()
                .expect("time"),
            household_size: 3,
            unaccompanied_child: false,
            medical_assistance: true,
        };
        // The hand-over was sent as the workflow contract's own serde shape: still the same.
        assert_eq!(
            json(&outreach::HandOver::from(&hand_over)),
            json(&hand_over)
        );
        assert_eq!(
            json(&payments::Event::disbursement_updated(
                "pay-1",
                contract::PaymentState::Confirmed,
                &reference,
                "k"
            )),
            r#"{"data":{"id":"pay-1","idempotency_key":"k","reference":"HW-0123456789AB","status":"confirmed"},"id":"evt_pay-1_confirmed","type":"disbursement.updated"}"#
        );
    }

    /// The people a partner may receive travel after the fields above, in Duffel's names.
    #[test]
    fn shared_people_travel_under_the_partners_names() {
        use crate::sharing::Shared;
        let reference = CaseRef::parse("HW-0123456789AB").expect("ref");
        let amal = Shared {
            member: 0,
            given_name: Some("Amal".into()),
            family_name: Some("Hassan".into()),
            born_on: NaiveDate::from_ymd_opt(1990, 5, 31),
            sex: Some("f"),
            phone: Some("+9647701234567".into()),
            destination: Some("Erbil".into()),
            email: Some("amal@example.org".into()),
            passport: Some((
                "A1234567".into(),
                "IRQ".into(),
                NaiveDate::from_ymd_opt(2030, 1, 1),
            )),
            nearest_airport: Some("EBL".into()),
            payout: Some(homeward_workflows::person::Payout::MobileMoney {
                phone: homeward_workflows::person::Phone::parse("+9647701234567").expect("phone"),
            }),
            ..Shared::default()
        };
        let named = crate::travel::NamedPassenger {
            id: "pas_0".into(),
            person: amal.clone(),
            infant_passenger_id: Some("pas_2".into()),
            // Changed on purpose (2026-11-30): help on board, by IATA SSR code.
            services: vec!["WCHR".into()],
        };
        let order = contract::OrderRequest {
            idempotency_key: "k".into(),
            reference: reference.clone(),
            offer_id: "off_1".into(),
            escort_return_offer_id: None,
        };
        assert_eq!(
            json(&travel::CreateOrder::from(&order).with_passengers(std::slice::from_ref(&named))),
            r#"{"metadata":{"case":"HW-0123456789AB"},"passengers":[{"born_on":"1990-05-31","email":"amal@example.org","family_name":"Hassan","gender":"f","given_name":"Amal","id":"pas_0","identity_documents":[{"expires_on":"2030-01-01","issuing_country_code":"IQ","type":"passport","unique_identifier":"A1234567"}],"infant_passenger_id":"pas_2","phone_number":"+9647701234567","special_service_requests":[{"code":"WCHR"}],"title":"ms"}],"selected_offers":["off_1"]}"#
        );
        let payment = contract::Disbursement {
            idempotency_key: "k".into(),
            reference,
            tranche: "start".into(),
            kind: PaymentKind::Cash,
            amount: Money {
                minor: 100,
                currency: "EUR".into(),
            },
            invoice: None,
        };
        assert_eq!(
            json(&payments::CreateDisbursement::from(&payment).to_beneficiary(Some(&amal))),
            r#"{"amount":"1.00","beneficiary":{"family_name":"Hassan","given_name":"Amal","phone_number":"+9647701234567"},"currency":"EUR","kind":"cash","payee":{"type":"mobile_money","phone_number":"+9647701234567"},"reference":"HW-0123456789AB","tranche":"start"}"#
        );
        // Added on purpose (2026-11-30): in-kind support is paid to a supplier against its
        // invoice (the supplier's name and account from the register, the invoice's number).
        let in_kind = contract::Disbursement {
            kind: PaymentKind::InKind,
            invoice: Some(contract::Invoice {
                supplier: "sup-0123456789abcdef".into(),
                invoice_reference: "INV-2027-041".into(),
            }),
            ..payment
        };
        let supplier = crate::suppliers::Supplier {
            id: "sup-0123456789abcdef".into(),
            office: "NLD".into(),
            name: "Erbil Tools Ltd".into(),
            iban: "NL91ABNA0417164300".into(),
            created_by: "u-finance".into(),
            created_at: chrono::Utc::now(),
        };
        assert_eq!(
            json(
                &payments::CreateDisbursement::from(&in_kind)
                    .to_beneficiary(Some(&amal))
                    .to_supplier(Some(&supplier), in_kind.invoice.as_ref())
            ),
            r#"{"amount":"1.00","beneficiary":{"family_name":"Hassan","given_name":"Amal","phone_number":"+9647701234567"},"currency":"EUR","kind":"in_kind","payee":{"type":"supplier","name":"Erbil Tools Ltd","iban":"NL91ABNA0417164300","invoice_reference":"INV-2027-041"},"reference":"HW-0123456789AB","tranche":"start"}"#
        );
    }

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
