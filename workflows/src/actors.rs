//! Who acts on cases, and which cases each sees: the roles of DOMAIN.md, the authenticated
//! actor of every decision, and [`Actor::scope`], the one statement of the scope rule that
//! validators, lists, the inbox, statistics and the API's projection check all apply.

use serde::{Deserialize, Serialize};

use crate::domain::Stage;

/// The roles of DOMAIN.md ("Who uses it").
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
pub enum Role {
    /// Counsellor or caseworker in the host country.
    ReturnOfficer,
    /// Programme/operations unit: approvals and escalations.
    Operations,
    /// Releases grant payments.
    Finance,
    /// Reception and reintegration partner in the country of origin.
    Partner,
    /// A child protection officer of the office, designated to determine an unaccompanied
    /// child's best interests: never the officer who asked for the return (UNHCR, *Guidelines on
    /// Assessing and Determining the Best Interests of the Child* (2021), ch. 3, the BID is
    /// made by a designated panel or officer, not the case worker who requested it;
    /// <https://www.refworld.org/policy/legalguidance/unhcr/2021/en/123995>).
    ChildProtection,
    /// Reads everything, changes nothing.
    Auditor,
    /// Manages users.
    Admin,
    /// The workflow itself.
    System,
}

impl Role {
    /// The role with this stable name.
    pub fn parse(name: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
    }

    /// The role's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ReturnOfficer => "return_officer",
            Role::Operations => "operations",
            Role::Finance => "finance",
            Role::Partner => "partner",
            Role::ChildProtection => "child_protection",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::System => "system",
        }
    }
}

/// Who acts: an authenticated user's id and the role they act in. The id is opaque (`u-…`),
/// never a name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Actor {
    /// The user's id.
    pub id: String,
    /// The role they act in.
    pub role: Role,
    /// The office (host country) they act for; a partner, the office that hands cases over to
    /// them. `None` only for auditors, admins and the system, who see every case. Validators
    /// refuse a case outside it, so the API needs no separate look-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<String>,
    /// For a partner: the country of origin they receive returnees in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// A supervisor of their office: may assign any of its tasks to a colleague, take over or
    /// release a task a colleague holds, and complete it (`crate::work`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub supervisor: bool,
}

impl Actor {
    /// The workflow itself, for steps no person requested.
    pub fn system() -> Self {
        Self {
            id: "system".into(),
            role: Role::System,
            office: None,
            country: None,
            supervisor: false,
        }
    }

    /// The cases this actor sees: an office its own (host country); a partner only the cases
    /// its office has handed over to it (bound for its country, from departure booked until
    /// the case closes); auditors, admins and the system all. Anyone else without an office
    /// sees nothing. The one statement of the rule; validators, lists, the inbox and statistics
    /// all apply it.
    pub fn scope(&self) -> Scope {
        match (self.role, &self.office, &self.country) {
            (Role::Auditor | Role::Admin | Role::System, _, _) => Scope::All,
            (Role::Partner, Some(office), Some(country)) => Scope::Partner {
                office: office.clone(),
                country: country.clone(),
            },
            (Role::Partner, _, _) => Scope::Nobody,
            (_, Some(office), _) => Scope::HostCountry(office.clone()),
            (_, None, _) => Scope::Nobody,
        }
    }

    /// Whether this actor may see (and so act on) a case with this intake at this stage.
    pub fn may_see(&self, intake: &crate::domain::Intake, stage: Stage) -> bool {
        self.scope().covers(
            intake.host_country.as_str(),
            intake.origin_country.as_str(),
            stage,
        )
    }
}

impl Actor {
    /// Whether this actor may see a case with this intake at this stage, whose open tasks ask
    /// these roles: in scope ([`Actor::may_see`]), or a partner referred the case by a task
    /// that asks it ([`Scope::covers_referral`]). The workflow's validators and the API's case
    /// view both apply it.
    pub fn may_see_case(
        &self,
        intake: &crate::domain::Intake,
        stage: Stage,
        mut open_roles: impl Iterator<Item = Role>,
    ) -> bool {
        self.may_see(intake, stage)
            || (self
                .scope()
                .covers_referral(intake.host_country.as_str(), intake.origin_country.as_str())
                && open_roles.any(|r| r == self.role))
    }
}

