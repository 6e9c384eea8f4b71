//! The returnee as a person: one record per household member, with names (as in the document,
//! in the original script, transliterated), sex, date of birth (full or year only), place of
//! birth, nationality, identity and travel documents, phone and e-mail, language, final
//! destination, and per-purpose consent to share data.
//!
//! These are domain types that parse, not validate; workflows never hold them (a case carries a
//! member only as its position). They live encrypted in the person vault
//! (`homeward_activities::vault`), are shown per role (the API), and are read by activities at
//! the moment a partner needs them. `Debug` prints no value: a person never reaches a log.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::domain::{CountryCode, DomainError, Language};

/// Free text in a person record (a name, a place): 1 to 200 characters, trimmed, no control
/// characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Text(String);

impl Text {
    /// Parses free text for `field`.
    pub fn parse(raw: &str, field: &'static str) -> Result<Self, DomainError> {
        let t = raw.trim();
        if t.is_empty() || t.chars().count() > 200 || t.chars().any(char::is_control) {
            return Err(DomainError::new(
                field,
                "must be 1 to 200 characters, without control characters",
            ));
        }
        Ok(Self(t.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's name in one writing: given names and family name.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Name {
    /// Given names, as written.
    pub given: Text,
    /// Family name(s), as written.
    pub family: Text,
}

/// A name in its original script, with the script's ISO 15924 code.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptName {
    /// Given names in the original script.
    pub given: Text,
    /// Family name in the original script.
    pub family: Text,
    /// ISO 15924 code of the script, e.g. `Arab`, `Cyrl`.
    pub script: Script,
}

/// An ISO 15924 script code: four letters, the first upper case (`Arab`, `Cyrl`, `Ethi`).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Script(String);

impl Script {
    /// Parses a script code; `Arab` and `arab` alike.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let r = raw.trim();
        if r.len() == 4 && r.bytes().all(|b| b.is_ascii_alphabetic()) {
            let mut s = r.to_ascii_lowercase();
            s[..1].make_ascii_uppercase();
            Ok(Self(s))
        } else {
            Err(DomainError::new(
                "names.original.script",
                "must be an ISO 15924 script code, e.g. Arab",
            ))
        }
    }
}

/// A person's names: as in the identity document, in the original script, transliterated.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    /// As written in the travel or identity document (usually Latin script).
    pub document: Name,
    /// As written in the original script, if it is not Latin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<ScriptName>,
    /// A transliteration of the original, where it differs from the document's spelling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transliteration: Option<Name>,
}

/// Sex as a travel document records it (ICAO 9303: F, M or X).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// F.
    Female,
    /// M.
    Male,
    /// X: unspecified.
    Unspecified,
}

/// Help a person needs on a flight, each the airline's special service request (SSR) of the
/// same meaning. The codes are IATA's, as carriers and reservation systems publish them
/// (Travelport, "SSR Codes for Meals and Special Services",
/// support.travelport.com/webhelp/GWS/Content/XML_Select_Web_Service/Codes/ssr_codes.htm, and
/// "SSR Disability Request Payload Options", AirReservation 20.9.1: BLND, DEAF, DPNA, WCHC,
/// WCHR, WCHS; MEDA and STCR need the airline's medical clearance, IATA Medical Manual).
/// Health data: kept in the person record only, shared with the travel partner with consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assistance {
    /// WCHR: can climb steps and move in the cabin, not walk long distances.
    WheelchairToAircraft,
    /// WCHS: cannot climb steps, can move in the cabin.
    WheelchairSteps,
    /// WCHC: immobile, carried to and from the seat.
    WheelchairCabin,
    /// BLND: blind or with low vision.
    Blind,
    /// DEAF: deaf or hard of hearing.
    Deaf,
    /// DPNA: an intellectual or developmental disability, needing assistance.
    IntellectualDisability,
    /// MEDA: a medical case (the airline's medical clearance, MEDIF).
    Medical,
    /// STCR: travels on a stretcher.
    Stretcher,
}

