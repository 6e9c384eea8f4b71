//! Domain types: one newtype per concept, each with a private field and a `parse` constructor.
//!
//! The API turns requests into these types once, at the edge; workflows and activities accept
//! only these types. Nothing here identifies a person: a case is known by its [`CaseRef`].

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// A value that failed to parse into a domain type. `field` names the input, never its value,
/// so an error can be logged or returned without leaking what a user typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct DomainError {
    /// The name of the input that was wrong, as the API calls it.
    pub field: &'static str,
    /// What was expected, in words a user can act on.
    pub problem: String,
}

impl DomainError {
    pub(crate) fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

/// Deserialises through `parse`, so a stored or transmitted value is re-checked on the way in.
macro_rules! parsed_string_type {
    ($ty:ident) => {
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                $ty::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl $ty {
            /// The canonical text form.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

/// The longest free text (a reason, a note) a decision may carry, in characters: enough for a
/// paragraph, not for a document pasted by mistake.
pub const MAX_FREE_TEXT: usize = 2000;

/// The OpenAPI schema of a domain string type, from the rule its `parse` applies.
macro_rules! string_schema {
    ($ty:ident, $description:expr, $pattern:expr, $example:expr) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .description(Some($description))
                    .pattern(Some($pattern))
                    .examples([serde_json::json!($example)])
                    .into()
            }
        }
        impl utoipa::ToSchema for $ty {}
    };
}

/// Crockford base32: no I, L, O or U, so a reference read over the phone is unambiguous.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CASE_REF_PREFIX: &str = "HW-";
const CASE_REF_LEN: usize = 12;

/// The public reference of a return case, e.g. `HW-7K3M9Q2XA4TB`.
///
/// Random, so it says nothing about the household; it is the only identifier that appears in
/// workflow IDs, URLs and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaseRef(String);
parsed_string_type!(CaseRef);
string_schema!(
    CaseRef,
    "A case's reference: HW- and 12 characters of Crockford base32",
    "^HW-[0-9A-HJKMNP-TV-Z]{12}$",
    "HW-7K3M9Q2XA4TB"
);

impl CaseRef {
    /// Parses a reference, accepting lower case and trimming surrounding white space.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let upper = raw.trim().to_ascii_uppercase();
        let body = upper.strip_prefix(CASE_REF_PREFIX).ok_or_else(|| {
            DomainError::new("reference", "must start with HW- followed by 12 characters")
        })?;
        if body.len() != CASE_REF_LEN || !body.bytes().all(|b| CROCKFORD.contains(&b)) {
            return Err(DomainError::new(
                "reference",
                "must be HW- followed by 12 characters from 0-9 and A-Z (without I, L, O, U)",
            ));
        }
        Ok(Self(upper))
    }

    /// Builds a reference from 60 random bits supplied by the caller (workflows have no RNG of
    /// their own outside the workflow context).
    pub fn from_entropy(bits: u64) -> Self {
        let mut body = String::with_capacity(CASE_REF_LEN);
        for i in (0..CASE_REF_LEN).rev() {
            let index = ((bits >> (i * 5)) & 0x1f) as usize;
            body.push(CROCKFORD[index] as char);
        }
        Self(format!("{CASE_REF_PREFIX}{body}"))
    }
}

/// The identifier of an AVRR programme, matching a file `config/programmes/<id>.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProgrammeId(String);
parsed_string_type!(ProgrammeId);
string_schema!(
    ProgrammeId,
    "A programme id from GET /api/v1/programmes",
    "^[a-z0-9][a-z0-9-]{1,39}$",
    "nl-avrr"
);

impl ProgrammeId {
    /// Lower-case letters, digits and dashes, 2 to 40 characters.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let ok = (2..=40).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(DomainError::new(
                "programme",
                "must be 2-40 lower-case letters, digits or dashes, e.g. nl-avrr",
            ))
        }
    }
}

/// The language messages to a returnee are written in: an ISO 639-1 code, e.g. `ar`, `fa`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Language(String);
parsed_string_type!(Language);
string_schema!(
    Language,
    "The language the returnee reads messages in, ISO 639-1",
    "^[A-Za-z]{2}$",
    "ar"
);

