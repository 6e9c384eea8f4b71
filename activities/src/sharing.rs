//! What each partner receives of a person, and only with the person's consent.
//!
//! Workflows carry a person only as a member number; the partner activities read the vault at
//! call time and send a partner the fields its purpose needs, for the members who agreed to
//! share with it (the latest recorded answer per purpose counts, `Person::consents_to`). A
//! member without a record, or without consent, travels as an anonymous seat or household
//! count, as before people were recorded: the partner completes the booking with the office.
//! Every share is an audit row naming the purpose, the members and the fields, never a value.
//!
//! The fields per purpose follow data minimisation (GDPR Art. 5(1)(c), UK GDPR the same;
//! <https://gdpr-info.eu/art-5-gdpr/>) and what each partner cannot work without: an airline
//! books a passenger by name, date of birth and sex (IATA passenger data, as Duffel's
//! `passengers` require, <https://duffel.com/docs/api/v2/orders/create-order>); a reception
//! partner meets a named person at arrival and calls them (IOM Reintegration Handbook,
//! module 1.4 on arrival assistance, <https://publications.iom.int/books/reintegration-handbook>);
//! a payment provider pays a named beneficiary, often to a mobile-money number; a consulate
//! issues an emergency travel document (laissez-passer) to a person it can identify as its
//! national: names, sex, date and place of birth, nationality and any document held, as the
//! readmission request forms annexed to the EU's readmission agreements ask (with a photograph,
//! which the officer pastes on the printed request pack, `consulate_pack.rs`).

use std::fmt;

use chrono::{NaiveDate, Utc};

use homeward_workflows::domain::CaseRef;
use homeward_workflows::person::{
    Assistance, BirthDate, DocumentKind, Payout, Person, Purpose, Sex,
};

use crate::store::NewAuditEvent;
use crate::vault::{Record, Vault, VaultError};

/// A field a partner may receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Given and family name, as in the travel document.
    Name,
    /// Date of birth (full dates only: an airline cannot book a year).
    BornOn,
    /// Sex, as in the document.
    Sex,
    /// Phone.
    Phone,
    /// Place and region of final destination.
    Destination,
    /// E-mail.
    Email,
    /// The passport (number, issuing country, expiry), as airlines need it on routes that
    /// ask for one (advance passenger information).
    Passport,
    /// The airport nearest the destination (where the flight goes).
    NearestAirport,
    /// How they receive cash grants (IBAN, mobile-money number, or the document for a cash
    /// pick-up).
    Payout,
    /// Date of birth as recorded: the full date, or the year alone (a consulate's register
    /// knows a person either way; an airline cannot book a year, see [`Field::BornOn`]).
    DateOfBirth,
    /// Place of birth.
    PlaceOfBirth,
    /// Nationality (ISO alpha-3).
    Nationality,
    /// Every identity and travel document held: kind, number, issuing country, expiry.
    Documents,
    /// Help needed on the flight (the airline's special service requests).
    Assistance,
}

impl Field {
    fn as_str(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::BornOn => "born_on",
            Field::Sex => "sex",
            Field::Phone => "phone",
            Field::Destination => "destination",
            Field::Email => "email",
            Field::Passport => "passport",
            Field::NearestAirport => "nearest_airport",
            Field::Payout => "payout",
            Field::DateOfBirth => "date_of_birth",
            Field::PlaceOfBirth => "place_of_birth",
            Field::Nationality => "nationality",
            Field::Documents => "documents",
            Field::Assistance => "assistance",
        }
    }
}

/// The one rule: what each purpose receives.
pub fn fields_for(purpose: Purpose) -> &'static [Field] {
    match purpose {
        // Duffel's order passengers: names, born_on, gender, email, phone_number, and identity
        // documents where the route requires them; the search needs the arrival airport; the
        // airline needs to know who needs a wheelchair or other help on board.
        Purpose::TravelPartner => &[
            Field::Name,
            Field::BornOn,
            Field::Sex,
            Field::Email,
            Field::Phone,
            Field::Passport,
            Field::NearestAirport,
            Field::Assistance,
        ],
        Purpose::ReceptionPartner => &[Field::Name, Field::Phone, Field::Destination],
        Purpose::PaymentProvider => &[Field::Name, Field::Phone, Field::Payout],
        // The travel document request pack: who the person is, and what proves it. No phone,
        // address, destination or money: a consulate needs none of them to issue a document.
        Purpose::Consulate => &[
            Field::Name,
            Field::Sex,
            Field::DateOfBirth,
            Field::PlaceOfBirth,
            Field::Nationality,
            Field::Documents,
        ],
    }
}

