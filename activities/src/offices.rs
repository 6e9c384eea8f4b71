//! The offices' contact details (`[offices.<ISO3>]`: name, e-mail, phone): who a letter to an
//! authority comes from and where its answer goes. The consulate request pack
//! (`consulate_pack.rs`) prints the requesting office's. Configuration, parsed when it is read
//! (a bad value is a configuration error naming its key, e.g. `offices.NLD.email`); this module
//! does no I/O and knows no person.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use homeward_workflows::domain::CountryCode;
use homeward_workflows::person::{Email, Phone};

/// How to reach one office: a team's address and number, never a person's.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeContact {
    /// The office's name as it signs letters, e.g. `IOM The Hague, Return and Reintegration`.
    #[serde(deserialize_with = "non_empty")]
    pub name: String,
    /// The address a consulate answers to.
    pub email: Email,
    /// The phone number (E.164).
    pub phone: Phone,
}

/// Every office's contact, by office (host country, ISO alpha-3; lower case is accepted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Offices(BTreeMap<CountryCode, OfficeContact>);

impl Offices {
    /// The offices given.
    pub fn new(offices: BTreeMap<CountryCode, OfficeContact>) -> Self {
        Self(offices)
    }

    /// The first office whose contact is a shipped placeholder (an `example.org` address, or
    /// "(placeholder)" in its name): fine beside the sandbox, never for a real gateway.
    pub fn placeholder(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(_, c)| {
                let email = c.email.as_str().to_ascii_lowercase();
                email.ends_with("example.org")
                    || email.ends_with("example.com")
                    || c.name.contains("(placeholder)")
            })
            .map(|(office, _)| office.as_str())
    }

    /// The contact of `office` (ISO alpha-3), if configured.
    pub fn contact(&self, office: &str) -> Option<&OfficeContact> {
        CountryCode::parse(office).ok().and_then(|c| self.0.get(&c))
    }
}

/// A name: trimmed, 1 to 200 characters, no control characters.
fn non_empty<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = String::deserialize(d)?;
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(serde::de::Error::custom(
            "must be 1 to 200 characters, without control characters",
        ));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_office_is_found_by_its_country_in_either_case_and_a_bad_contact_is_refused() {
        let offices: Offices = toml::from_str(
            "[nld]\nname = \"IOM The Hague\"\nemail = \"returns@nld.example.org\"\n\
             phone = \"+31 70 123 4567\"\n",
        )
        .expect("parses");
        let nld = offices.contact("NLD").expect("found");
        assert_eq!(nld.email.as_str(), "returns@nld.example.org");
        assert_eq!(nld.phone.as_str(), "+31701234567");
        assert!(offices.contact("GBR").is_none());
        let contact = |name: &str, email: &str, phone: &str| {
            format!("[NLD]\nname = \"{name}\"\nemail = \"{email}\"\nphone = \"{phone}\"\n")
        };
        for (bad, problem) in [
            (
                contact(" ", "a@b.org", "+31701234567"),
                "1 to 200 characters",
            ),
            (
                contact("x", "nobody", "+31701234567"),
                "must be an e-mail address",
            ),
            (contact("x", "a@b.org", "070"), "E.164"),
            (
                contact("x", "a@b.org", "+31701234567") + "fax = \"1\"\n",
                "unknown field `fax`",
            ),
        ] {
            let err = toml::from_str::<Offices>(&bad).unwrap_err().to_string();
            assert!(err.contains(problem), "{problem}: {err}");
        }
    }
}