impl Language {
    /// Two ASCII letters; upper case is accepted and normalised to lower case.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.len() == 2 && raw.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err(DomainError::new(
                "language",
                "must be an ISO 639-1 language code, e.g. ar",
            ))
        }
    }
}

/// An ISO 3166-1 alpha-3 country code, e.g. `DEU` or `IRQ`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode(String);
parsed_string_type!(CountryCode);
string_schema!(
    CountryCode,
    "An ISO 3166-1 alpha-3 country code",
    "^[A-Za-z]{3}$",
    "IRQ"
);

impl CountryCode {
    /// Three ASCII letters; lower case is accepted and normalised to upper case.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        Self::parse_field(raw, "country")
    }

    /// Like [`CountryCode::parse`], naming the input field in the error.
    pub fn parse_field(raw: &str, field: &'static str) -> Result<Self, DomainError> {
        if raw.len() == 3 && raw.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Self(raw.to_ascii_uppercase()))
        } else {
            Err(DomainError::new(
                field,
                "must be an ISO 3166-1 alpha-3 country code, e.g. IRQ",
            ))
        }
    }
}

/// How many people return together: the principal applicant plus family members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub struct HouseholdSize(u8);

impl HouseholdSize {
    /// The largest household one case may hold; larger groups are split into linked cases.
    pub const MAX: u8 = 30;

    /// 1 to [`HouseholdSize::MAX`] people.
    pub fn parse(raw: i64) -> Result<Self, DomainError> {
        match u8::try_from(raw) {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(DomainError::new(
                "household_size",
                format!("must be a whole number from 1 to {}", Self::MAX),
            )),
        }
    }

    /// The number of people.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl utoipa::PartialSchema for HouseholdSize {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Integer)
            .description(Some("How many people return together"))
            .minimum(Some(1))
            .maximum(Some(Self::MAX))
            .into()
    }
}
impl utoipa::ToSchema for HouseholdSize {}

impl<'de> Deserialize<'de> for HouseholdSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = i64::deserialize(d)?;
        HouseholdSize::parse(raw).map_err(serde::de::Error::custom)
    }
}

/// Where a case stands in the AVRR lifecycle (DOMAIN.md, "The life of one return case").
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Opened; the case record is being written.
    Intake,
    /// Counselling sessions until the returnee decides.
    Counselling,
    /// Waiting for signed voluntary-return declarations.
    Consent,
    /// Operations approve or reject eligibility.
    EligibilityApproval,
    /// Waiting for the consulate to issue travel documents.
    TravelDocuments,
    /// Pre-embarkation medical check.
    FitToTravel,
    /// Booking the flight, escorts and transit assistance.
    FlightBooking,
    /// Booked; waiting for the day of departure.
    Departure,
    /// Waiting for the partner in the country of origin to confirm reception.
    ArrivalReception,
    /// Agreeing the reintegration plan.
    ReintegrationPlan,
    /// Staged reintegration grants and monitoring follow-ups.
    Reintegration,
    /// The case is closed; see its closure reason.
    Closed,
}

impl Stage {
    /// Every stage, in lifecycle order.
    pub const ALL: [Stage; 12] = [
        Stage::Intake,
        Stage::Counselling,
        Stage::Consent,
        Stage::EligibilityApproval,
        Stage::TravelDocuments,
        Stage::FitToTravel,
        Stage::FlightBooking,
        Stage::Departure,
        Stage::ArrivalReception,
        Stage::ReintegrationPlan,
        Stage::Reintegration,
        Stage::Closed,
    ];

    /// The stage's stable name, as stored and as shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Intake => "intake",
            Stage::Counselling => "counselling",
            Stage::Consent => "consent",
            Stage::EligibilityApproval => "eligibility_approval",
            Stage::TravelDocuments => "travel_documents",
            Stage::FitToTravel => "fit_to_travel",
            Stage::FlightBooking => "flight_booking",
            Stage::Departure => "departure",
            Stage::ArrivalReception => "arrival_reception",
            Stage::ReintegrationPlan => "reintegration_plan",
            Stage::Reintegration => "reintegration",
            Stage::Closed => "closed",
        }
    }
}

