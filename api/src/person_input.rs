//! Reads a person record from a request body into `homeward_workflows::person` types, naming
//! every bad field by its path (`names.document.given`, `documents[1].number`,
//! `consents[0].purpose`) in one 400. Consents are recorded as given by the authenticated
//! caller, now: a body cannot claim who recorded them.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Map, Value};

use homeward_workflows::domain::{CountryCode, DomainError, Language};
use homeward_workflows::person::{
    Assistance, BirthDate, Destination, Document, DocumentKind, DocumentNumber, Email, Iata, Iban,
    Name, Names, Payout, Person, Phone, Purpose, Script, ScriptName, Sex, SharingConsent, Text,
};

use crate::error::ApiError;

/// Collects problems by path while a nested body is read.
struct Reader {
    problems: BTreeMap<String, String>,
}

impl Reader {
    fn problem(&mut self, path: &str, problem: impl Into<String>) {
        self.problems.insert(path.to_owned(), problem.into());
    }

    /// The object at `path`, its unknown fields reported once read.
    fn object<'a>(&mut self, path: &str, v: &'a Value) -> Option<&'a Map<String, Value>> {
        match v {
            Value::Object(o) => Some(o),
            _ => {
                self.problem(path, "must be an object");
                None
            }
        }
    }

    /// Reports the fields of `o` that are not in `known`.
    fn unknown(&mut self, path: &str, o: &Map<String, Value>, known: &[&str]) {
        for k in o.keys() {
            if !known.contains(&k.as_str()) {
                self.problem(&join(path, k), "is not a known field");
            }
        }
    }

    /// A string field parsed by `parse`; `required` reports its absence.
    fn field<T>(
        &mut self,
        o: &Map<String, Value>,
        path: &str,
        name: &str,
        required: bool,
        parse: impl FnOnce(&str) -> Result<T, DomainError>,
    ) -> Option<T> {
        let at = join(path, name);
        match o.get(name) {
            None | Some(Value::Null) => {
                if required {
                    self.problem(&at, "is required");
                }
                None
            }
            Some(Value::String(s)) => match parse(s) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.problem(&at, e.problem);
                    None
                }
            },
            Some(_) => {
                self.problem(&at, "must be a string");
                None
            }
        }
    }

    /// A list field, each element read by `each` with its index.
    fn list<T>(
        &mut self,
        o: &Map<String, Value>,
        path: &str,
        name: &str,
        mut each: impl FnMut(&mut Self, &str, &Value) -> Option<T>,
    ) -> Vec<T> {
        let at = join(path, name);
        match o.get(name) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) if items.len() <= 20 => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| each(self, &format!("{at}[{i}]"), v))
                .collect(),
            Some(Value::Array(_)) => {
                self.problem(&at, "must have at most 20 entries");
                Vec::new()
            }
            Some(_) => {
                self.problem(&at, "must be a list");
                Vec::new()
            }
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn text(raw: &str) -> Result<Text, DomainError> {
    Text::parse(raw, "text")
}

fn date(raw: &str) -> Result<NaiveDate, DomainError> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| DomainError {
        field: "date",
        problem: "must be a date, e.g. 2031-05-31".into(),
    })
}

fn name(r: &mut Reader, path: &str, v: &Value) -> Option<Name> {
    let o = r.object(path, v)?;
    r.unknown(path, o, &["given", "family"]);
    let given = r.field(o, path, "given", true, text);
    let family = r.field(o, path, "family", true, text);
    Some(Name {
        given: given?,
        family: family?,
    })
}

fn names(r: &mut Reader, path: &str, v: &Value) -> Option<Names> {
    let o = r.object(path, v)?;
    r.unknown(path, o, &["document", "original", "transliteration"]);
    let document = match o.get("document") {
        Some(d) => name(r, &join(path, "document"), d),
        None => {
            r.problem(&join(path, "document"), "is required");
            None
        }
    };
    let original = o.get("original").filter(|v| !v.is_null()).and_then(|v| {
        let at = join(path, "original");
        let oo = r.object(&at, v)?;
        r.unknown(&at, oo, &["given", "family", "script"]);
        let given = r.field(oo, &at, "given", true, text);
        let family = r.field(oo, &at, "family", true, text);
        let script = r.field(oo, &at, "script", true, Script::parse);
        Some(ScriptName {
            given: given?,
            family: family?,
            script: script?,
        })
    });
    let transliteration = o
        .get("transliteration")
        .filter(|v| !v.is_null())
        .and_then(|v| name(r, &join(path, "transliteration"), v));
    Some(Names {
        document: document?,
        original,
        transliteration,
    })
}