impl Assistance {
    /// Every kind of help, in order.
    pub const ALL: [Assistance; 8] = [
        Assistance::WheelchairToAircraft,
        Assistance::WheelchairSteps,
        Assistance::WheelchairCabin,
        Assistance::Blind,
        Assistance::Deaf,
        Assistance::IntellectualDisability,
        Assistance::Medical,
        Assistance::Stretcher,
    ];

    /// The IATA SSR code the airline acts on.
    pub fn ssr_code(self) -> &'static str {
        match self {
            Assistance::WheelchairToAircraft => "WCHR",
            Assistance::WheelchairSteps => "WCHS",
            Assistance::WheelchairCabin => "WCHC",
            Assistance::Blind => "BLND",
            Assistance::Deaf => "DEAF",
            Assistance::IntellectualDisability => "DPNA",
            Assistance::Medical => "MEDA",
            Assistance::Stretcher => "STCR",
        }
    }
}

/// A date of birth: the full date, or the year alone when that is all that is known.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum BirthDate {
    /// Day, month and year.
    Full(NaiveDate),
    /// The year only.
    Year(i32),
}

impl BirthDate {
    /// Parses `1990-05-31` or `1990`, not in the future nor before 1900 (`today` is the
    /// caller's clock).
    pub fn parse(raw: &str, today: NaiveDate) -> Result<Self, DomainError> {
        let problem = || {
            DomainError::new(
                "date_of_birth",
                "must be a date (1990-05-31) or a year (1990), from 1900 to today",
            )
        };
        let r = raw.trim();
        let date = if r.len() == 4 {
            let y: i32 = r.parse().map_err(|_| problem())?;
            BirthDate::Year(y)
        } else {
            BirthDate::Full(NaiveDate::parse_from_str(r, "%Y-%m-%d").map_err(|_| problem())?)
        };
        let year = date.year();
        let in_future = match date {
            BirthDate::Full(d) => d > today,
            BirthDate::Year(y) => y > today.year(),
        };
        if !(1900..=9999).contains(&year) || in_future {
            return Err(problem());
        }
        Ok(date)
    }

    /// The year of birth.
    pub fn year(self) -> i32 {
        match self {
            BirthDate::Full(d) => d.year(),
            BirthDate::Year(y) => y,
        }
    }

    /// Age in whole years on `day` (a year-only birth date counts from 1 January, as
    /// documents do).
    pub fn age_on(self, day: NaiveDate) -> u32 {
        let born = match self {
            BirthDate::Full(d) => d,
            BirthDate::Year(y) => NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or(day),
        };
        day.years_since(born).unwrap_or(0)
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BirthDate::Full(d) => write!(f, "{d}"),
            BirthDate::Year(y) => write!(f, "{y:04}"),
        }
    }
}

impl Serialize for BirthDate {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for BirthDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        // Stored values were checked on the way in; only the shape is checked again.
        BirthDate::parse(&raw, NaiveDate::MAX).map_err(serde::de::Error::custom)
    }
}

/// The kinds of identity and travel document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// A national passport.
    Passport,
    /// A national identity card.
    NationalId,
    /// A one-way travel document a consulate issues for the return (laissez-passer).
    LaissezPasser,
    /// A host-country residence permit.
    ResidencePermit,
    /// A birth certificate (children).
    BirthCertificate,
}

/// A document number: letters and digits, 3 to 20, stored upper case without spaces or
/// dashes (as machine-readable zones print it).
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DocumentNumber(String);

impl DocumentNumber {
    /// Parses a number, dropping spaces and dashes.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let n: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect::<String>()
            .to_uppercase();
        if (3..=20).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(n))
        } else {
            Err(DomainError::new(
                "number",
                "must be 3 to 20 letters and digits (spaces and dashes are dropped)",
            ))
        }
    }

    /// The normalised number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An identity or travel document.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// What it is.
    pub kind: DocumentKind,
    /// Its number.
    pub number: DocumentNumber,
    /// The country that issued it.
    pub issuing_country: CountryCode,
    /// When it was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_on: Option<NaiveDate>,
    /// Its last valid day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_on: Option<NaiveDate>,
}