/// A member's data as one partner receives it (only its purpose's fields are filled).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Shared {
    /// The member's position in the household.
    pub member: u32,
    /// Given names.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Date of birth.
    pub born_on: Option<NaiveDate>,
    /// `f`, `m` or `x`.
    pub sex: Option<&'static str>,
    /// E.164.
    pub phone: Option<String>,
    /// Town or village, then region, in the country of origin.
    pub destination: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// The passport: number, issuing country (ISO alpha-3), last valid day.
    pub passport: Option<(String, String, Option<NaiveDate>)>,
    /// IATA code of the airport nearest the destination.
    pub nearest_airport: Option<String>,
    /// How they receive cash grants.
    pub payout: Option<Payout>,
    /// Date of birth as recorded: `1990-05-31`, or the year alone (`1990`).
    pub date_of_birth: Option<String>,
    /// Place of birth.
    pub place_of_birth: Option<String>,
    /// Nationality (ISO alpha-3).
    pub nationality: Option<String>,
    /// Identity and travel documents held.
    pub documents: Vec<SharedDocument>,
    /// Help needed on the flight.
    pub assistance: Vec<Assistance>,
}

/// An identity or travel document as a partner receives it.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedDocument {
    /// What it is.
    pub kind: DocumentKind,
    /// Its number, normalised (upper case, no spaces).
    pub number: String,
    /// The issuing country (ISO alpha-3).
    pub issuing_country: String,
    /// Its last valid day.
    pub expires_on: Option<NaiveDate>,
}

impl fmt::Debug for SharedDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedDocument {{ kind: {:?}, .. }}", self.kind)
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Shared {{ member: {}, .. }}", self.member)
    }
}

impl Shared {
    /// What `purpose` receives of `person`; `None` without their consent to it.
    pub fn of(member: u32, person: &Person, purpose: Purpose) -> Option<Self> {
        if !person.consents_to(purpose) || fields_for(purpose).is_empty() {
            return None;
        }
        let mut s = Shared {
            member,
            ..Shared::default()
        };
        for field in fields_for(purpose) {
            match field {
                Field::Name => {
                    s.given_name = Some(person.names.document.given.as_str().to_owned());
                    s.family_name = Some(person.names.document.family.as_str().to_owned());
                }
                Field::BornOn => {
                    s.born_on = match person.date_of_birth {
                        Some(BirthDate::Full(d)) => Some(d),
                        _ => None,
                    }
                }
                Field::Sex => {
                    s.sex = person.sex.map(|x| match x {
                        Sex::Female => "f",
                        Sex::Male => "m",
                        Sex::Unspecified => "x",
                    })
                }
                Field::Phone => s.phone = person.phone.as_ref().map(|p| p.as_str().to_owned()),
                Field::Email => s.email = person.email.as_ref().map(|e| e.as_str().to_owned()),
                Field::Passport => {
                    s.passport = person
                        .documents
                        .iter()
                        .find(|d| d.kind == DocumentKind::Passport)
                        .map(|d| {
                            (
                                d.number.as_str().to_owned(),
                                d.issuing_country.as_str().to_owned(),
                                d.expires_on,
                            )
                        })
                }
                Field::Payout => s.payout = person.payout.clone(),
                Field::Assistance => s.assistance = person.assistance.clone(),
                Field::NearestAirport => {
                    s.nearest_airport = person
                        .destination
                        .as_ref()
                        .and_then(|d| d.nearest_airport.as_ref())
                        .map(|a| a.as_str().to_owned())
                }
                Field::Destination => {
                    s.destination = person.destination.as_ref().map(|d| match &d.region {
                        Some(r) => format!("{}, {}", d.place.as_str(), r.as_str()),
                        None => d.place.as_str().to_owned(),
                    })
                }
                Field::DateOfBirth => s.date_of_birth = person.date_of_birth.map(|d| d.to_string()),
                Field::PlaceOfBirth => {
                    s.place_of_birth = person
                        .place_of_birth
                        .as_ref()
                        .map(|p| p.as_str().to_owned())
                }
                Field::Nationality => {
                    s.nationality = person.nationality.as_ref().map(|c| c.as_str().to_owned())
                }
                Field::Documents => {
                    s.documents = person
                        .documents
                        .iter()
                        .map(|d| SharedDocument {
                            kind: d.kind,
                            number: d.number.as_str().to_owned(),
                            issuing_country: d.issuing_country.as_str().to_owned(),
                            expires_on: d.expires_on,
                        })
                        .collect()
                }
            }
        }
        Some(s)
    }
}