fn enum_value<T: serde::de::DeserializeOwned>(raw: &str, what: &str) -> Result<T, DomainError> {
    serde_json::from_value(Value::String(raw.to_owned())).map_err(|_| DomainError {
        field: "value",
        problem: format!("is not a known {what}"),
    })
}

fn document(r: &mut Reader, path: &str, v: &Value) -> Option<Document> {
    let o = r.object(path, v)?;
    r.unknown(
        path,
        o,
        &[
            "kind",
            "number",
            "issuing_country",
            "issued_on",
            "expires_on",
        ],
    );
    let kind = r.field(o, path, "kind", true, |s| {
        enum_value::<DocumentKind>(s, "document kind (passport, national_id, laissez_passer, residence_permit, birth_certificate)")
    });
    let number = r.field(o, path, "number", true, DocumentNumber::parse);
    let issuing = r.field(o, path, "issuing_country", true, CountryCode::parse);
    let issued_on = r.field(o, path, "issued_on", false, date);
    let expires_on = r.field(o, path, "expires_on", false, date);
    if let (Some(i), Some(e)) = (issued_on, expires_on)
        && e < i
    {
        r.problem(&join(path, "expires_on"), "is before issued_on");
        return None;
    }
    Some(Document {
        kind: kind?,
        number: number?,
        issuing_country: issuing?,
        issued_on,
        expires_on,
    })
}

fn destination(r: &mut Reader, path: &str, v: &Value) -> Option<Destination> {
    let o = r.object(path, v)?;
    r.unknown(path, o, &["place", "region", "nearest_airport"]);
    let place = r.field(o, path, "place", true, text);
    let region = r.field(o, path, "region", false, text);
    let airport = r.field(o, path, "nearest_airport", false, |raw| {
        let code = Iata::parse(raw)?;
        match homeward_activities::airports::airport(code.as_str()) {
            Some(_) => Ok(code),
            None => Err(DomainError {
                field: "nearest_airport",
                problem: "is not an airport's IATA code, e.g. EBL".into(),
            }),
        }
    });
    Some(Destination {
        place: place?,
        region,
        nearest_airport: airport,
    })
}

/// Who records consents, and when.
pub struct Recorder<'a> {
    /// The authenticated user's id.
    pub user: &'a str,
    /// Now.
    pub at: DateTime<Utc>,
}

fn consent(r: &mut Reader, path: &str, v: &Value, by: &Recorder<'_>) -> Option<SharingConsent> {
    let o = r.object(path, v)?;
    r.unknown(path, o, &["purpose", "given"]);
    let purpose = r.field(o, path, "purpose", true, |s| {
        enum_value::<Purpose>(
            s,
            "purpose (consulate, travel_partner, reception_partner, payment_provider)",
        )
    });
    let given = match o.get("given") {
        Some(Value::Bool(b)) => Some(*b),
        _ => {
            r.problem(&join(path, "given"), "is required (true or false)");
            None
        }
    };
    Some(SharingConsent {
        purpose: purpose?,
        given: given?,
        recorded_by: by.user.to_owned(),
        recorded_at: by.at,
    })
}

/// The fields of a person record, as a body may carry them.
pub const FIELDS: [&str; 14] = [
    "names",
    "sex",
    "date_of_birth",
    "place_of_birth",
    "nationality",
    "documents",
    "phone",
    "phone_safe",
    "email",
    "language",
    "destination",
    "payout",
    "assistance",
    "consents",
];

/// Reads a whole person record (PUT, or a member at case opening). `path` prefixes field
/// names (e.g. `people[1]`).
pub fn parse_person(
    body: &Value,
    path: &str,
    today: NaiveDate,
    by: &Recorder<'_>,
) -> Result<Person, ApiError> {
    let mut r = Reader {
        problems: BTreeMap::new(),
    };
    let person = read(&mut r, body, path, today, by, None);
    if r.problems.is_empty()
        && let Some(p) = person
    {
        return Ok(p);
    }
    Err(ApiError::invalid(r.problems))
}