impl Stage {
    /// Whether a case at this stage has been handed over to the reception partner: from the
    /// booked departure until it closes. A withdrawal or closure ends the hand-over; a failed
    /// booking (back to [`Stage::FlightBooking`]) suspends it.
    pub fn is_handed_over(self) -> bool {
        matches!(
            self,
            Stage::Departure
                | Stage::ArrivalReception
                | Stage::ReintegrationPlan
                | Stage::Reintegration
        )
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A household member's age group: what consent and grants depend on, without a birth date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgeGroup {
    /// 18 or older: signs their own declaration.
    Adult,
    /// 16 or 17: co-signs with the legal representative.
    Minor16To17,
    /// Under 16: the legal representative signs.
    MinorUnder16,
}

/// The principal applicant's immigration status in the host country, where a programme's
/// eligibility depends on it (the UK's Voluntary Returns Service does: see
/// `config/programmes/uk-vrs.toml` for the source). Kept in the case (encrypted with its
/// history), never in a search attribute or the memo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImmigrationStatus {
    /// In the country without permission, or overstayed a visa.
    NoPermission,
    /// Withdrew, or wants to withdraw, an application to stay.
    WithdrawnApplication,
    /// Claimed asylum (pending).
    AsylumClaimant,
    /// Asylum refused.
    RefusedAsylum,
    /// Confirmed victim of modern slavery (a decision letter).
    ModernSlaveryVictim,
    /// An EEA or Swiss national (or family) resident before 1 January 2021.
    #[serde(rename = "eea_resident_before_2021")]
    EeaResidentBefore2021,
    /// Holds refugee status, humanitarian protection or indefinite leave.
    SettledOrProtected,
    /// Serving, or was given, a prison sentence of 12 months or more, or a deportation order.
    SeriousOffence,
}

impl ImmigrationStatus {
    /// Its name, as in programme files and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoPermission => "no_permission",
            Self::WithdrawnApplication => "withdrawn_application",
            Self::AsylumClaimant => "asylum_claimant",
            Self::RefusedAsylum => "refused_asylum",
            Self::ModernSlaveryVictim => "modern_slavery_victim",
            Self::EeaResidentBefore2021 => "eea_resident_before_2021",
            Self::SettledOrProtected => "settled_or_protected",
            Self::SeriousOffence => "serious_offence",
        }
    }

    /// Every status, for forms.
    pub const ALL: [ImmigrationStatus; 8] = [
        Self::NoPermission,
        Self::WithdrawnApplication,
        Self::AsylumClaimant,
        Self::RefusedAsylum,
        Self::ModernSlaveryVictim,
        Self::EeaResidentBefore2021,
        Self::SettledOrProtected,
        Self::SeriousOffence,
    ];
}

/// Vulnerabilities that change what the lifecycle requires (DOMAIN.md, "Intake").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Vulnerability {
    /// Victim of trafficking.
    VictimOfTrafficking,
    /// Unaccompanied migrant child: best-interests determination, guardian consent and family
    /// assessment before anything else moves.
    UnaccompaniedChild,
    /// Medical needs: a fit-to-travel check before booking.
    Medical,
    /// Elderly.
    Elderly,
    /// Single parent.
    SingleParent,
}

/// One household member, as the workflow sees them: no name, no birth date, no document number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The age group.
    pub age_group: AgeGroup,
    /// Vulnerabilities, if any.
    #[serde(default)]
    pub vulnerabilities: Vec<Vulnerability>,
}

impl Member {
    /// An adult without recorded vulnerabilities.
    pub fn adult() -> Self {
        Self {
            age_group: AgeGroup::Adult,
            vulnerabilities: vec![],
        }
    }

    /// Whether this member signs a voluntary-return declaration (adults, and 16-17 year olds
    /// who co-sign with their legal representative).
    pub fn signs_declaration(&self) -> bool {
        matches!(self.age_group, AgeGroup::Adult | AgeGroup::Minor16To17)
    }
}

/// The minimal intake that opens a case. Household members' personal data is kept out of
/// workflow inputs altogether; members appear only as age groups and vulnerabilities. Also
/// the body of `POST /api/v1/cases` (its OpenAPI schema).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Intake {
    /// The programme whose rules govern the case, as they were on the day it opened.
    pub programme: ProgrammeId,
    /// Where the returnee lives now; also the office that handles the case.
    pub host_country: CountryCode,
    /// Where the returnee goes home to.
    pub origin_country: CountryCode,
    /// How many people return together.
    pub household_size: HouseholdSize,
    /// The members, when known at intake; otherwise every member counts as an adult without
    /// recorded vulnerabilities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<Member>,
    /// The language the returnee reads messages in; absent: the staff language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// The principal applicant's immigration status, where the programme's eligibility
    /// depends on it (`eligible_statuses` in its file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immigration_status: Option<ImmigrationStatus>,
}