/// A phone number in E.164 form: `+`, then 8 to 15 digits, the first not 0.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Phone(String);

impl Phone {
    /// Parses a number, dropping spaces, dashes, dots and brackets.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let n: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = n.strip_prefix('+').unwrap_or("");
        if (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
        {
            Ok(Self(n))
        } else {
            Err(DomainError::new(
                "phone",
                "must be an international number in E.164 form, e.g. +9647701234567",
            ))
        }
    }

    /// The E.164 number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address: one `@`, a local part, a domain with a dot; at most 254 characters.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Email(String);

impl Email {
    /// Parses an address (the domain is lower-cased).
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let r = raw.trim();
        let ok = r.len() <= 254
            && r.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !r.chars().any(|c| c.is_whitespace() || c.is_control())
                    && !domain.contains('@')
            });
        match r.split_once('@') {
            Some((local, domain)) if ok => {
                Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
            }
            _ => Err(DomainError::new(
                "email",
                "must be an e-mail address, e.g. name@example.org",
            )),
        }
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An airport's IATA code: three letters.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Iata(String);

impl Iata {
    /// Parses a code; lower case is accepted.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let r = raw.trim();
        if r.len() == 3 && r.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(r.to_ascii_uppercase()))
        } else {
            Err(DomainError::new(
                "nearest_airport",
                "must be an IATA airport code, e.g. EBL",
            ))
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where in the country of origin the person goes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// Town or village.
    pub place: Text,
    /// Province or region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Text>,
    /// The airport nearest to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nearest_airport: Option<Iata>,
}

/// What personal data may be shared for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// The consulate of the country of origin (travel documents).
    Consulate,
    /// The travel partner (booking).
    TravelPartner,
    /// The reception partner in the country of origin.
    ReceptionPartner,
    /// The payment provider (grants).
    PaymentProvider,
}

impl Purpose {
    /// Every purpose.
    pub const ALL: [Purpose; 4] = [
        Purpose::Consulate,
        Purpose::TravelPartner,
        Purpose::ReceptionPartner,
        Purpose::PaymentProvider,
    ];
}

/// A recorded answer to "may we share your data for this purpose?".
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharingConsent {
    /// For what.
    pub purpose: Purpose,
    /// Yes or no.
    pub given: bool,
    /// The user who recorded it (authenticated; never taken from the request).
    pub recorded_by: String,
    /// When.
    pub recorded_at: DateTime<Utc>,
}

/// One household member's personal data.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Names.
    pub names: Names,
    /// Sex, as the document records it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Sex>,
    /// Date of birth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<BirthDate>,
    /// Place of birth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_of_birth: Option<Text>,
    /// Nationality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<CountryCode>,
    /// Identity and travel documents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<Document>,
    /// Phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    /// The returnee confirmed the phone is safe to text: no one else (a trafficker, an abusive
    /// relative) reads it. A trafficking victim is texted only at a phone confirmed safe.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub phone_safe: bool,
    /// E-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// The language they read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// Final destination in the country of origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<Destination>,
    /// How they receive cash grants (absent: cash pick-up at the provider's agent, showing
    /// their travel document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payout: Option<Payout>,
    /// Help they need on the flight (the airline's special service requests).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assistance: Vec<Assistance>,
    /// Consent to share data, per purpose (the latest answer per purpose counts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consents: Vec<SharingConsent>,
}

/// How a returnee receives cash grants.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Payout {
    /// A bank account.
    BankAccount {
        /// The account's IBAN (validated: country format and check digits).
        iban: Iban,
    },
    /// A mobile-money wallet.
    MobileMoney {
        /// The wallet's number.
        phone: Phone,
    },
    /// Cash handed over by the provider's agent against an identity document.
    CashPickup {
        /// The document they will show.
        document: DocumentKind,
    },
}

/// An IBAN, validated (ISO 13616: country format and mod-97 check digits, by the
/// `iban_validate` crate), stored in its electronic form (no spaces).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Iban(String);