/// Applies a partial body (PATCH) to `current`: each field given replaces the stored one
/// (`null` clears it); consents given are added to the record's history.
pub fn patch_person(
    current: Person,
    body: &Value,
    today: NaiveDate,
    by: &Recorder<'_>,
) -> Result<Person, ApiError> {
    let mut r = Reader {
        problems: BTreeMap::new(),
    };
    let person = read(&mut r, body, "", today, by, Some(current));
    if r.problems.is_empty()
        && let Some(p) = person
    {
        return Ok(p);
    }
    Err(ApiError::invalid(r.problems))
}

fn read(
    r: &mut Reader,
    body: &Value,
    path: &str,
    today: NaiveDate,
    by: &Recorder<'_>,
    base: Option<Person>,
) -> Option<Person> {
    let o = r.object(if path.is_empty() { "body" } else { path }, body)?;
    r.unknown(path, o, &FIELDS);
    let patching = base.is_some();
    let given = |k: &str| !patching || o.contains_key(k);
    let names_v = if given("names") {
        match o.get("names") {
            Some(v) if !v.is_null() => names(r, &join(path, "names"), v),
            _ => {
                r.problem(&join(path, "names"), "is required");
                None
            }
        }
    } else {
        base.as_ref().map(|b| b.names.clone())
    };
    macro_rules! opt {
        ($key:literal, $parse:expr, $field:ident) => {
            if given($key) {
                r.field(o, path, $key, false, $parse)
            } else {
                base.as_ref().and_then(|b| b.$field.clone())
            }
        };
    }
    let sex = opt!(
        "sex",
        |s| enum_value::<Sex>(s, "sex (female, male, unspecified)"),
        sex
    );
    let date_of_birth = opt!(
        "date_of_birth",
        |s| BirthDate::parse(s, today),
        date_of_birth
    );
    let place_of_birth = opt!("place_of_birth", text, place_of_birth);
    let nationality = opt!("nationality", CountryCode::parse, nationality);
    let phone = opt!("phone", Phone::parse, phone);
    let phone_safe = if given("phone_safe") {
        match o.get("phone_safe") {
            Some(Value::Bool(b)) => *b,
            Some(Value::Null) | None => false,
            Some(_) => {
                r.problem(&join(path, "phone_safe"), "must be true or false");
                false
            }
        }
    } else {
        base.as_ref().is_some_and(|b| b.phone_safe)
    };
    let email = opt!("email", Email::parse, email);
    let language = opt!("language", Language::parse, language);
    let documents = if given("documents") {
        r.list(o, path, "documents", document)
    } else {
        base.as_ref()
            .map(|b| b.documents.clone())
            .unwrap_or_default()
    };
    let destination = if given("destination") {
        o.get("destination")
            .filter(|v| !v.is_null())
            .and_then(|v| destination(r, &join(path, "destination"), v))
    } else {
        base.as_ref().and_then(|b| b.destination.clone())
    };
    let payout = if given("payout") {
        o.get("payout")
            .filter(|v| !v.is_null())
            .and_then(|v| payout(r, &join(path, "payout"), v))
    } else {
        base.as_ref().and_then(|b| b.payout.clone())
    };
    let assistance = if given("assistance") {
        let mut needs = r.list(o, path, "assistance", |r, at, v| match v {
            Value::String(s) => enum_value::<Assistance>(s, ASSISTANCE)
                .map_err(|e| r.problem(at, e.problem))
                .ok(),
            _ => {
                r.problem(at, format!("must be one of: {ASSISTANCE}"));
                None
            }
        });
        needs.sort();
        needs.dedup();
        needs
    } else {
        base.as_ref()
            .map(|b| b.assistance.clone())
            .unwrap_or_default()
    };
    let mut consents = base
        .as_ref()
        .map(|b| b.consents.clone())
        .unwrap_or_default();
    consents.extend(r.list(o, path, "consents", |r, at, v| consent(r, at, v, by)));
    Some(Person {
        names: names_v?,
        sex,
        date_of_birth,
        place_of_birth,
        nationality,
        documents,
        phone,
        phone_safe,
        email,
        language,
        destination,
        payout,
        assistance,
        consents,
    })
}