impl Intake {
    /// The household's members (defaulting to adults when none were recorded).
    pub fn members(&self) -> Vec<Member> {
        if self.members.is_empty() {
            vec![Member::adult(); usize::from(self.household_size.get())]
        } else {
            self.members.clone()
        }
    }

    /// Whether any member has `v`.
    pub fn has(&self, v: Vulnerability) -> bool {
        self.members.iter().any(|m| m.vulnerabilities.contains(&v))
    }

    /// Who a grant pays for: adults, children with their family, unaccompanied children.
    pub fn household(&self) -> Household {
        let members = self.members();
        let count = |f: &dyn Fn(&Member) -> bool| {
            i64::try_from(members.iter().filter(|m| f(m)).count()).unwrap_or(0)
        };
        let adult = |m: &Member| m.age_group == AgeGroup::Adult;
        let alone = |m: &Member| {
            m.vulnerabilities
                .contains(&Vulnerability::UnaccompaniedChild)
        };
        Household {
            adults: count(&adult),
            children: count(&|m| !adult(m) && !alone(m)),
            unaccompanied_children: count(&|m| !adult(m) && alone(m)),
        }
    }
}

/// A household as grants count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Household {
    /// Adult members.
    pub adults: i64,
    /// Minor members travelling with family.
    pub children: i64,
    /// Minor members travelling without a parent or guardian.
    pub unaccompanied_children: i64,
}

impl Household {
    /// Everyone.
    pub fn people(self) -> i64 {
        self.adults + self.children + self.unaccompanied_children
    }
}

/// The input of the ReturnCase workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenCase {
    /// The case's public reference; also the basis of its workflow ID.
    pub reference: CaseRef,
    /// What the return officer recorded at intake.
    pub intake: Intake,
    /// When the officer opened the case (the API's clock, recorded once).
    pub opened_at: DateTime<Utc>,
    /// The programme's rules as they were on the day the case opened; never reloaded.
    pub rules: crate::programme::ProgrammeRules,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_ref_round_trips_through_parse() {
        let r = CaseRef::from_entropy(0x0fed_cba9_8765_4321);
        assert_eq!(CaseRef::parse(r.as_str()).unwrap(), r);
        assert_eq!(CaseRef::parse(&r.as_str().to_lowercase()).unwrap(), r);
    }

    #[test]
    fn case_ref_rejects_ambiguous_letters_and_wrong_length() {
        assert!(CaseRef::parse("HW-ILOU00000000").is_err());
        assert!(CaseRef::parse("HW-123").is_err());
        assert!(CaseRef::parse("XX-0123456789AB").is_err());
    }

    #[test]
    fn country_code_is_normalised_and_checked() {
        assert_eq!(CountryCode::parse("irq").unwrap().as_str(), "IRQ");
        let err = CountryCode::parse_field("Iraq", "origin_country").unwrap_err();
        assert_eq!(err.field, "origin_country");
    }

    #[test]
    fn household_size_has_bounds() {
        assert!(HouseholdSize::parse(0).is_err());
        assert!(HouseholdSize::parse(31).is_err());
        assert_eq!(HouseholdSize::parse(4).unwrap().get(), 4);
    }

    #[test]
    fn deserialising_rechecks_values() {
        let bad = r#"{"programme":"NL AVRR","host_country":"NLD","origin_country":"IRQ","household_size":2}"#;
        assert!(serde_json::from_str::<Intake>(bad).is_err());
        let ok = r#"{"programme":"nl-avrr","host_country":"NLD","origin_country":"IRQ","household_size":2}"#;
        let intake: Intake = serde_json::from_str(ok).unwrap();
        assert_eq!(
            intake.household(),
            Household {
                adults: 2,
                ..Household::default()
            }
        );
    }

    #[test]
    fn immigration_statuses_are_named_alike_in_files_and_the_api() {
        for status in ImmigrationStatus::ALL {
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
    }
}