/// The case's person records; none for an erased case or one without records.
async fn records(vault: &Vault, reference: &CaseRef) -> Result<Vec<Record>, VaultError> {
    match vault.people(reference).await {
        Err(VaultError::Erased | VaultError::NotFound) => Ok(vec![]),
        other => other,
    }
}

/// The principal applicant's (member 0) record, if any.
fn principal(records: &[Record]) -> Option<&Person> {
    records.iter().find(|r| r.member == 0).map(|r| &r.person)
}

/// A purpose's name as the audit trail writes it (`travel_partner`).
fn purpose_name(purpose: Purpose) -> String {
    serde_json::to_value(purpose)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// One audit row by the system about a case's personal data: names and fields, never values.
async fn audit(
    vault: &Vault,
    reference: &CaseRef,
    action: &str,
    outcome: &str,
    detail: String,
) -> Result<(), VaultError> {
    vault
        .store()
        .append_audit(&NewAuditEvent {
            case_ref: Some(reference.clone()),
            actor: "system".into(),
            role: "system".into(),
            action: action.into(),
            outcome: outcome.into(),
            detail: Some(detail),
            occurred_at: Utc::now(),
        })
        .await?;
    Ok(())
}

/// The members of a case who agreed to share with `purpose`, as it receives them; audited when
/// anyone is shared. An erased case, or one without records, shares no one.
pub async fn for_purpose(
    vault: &Vault,
    reference: &CaseRef,
    purpose: Purpose,
) -> Result<Vec<Shared>, VaultError> {
    let shared: Vec<Shared> = records(vault, reference)
        .await?
        .iter()
        .filter_map(|r| Shared::of(r.member, &r.person, purpose))
        .collect();
    if !shared.is_empty() {
        let members: Vec<String> = shared.iter().map(|s| s.member.to_string()).collect();
        let fields: Vec<&str> = fields_for(purpose).iter().map(|f| f.as_str()).collect();
        let detail = format!(
            "{}: members {}; fields {}",
            purpose_name(purpose),
            members.join(","),
            fields.join(",")
        );
        audit(vault, reference, "personal_data_shared", "recorded", detail).await?;
    }
    Ok(shared)
}

/// The principal applicant's phone (E.164), read at send time for an SMS to them; `None`
/// without a record, a number, or after erasure. Audited as a share with the SMS gateway
/// (member and field, never the number).
pub async fn principal_phone(
    vault: &Vault,
    reference: &CaseRef,
    safe_only: bool,
) -> Result<Result<String, crate::notices::NoSms>, VaultError> {
    use crate::notices::NoSms;
    let records = records(vault, reference).await?;
    let Some(principal) = principal(&records) else {
        return Ok(Err(NoSms::NoPhone));
    };
    let Some(phone) = principal.phone.as_ref().map(|p| p.as_str().to_owned()) else {
        return Ok(Err(NoSms::NoPhone));
    };
    if safe_only && !principal.phone_safe {
        return Ok(Err(NoSms::NotConfirmedSafe));
    }
    let detail = "sms_gateway: members 0; fields phone".to_owned();
    audit(vault, reference, "personal_data_shared", "recorded", detail).await?;
    Ok(Ok(phone))
}

/// Whether the principal applicant (member 0) agreed to `purpose` (their latest recorded
/// answer); `false` without a record or after erasure. Audited as a read of the record (the
/// answer, never a value).
pub async fn principal_agrees(
    vault: &Vault,
    reference: &CaseRef,
    purpose: Purpose,
) -> Result<bool, VaultError> {
    let records = records(vault, reference).await?;
    let agreed = principal(&records).is_some_and(|p| p.consents_to(purpose));
    let outcome = if agreed { "agreed" } else { "not_agreed" };
    let detail = format!("{}: member 0", purpose_name(purpose));
    audit(vault, reference, "consent_checked", outcome, detail).await?;
    Ok(agreed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(consents: &[(&str, bool)]) -> Person {
        serde_json::from_value(serde_json::json!({
            "names": {"document": {"given": "Amal", "family": "Hassan"}},
            "sex": "female",
            "date_of_birth": "1990-05-31",
            "place_of_birth": "Mosul",
            "nationality": "IRQ",
            "documents": [
                {"kind": "national_id", "number": "IQ 1234 5678", "issuing_country": "IRQ"},
                {"kind": "passport", "number": "A1234567", "issuing_country": "IRQ",
                 "expires_on": "2025-01-31"}
            ],
            "phone": "+9647701234567",
            "email": "amal@example.org",
            "destination": {"place": "Erbil", "region": "Kurdistan", "nearest_airport": "EBL"},
            "payout": {"method": "mobile_money", "phone": "+9647701234567"},
            "consents": consents.iter().map(|(p, g)| serde_json::json!({
                "purpose": p, "given": g, "recorded_by": "u-1",
                "recorded_at": "2026-11-01T09:00:00Z"
            })).collect::<Vec<_>>()
        }))
        .unwrap()
    }

    #[test]
    fn each_partner_receives_only_its_purposes_fields_and_only_with_consent() {
        let p = person(&[
            ("travel_partner", true),
            ("reception_partner", true),
            ("payment_provider", true),
            ("consulate", true),
        ]);
        let travel = Shared::of(0, &p, Purpose::TravelPartner).unwrap();
        assert_eq!(travel.family_name.as_deref(), Some("Hassan"));
        assert_eq!(travel.born_on, NaiveDate::from_ymd_opt(1990, 5, 31));
        assert_eq!(travel.sex, Some("f"));
        assert_eq!(travel.phone.as_deref(), Some("+9647701234567"));
        assert_eq!(
            travel.destination, None,
            "the airline needs the airport, not the village"
        );
        let reception = Shared::of(0, &p, Purpose::ReceptionPartner).unwrap();
        assert_eq!(reception.phone.as_deref(), Some("+9647701234567"));
        assert_eq!(reception.destination.as_deref(), Some("Erbil, Kurdistan"));
        assert_eq!((reception.born_on, reception.sex), (None, None));
        let pay = Shared::of(0, &p, Purpose::PaymentProvider).unwrap();
        assert_eq!(pay.phone.as_deref(), Some("+9647701234567"));
        assert_eq!(pay.destination, None);
        for other in [&travel, &reception, &pay] {
            assert_eq!(
                (
                    &other.place_of_birth,
                    &other.nationality,
                    other.documents.len()
                ),
                (&None, &None, 0),
                "only the consulate needs the place of birth, nationality and every document"
            );
        }

        // The consulate: who the person is and what proves it, nothing to reach or pay them.
        let consulate = Shared::of(0, &p, Purpose::Consulate).unwrap();
        assert_eq!(
            (
                consulate.given_name.as_deref(),
                consulate.family_name.as_deref(),
                consulate.sex,
                consulate.date_of_birth.as_deref(),
                consulate.place_of_birth.as_deref(),
                consulate.nationality.as_deref(),
            ),
            (
                Some("Amal"),
                Some("Hassan"),
                Some("f"),
                Some("1990-05-31"),
                Some("Mosul"),
                Some("IRQ")
            )
        );
        let documents: Vec<_> = consulate
            .documents
            .iter()
            .map(|d| {
                (
                    d.kind,
                    d.number.as_str(),
                    d.issuing_country.as_str(),
                    d.expires_on,
                )
            })
            .collect();
        assert_eq!(
            documents,
            [
                (DocumentKind::NationalId, "IQ12345678", "IRQ", None),
                (
                    DocumentKind::Passport,
                    "A1234567",
                    "IRQ",
                    NaiveDate::from_ymd_opt(2025, 1, 31)
                ),
            ],
            "every document held, an expired passport too (it still proves nationality)"
        );
        assert_eq!(
            (
                &consulate.phone,
                &consulate.email,
                &consulate.destination,
                &consulate.nearest_airport,
                &consulate.payout,
                &consulate.passport,
                consulate.born_on,
            ),
            (&None, &None, &None, &None, &None, &None, None)
        );

        // No answer, or a withdrawn one, shares nothing.
        let none = person(&[]);
        assert!(Shared::of(0, &none, Purpose::TravelPartner).is_none());
        let withdrawn = person(&[("travel_partner", true), ("travel_partner", false)]);
        assert!(Shared::of(0, &withdrawn, Purpose::TravelPartner).is_none());
    }

    #[test]
    fn a_consulate_receives_a_year_of_birth_where_an_airline_receives_none() {
        let mut p = person(&[("consulate", true), ("travel_partner", true)]);
        p.date_of_birth = Some(BirthDate::Year(1987));
        let consulate = Shared::of(0, &p, Purpose::Consulate).unwrap();
        assert_eq!(consulate.date_of_birth.as_deref(), Some("1987"));
        assert_eq!(
            Shared::of(0, &p, Purpose::TravelPartner).unwrap().born_on,
            None
        );
        // Consent to another purpose is not consent to the consulate.
        let other = person(&[("travel_partner", true), ("consulate", false)]);
        assert!(Shared::of(0, &other, Purpose::Consulate).is_none());
    }

    #[test]
    fn a_shared_person_never_prints_a_value() {
        let p = person(&[("travel_partner", true)]);
        let s = Shared::of(3, &p, Purpose::TravelPartner).unwrap();
        assert_eq!(format!("{s:?}"), "Shared { member: 3, .. }");
    }
}