/// The help a person may need on a flight, as a body names it.
const ASSISTANCE: &str = "wheelchair_to_aircraft, wheelchair_steps, wheelchair_cabin, blind, \
                          deaf, intellectual_disability, medical, stretcher";

/// How the returnee is paid: `{"method": "bank_account", "iban": …}`, `{"method":
/// "mobile_money", "phone": "+…"}` or `{"method": "cash_pickup", "document": "passport"}`.
fn payout(r: &mut Reader, path: &str, v: &Value) -> Option<Payout> {
    let o = r.object(path, v)?;
    let method = o.get("method").and_then(Value::as_str).unwrap_or_default();
    match method {
        "bank_account" => {
            r.unknown(path, o, &["method", "iban"]);
            let iban = r.field(o, path, "iban", true, Iban::parse);
            Some(Payout::BankAccount { iban: iban? })
        }
        "mobile_money" => {
            r.unknown(path, o, &["method", "phone"]);
            let phone = r.field(o, path, "phone", true, Phone::parse);
            Some(Payout::MobileMoney { phone: phone? })
        }
        "cash_pickup" => {
            r.unknown(path, o, &["method", "document"]);
            let document = r.field(o, path, "document", true, |s| {
                enum_value::<DocumentKind>(s, "document (passport, national_id, laissez_passer, residence_permit, birth_certificate)")
            });
            Some(Payout::CashPickup {
                document: document?,
            })
        }
        _ => {
            r.problem(
                &join(path, "method"),
                "must be bank_account, mobile_money or cash_pickup",
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn by() -> Recorder<'static> {
        Recorder {
            user: "u-officer",
            at: Utc::now(),
        }
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
    }

    #[test]
    fn every_bad_field_is_named_by_its_path() {
        let err = parse_person(
            &json!({
                "names": {"document": {"given": ""}},
                "date_of_birth": "31/05/1990",
                "phone": "0770",
                "documents": [{"kind": "passport", "number": "A1", "issuing_country": "IRQ"}],
                "consents": [{"purpose": "consulate"}],
                "destination": {"place": "Erbil", "nearest_airport": "QQQ"},
                "payout": {"method": "bank_account", "iban": "NL91ABNA0417164301"},
                "assistance": ["blind", "wheelchair"],
                "shoe_size": 42
            }),
            "",
            today(),
            &by(),
        )
        .unwrap_err();
        let ApiError::BadRequest { fields, .. } = err else {
            panic!("a 400")
        };
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "assistance[1]",
                "consents[0].given",
                "date_of_birth",
                "destination.nearest_airport",
                "documents[0].number",
                "names.document.family",
                "names.document.given",
                "payout.iban",
                "phone",
                "shoe_size"
            ]
        );
    }

    #[test]
    fn a_full_record_parses_and_its_consents_are_the_callers() {
        let p = parse_person(
            &json!({
                "names": {
                    "document": {"given": "Amal", "family": "Hassan"},
                    "original": {"given": "أمل", "family": "حسن", "script": "Arab"}
                },
                "sex": "female",
                "date_of_birth": "1990",
                "nationality": "IRQ",
                "documents": [{"kind": "passport", "number": "A1234567", "issuing_country": "IRQ",
                               "expires_on": "2031-05-31"}],
                "phone": "+9647701234567",
                "destination": {"place": "Erbil", "nearest_airport": "ebl"},
                "payout": {"method": "mobile_money", "phone": "+9647701234567"},
                "assistance": ["wheelchair_steps", "blind", "blind"],
                "consents": [{"purpose": "consulate", "given": true}]
            }),
            "",
            today(),
            &by(),
        )
        .unwrap();
        assert_eq!(p.consents[0].recorded_by, "u-officer");
        assert_eq!(
            p.assistance,
            [Assistance::WheelchairSteps, Assistance::Blind],
            "each once"
        );
        assert!(p.consents_to(Purpose::Consulate));
        let patched =
            patch_person(p, &json!({"phone": null, "sex": "male"}), today(), &by()).unwrap();
        assert!(patched.phone.is_none());
        assert_eq!(patched.sex, Some(Sex::Male));
        assert_eq!(patched.documents.len(), 1, "untouched fields stay");
    }
}