impl Iban {
    /// Parses an IBAN, spaces allowed.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        use iban::IbanLike;
        raw.parse::<iban::Iban>()
            .map(|i| Self(i.electronic_str().to_owned()))
            .map_err(|_| DomainError::new("iban", "must be a valid IBAN, e.g. NL91ABNA0417164300"))
    }

    /// The IBAN.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Iban {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Iban::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl Person {
    /// Whether the person agreed to share data for `purpose` (the latest answer counts).
    pub fn consents_to(&self, purpose: Purpose) -> bool {
        self.consents
            .iter()
            .rev()
            .find(|c| c.purpose == purpose)
            .is_some_and(|c| c.given)
    }
}

/// Never prints a value: a person must not reach a log or an error message.
macro_rules! redacted_debug {
    ($($ty:ident),*) => {$(
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($ty), "([REDACTED])"))
            }
        }
    )*};
}
redacted_debug!(
    Text,
    Name,
    ScriptName,
    Script,
    Names,
    BirthDate,
    DocumentNumber,
    Document,
    Phone,
    Email,
    Iata,
    Destination,
    SharingConsent,
    Payout,
    Iban,
    Person
);

/// Deserialises through `parse`, so a stored value is re-checked on the way in.
macro_rules! parsed {
    ($ty:ident, $parse:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                $parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}
parsed!(Text, |r: &str| Text::parse(r, "text"));
parsed!(Script, Script::parse);
parsed!(DocumentNumber, DocumentNumber::parse);
parsed!(Phone, Phone::parse);
parsed!(Email, Email::parse);
parsed!(Iata, Iata::parse);

impl Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
    }

    #[test]
    fn a_birth_date_is_a_day_or_a_year_and_never_in_the_future() {
        assert_eq!(
            BirthDate::parse("1990-05-31", today()).unwrap().to_string(),
            "1990-05-31"
        );
        assert_eq!(BirthDate::parse("1990", today()).unwrap().year(), 1990);
        for bad in ["2027", "2026-12-01", "1899", "31/05/1990", "90"] {
            assert_eq!(
                BirthDate::parse(bad, today()).unwrap_err().field,
                "date_of_birth",
                "{bad}"
            );
        }
        let child = BirthDate::parse("2014-12-01", today()).unwrap();
        assert_eq!(child.age_on(today()), 11);
        assert_eq!(BirthDate::Year(2014).age_on(today()), 12);
    }

    #[test]
    fn phones_are_e164_and_documents_are_normalised() {
        assert_eq!(
            Phone::parse("+964 770 123-4567").unwrap().as_str(),
            "+9647701234567"
        );
        for bad in ["07701234567", "+0770123456", "+12", "+96477012345678901"] {
            assert_eq!(Phone::parse(bad).unwrap_err().field, "phone", "{bad}");
        }
        assert_eq!(
            DocumentNumber::parse("a12 345-678").unwrap().as_str(),
            "A12345678"
        );
        assert!(DocumentNumber::parse("A1").is_err());
        assert!(Email::parse("amal@Example.ORG").is_ok());
        assert!(Email::parse("not an address").is_err());
        assert_eq!(Iata::parse("ebl").unwrap().as_str(), "EBL");
        assert!(Script::parse("arab").is_ok());
    }

    #[test]
    fn nothing_personal_is_ever_printed_by_debug() {
        let p = Phone::parse("+9647701234567").unwrap();
        let printed = format!("{p:?}");
        assert!(!printed.contains("770"), "{printed}");
    }

    #[test]
    fn the_latest_answer_per_purpose_counts() {
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 30, 9, 0, 0).unwrap();
        let answer = |given| SharingConsent {
            purpose: Purpose::Consulate,
            given,
            recorded_by: "u-officer".into(),
            recorded_at: at,
        };
        let mut person: Person = serde_json::from_value(serde_json::json!({
            "names": {"document": {"given": "Amal", "family": "Hassan"}}
        }))
        .unwrap();
        assert!(!person.consents_to(Purpose::Consulate));
        person.consents = vec![answer(true), answer(false)];
        assert!(!person.consents_to(Purpose::Consulate));
        person.consents.push(answer(true));
        assert!(person.consents_to(Purpose::Consulate));
    }
}
