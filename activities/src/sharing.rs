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
//! a payment provider pays a named beneficiary, often to a mobile-money number.

use std::fmt;

use chrono::{NaiveDate, Utc};

use homeward_workflows::domain::CaseRef;
use homeward_workflows::person::{BirthDate, DocumentKind, Payout, Person, Purpose, Sex};

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
        }
    }
}

/// The one rule: what each purpose receives.
pub fn fields_for(purpose: Purpose) -> &'static [Field] {
    match purpose {
        // Duffel's order passengers: names, born_on, gender, email, phone_number, and identity
        // documents where the route requires them; the search needs the arrival airport.
        Purpose::TravelPartner => &[
            Field::Name,
            Field::BornOn,
            Field::Sex,
            Field::Email,
            Field::Phone,
            Field::Passport,
            Field::NearestAirport,
        ],
        Purpose::ReceptionPartner => &[Field::Name, Field::Phone, Field::Destination],
        Purpose::PaymentProvider => &[Field::Name, Field::Phone, Field::Payout],
        // Homeward sends nothing to a consulate itself; the officer applies for documents.
        Purpose::Consulate => &[],
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
) -> Result<Option<String>, VaultError> {
    let records = records(vault, reference).await?;
    let phone = principal(&records)
        .and_then(|p| p.phone.as_ref())
        .map(|p| p.as_str().to_owned());
    if phone.is_some() {
        let detail = "sms_gateway: members 0; fields phone".to_owned();
        audit(vault, reference, "personal_data_shared", "recorded", detail).await?;
    }
    Ok(phone)
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
            "phone": "+9647701234567",
            "destination": {"place": "Erbil", "region": "Kurdistan"},
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
        assert!(Shared::of(0, &p, Purpose::Consulate).is_none());

        // No answer, or a withdrawn one, shares nothing.
        let none = person(&[]);
        assert!(Shared::of(0, &none, Purpose::TravelPartner).is_none());
        let withdrawn = person(&[("travel_partner", true), ("travel_partner", false)]);
        assert!(Shared::of(0, &withdrawn, Purpose::TravelPartner).is_none());
    }

    #[test]
    fn a_shared_person_never_prints_a_value() {
        let p = person(&[("travel_partner", true)]);
        let s = Shared::of(3, &p, Purpose::TravelPartner).unwrap();
        assert_eq!(format!("{s:?}"), "Shared { member: 3, .. }");
    }
}