/// Which cases someone sees (see [`Actor::scope`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every case.
    All,
    /// Cases whose host country (office) is this one.
    HostCountry(String),
    /// Cases this office has handed over to a partner in this country of origin.
    Partner {
        /// The host office.
        office: String,
        /// The country of origin.
        country: String,
    },
    /// No case (a user whose role needs an office but has none).
    Nobody,
}

impl Scope {
    /// Whether a case of this office, country of origin and stage is in scope.
    pub fn covers(&self, host: &str, origin: &str, stage: Stage) -> bool {
        match self {
            Scope::All => true,
            Scope::HostCountry(office) => office == host,
            Scope::Partner { office, country } => {
                office == host && country == origin && stage.is_handed_over()
            }
            Scope::Nobody => false,
        }
    }

    /// Whether a partner may see a case of this office and country of origin *before* it is
    /// handed over, while one of the case's open tasks asks the partner for an answer: an
    /// unaccompanied child's family assessment, made in the country of origin. Referred for that
    /// task only; once it is answered the case leaves the partner's sight until hand-over.
    pub fn covers_referral(&self, host: &str, origin: &str) -> bool {
        matches!(self, Scope::Partner { office, country } if office == host && country == origin)
    }
}

/// The scope a user of `role` must be given (the other half of [`Actor::scope`]): return
/// officers, operations and finance need an office; a partner needs an office (the one that
/// hands cases over) and the country of origin it works in; only auditors and admins see every
/// case and take neither. The message names the missing or surplus option.
pub fn check_user_scope(role: Role, office: bool, country: bool) -> Result<(), &'static str> {
    match (role, office, country) {
        (Role::System, _, _) => Err("role: system is reserved for the workflow itself"),
        (Role::Auditor | Role::Admin, false, false) => Ok(()),
        (Role::Auditor | Role::Admin, _, _) => {
            Err("office: auditors and admins see every case and take no office or country")
        }
        (Role::Partner, true, true) => Ok(()),
        (Role::Partner, false, _) => {
            Err("office: a partner needs the office that hands cases over to it")
        }
        (Role::Partner, true, false) => {
            Err("country: a partner needs the country of origin it receives returnees in")
        }
        (_, false, _) => Err("office: return officers, operations and finance need an office"),
        (_, true, true) => Err("country: only partners have a country of origin"),
        (_, true, false) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_auditors_and_admins_see_every_case() {
        for role in [Role::ReturnOfficer, Role::Operations, Role::Finance] {
            assert!(check_user_scope(role, true, false).is_ok());
            assert!(
                check_user_scope(role, false, false)
                    .unwrap_err()
                    .starts_with("office")
            );
        }
        assert!(check_user_scope(Role::Partner, true, true).is_ok());
        assert!(
            check_user_scope(Role::Partner, true, false)
                .unwrap_err()
                .starts_with("country")
        );
        assert!(
            check_user_scope(Role::Partner, false, true)
                .unwrap_err()
                .starts_with("office")
        );
        assert!(check_user_scope(Role::Auditor, false, false).is_ok());
        assert!(check_user_scope(Role::Admin, true, false).is_err());
        assert!(check_user_scope(Role::System, false, false).is_err());
        // An actor without the office its role needs sees nothing, whatever the case.
        let lost = Actor {
            id: "u-x".into(),
            role: Role::Partner,
            office: None,
            country: None,
            supervisor: false,
        };
        assert_eq!(lost.scope(), Scope::Nobody);
    }

    #[test]
    fn a_partner_sees_a_case_only_while_it_is_handed_over_to_it() {
        let partner = Scope::Partner {
            office: "NLD".into(),
            country: "IRQ".into(),
        };
        for stage in [
            Stage::Intake,
            Stage::Counselling,
            Stage::Consent,
            Stage::FlightBooking,
        ] {
            assert!(!partner.covers("NLD", "IRQ", stage), "{stage}");
        }
        for stage in [
            Stage::Departure,
            Stage::ArrivalReception,
            Stage::Reintegration,
        ] {
            assert!(partner.covers("NLD", "IRQ", stage), "{stage}");
            assert!(
                !partner.covers("GBR", "IRQ", stage),
                "another office's case"
            );
            assert!(
                !partner.covers("NLD", "AFG", stage),
                "another country's case"
            );
        }
        assert!(!partner.covers("NLD", "IRQ", Stage::Closed));
    }
}
