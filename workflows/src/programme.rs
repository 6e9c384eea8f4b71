//! Programme rules: eligibility, grant amounts, the tranche and monitoring schedules, and every
//! deadline. Loaded from `config/programmes/<id>.toml` when a case opens and carried in the
//! workflow's input, so a running case keeps the rules it was opened under even when the file
//! changes later.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::{CountryCode, ProgrammeId};
use crate::tasks::Role;

/// A duration written as text (`"7d"`, `"3months"`, `"36h"`), parsed when the file is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(Duration);

impl Span {
    /// Wraps a duration.
    pub fn new(d: Duration) -> Self {
        Self(d)
    }
    /// The duration.
    pub fn get(self) -> Duration {
        self.0
    }
    /// As a chrono duration, for date arithmetic.
    pub fn chrono(self) -> chrono::Duration {
        chrono::Duration::from_std(self.0).unwrap_or(chrono::Duration::MAX)
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        humantime::parse_duration(&raw).map(Span).map_err(|e| {
            serde::de::Error::custom(format!("{raw:?}: {e} (e.g. \"7d\", \"3months\")"))
        })
    }
}

/// An amount of money in minor units (cents) of a currency. Never a float.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Money {
    /// Minor units, e.g. 180000 for EUR 1,800.00.
    pub minor: i64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
}

/// How a tranche is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentKind {
    /// To the returnee (bank or mobile money); capped per programme.
    Cash,
    /// To a supplier of goods or services for the returnee's plan.
    InKind,
}

/// What a tranche's or follow-up's timing counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// The day the partner confirmed reception.
    Arrival,
    /// The day operations approved the reintegration plan.
    PlanApproved,
}

/// One staged reintegration grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tranche {
    /// A stable name, part of the payment's idempotency key (`start`, `six-month-review`).
    pub name: String,
    /// Cash or in kind.
    pub kind: PaymentKind,
    /// Minor units per adult in the household.
    pub per_adult: i64,
    /// Minor units per child travelling with family.
    pub per_child: i64,
    /// Minor units per unaccompanied child; absent: `per_child`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unaccompanied_child: Option<i64>,
    /// What the milestone counts from.
    pub after: Anchor,
    /// How long after the anchor the milestone falls (`"0s"` for at once).
    pub offset: Span,
    /// What the partner must verify before the tranche can be approved.
    pub milestone: String,
    /// Who approves the payment (never the person who verified the milestone).
    pub approver: Role,
    /// Pays the reintegration plan's budget lines of its kind (once the plan has lines): its
    /// per-head amounts are then each member's cap and the tranches' shares, not the payment.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_plan: bool,
}

impl Tranche {
    /// What this tranche grants one member, by age group and whether they travel alone.
    pub fn per_member(&self, member: &crate::domain::Member) -> i64 {
        use crate::domain::{AgeGroup, Vulnerability};
        if member.age_group == AgeGroup::Adult {
            self.per_adult
        } else if member
            .vulnerabilities
            .contains(&Vulnerability::UnaccompaniedChild)
        {
            self.per_unaccompanied_child.unwrap_or(self.per_child)
        } else {
            self.per_child
        }
    }
}

impl Money {
    /// `1500.00 EUR`.
    pub fn shown(&self) -> String {
        format!(
            "{}.{:02} {}",
            self.minor / 100,
            self.minor.rem_euclid(100),
            self.currency
        )
    }
}

/// Every deadline of the lifecycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    /// Consent not given within this goes back to counselling.
    pub consent: Span,
    /// How long an approval task may wait before it is overdue.
    pub approval: Span,
    /// When to escalate waiting for travel documents.
    pub travel_documents: Span,
    /// How often to remind the consulate while waiting for documents.
    pub document_reminder_every: Span,
    /// Documents must stay valid at least this long after the flight.
    pub document_validity_after_flight: Span,
    /// How long the fit-to-travel check may take.
    pub fit_to_travel: Span,
    /// Earliest departure after booking (lead time for the travel partner).
    pub booking_lead_time: Span,
    /// After the flight time, how long before a missing departure confirmation is a no-show.
    pub departure_grace: Span,
    /// After departure, how long the partner has to confirm reception before escalation.
    pub reception: Span,
    /// After arrival, how long to agree the reintegration plan.
    pub reintegration_plan: Span,
    /// How long a partner has to verify a milestone.
    pub milestone_verification: Span,
    /// How long a pending payment may wait for the provider's confirmation (webhook or poll)
    /// before finance is asked what to do.
    #[serde(default = "Deadlines::default_payment_confirmation")]
    pub payment_confirmation: Span,
    /// How often to ask the provider about a pending payment when no webhook has settled it.
    #[serde(default = "Deadlines::default_payment_status_poll")]
    pub payment_status_poll: Span,
    /// How long a counselling session may wait to be recorded (absent in files before it:
    /// 14 days).
    #[serde(default = "Deadlines::default_counselling")]
    pub counselling: Span,
    /// How long past its due date a task waits before the office's supervisors are told
    /// (once per task; absent: 2 days).
    #[serde(default = "Deadlines::default_overdue_grace")]
    pub overdue_grace: Span,
    /// How long the family assessment in the country of origin has (an unaccompanied child;
    /// absent in files before it: 42 days).
    #[serde(default = "Deadlines::default_family_assessment")]
    pub family_assessment: Span,
}

impl Deadlines {
    fn default_counselling() -> Span {
        Span::new(Duration::from_secs(14 * 24 * 3600))
    }

    fn default_family_assessment() -> Span {
        Span::new(Duration::from_secs(42 * 24 * 3600))
    }

    fn default_overdue_grace() -> Span {
        Span::new(Duration::from_secs(2 * 24 * 3600))
    }

    fn default_payment_confirmation() -> Span {
        Span::new(Duration::from_secs(14 * 24 * 3600))
    }

    fn default_payment_status_poll() -> Span {
        Span::new(Duration::from_secs(6 * 3600))
    }
}

/// Monitoring follow-ups and the Reintegration Sustainability Survey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    /// Follow-ups after arrival, e.g. `["3months", "6months", "12months"]`.
    pub follow_ups: Vec<Span>,
    /// How long the partner has to record a survey.
    pub survey_window: Span,
    /// How many times an unanswered follow-up is tried again before escalation.
    pub retries: u32,
    /// The wait between tries.
    pub retry_after: Span,
    /// A dimension score (0 to 1) below this opens a referral.
    pub referral_threshold: f64,
}

/// Travel booking rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Booking {
    /// The most a booking may cost per traveller (minor units) without operations' approval.
    pub budget_per_person: i64,
}

/// A programme's rules, as pinned into a case when it opens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeRules {
    /// The programme's identifier (the file's name).
    pub id: ProgrammeId,
    /// A human name.
    pub name: String,
    /// The version written in the file; the loader appends a content hash.
    pub version: String,
    /// The host country whose offices run it.
    pub host_country: CountryCode,
    /// Countries of origin it serves; empty means all.
    #[serde(default)]
    pub origin_countries: Vec<CountryCode>,
    /// The immigration statuses that make a returnee eligible; empty: status is not asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eligible_statuses: Vec<crate::domain::ImmigrationStatus>,
    /// The grants' currency (ISO 4217).
    pub currency: String,
    /// The most paid in cash over the whole case, per household (minor units); with
    /// `cash_cap_per_person`, the smaller of the two.
    pub cash_cap: i64,
    /// The most paid in cash over the whole case per member (minor units), times the household's
    /// size; absent: only `cash_cap`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cash_cap_per_person: Option<i64>,
    /// How long reintegration support lasts after arrival.
    pub support_period: Span,
    /// How long the people's personal data is kept after the case closes; then the retention
    /// sweep erases it (its statistics stay). Absent in files written before: two years.
    #[serde(default = "ProgrammeRules::default_retention")]
    pub personal_data_retention: Span,
    /// Deadlines.
    pub deadlines: Deadlines,
    /// Booking rules.
    pub booking: Booking,
    /// Grant tranches, in payment order.
    pub tranches: Vec<Tranche>,
    /// Monitoring.
    pub monitoring: Monitoring,
    /// Medical cases found unfit to travel (absent in files before it: the defaults).
    #[serde(default)]
    pub medical: Medical,
    /// Unaccompanied children (absent in files before it: the defaults).
    #[serde(default)]
    pub children: Children,
}

/// Unaccompanied children: from what age their own views on returning must be heard and
/// recorded. Below it they are heard as far as their maturity allows, and the officer records
/// why they were not (UN Committee on the Rights of the Child, General Comment No. 12 (2009),
/// paras. 20-21: no age limit on the right to be heard; the age here is the programme's floor
/// above which hearing is never skipped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Children {
    /// The age from which the child's views are required.
    pub views_required_from_age: u8,
}

impl Default for Children {
    fn default() -> Self {
        Self {
            views_required_from_age: 12,
        }
    }
}

/// What happens when a medical case is found unfit to travel: the journey is deferred and the
/// returnee assessed again after `reassess_after`; after `max_deferrals` unfit assessments in a
/// row, operations decide (defer again, or close the case as travel not possible).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Medical {
    /// The wait before the next fitness-to-travel assessment.
    pub reassess_after: Span,
    /// Unfit assessments in a row before operations decide.
    pub max_deferrals: u32,
}

impl Default for Medical {
    fn default() -> Self {
        Self {
            reassess_after: Span::new(Duration::from_secs(30 * 24 * 3600)),
            max_deferrals: 3,
        }
    }
}

impl ProgrammeRules {
    fn default_retention() -> Span {
        Span::new(Duration::from_secs(730 * 24 * 3600))
    }

    /// Checks what the types cannot; returns the first problem, naming the key.
    pub fn check(&self) -> Result<(), String> {
        if self.currency.len() != 3 || !self.currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "currency: {:?} is not an ISO 4217 code",
                self.currency
            ));
        }
        if self.medical.max_deferrals == 0 {
            return Err("medical.max_deferrals: must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.monitoring.referral_threshold) {
            return Err("monitoring.referral_threshold: must be between 0 and 1".into());
        }
        if self.cash_cap < 0 || self.cash_cap_per_person.is_some_and(|c| c < 0) {
            return Err("cash_cap: must not be negative".into());
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, t) in self.tranches.iter().enumerate() {
            if t.per_adult < 0
                || t.per_child < 0
                || t.per_unaccompanied_child.is_some_and(|a| a < 0)
            {
                return Err(format!("tranches[{i}]: amounts must not be negative"));
            }
            if !names.insert(t.name.as_str()) {
                return Err(format!("tranches[{i}].name: {:?} is used twice", t.name));
            }
            if t.approver != Role::Finance && t.approver != Role::Operations {
                return Err(format!(
                    "tranches[{i}].approver: must be finance or operations"
                ));
            }
        }
        if self.monitoring.follow_ups.is_empty() {
            return Err("monitoring.follow_ups: at least one follow-up is required".into());
        }
        // A poll interval under a second would make a pending payment a busy loop.
        if self.deadlines.payment_status_poll.get() < Duration::from_secs(1) {
            return Err("deadlines.payment_status_poll: must be at least 1s".into());
        }
        if self.deadlines.payment_confirmation < self.deadlines.payment_status_poll {
            return Err(
                "deadlines.payment_confirmation: must be at least deadlines.payment_status_poll"
                    .into(),
            );
        }
        Ok(())
    }

    /// Whether the intake's immigration status makes the returnee eligible; the problem, for the
    /// field `immigration_status`, when not.
    pub fn admits(&self, status: Option<crate::domain::ImmigrationStatus>) -> Result<(), String> {
        if self.eligible_statuses.is_empty() {
            return Ok(());
        }
        let names = || {
            self.eligible_statuses
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match status {
            None => Err(format!(
                "is required by programme {}: one of {}",
                self.id,
                names()
            )),
            Some(s) if self.eligible_statuses.contains(&s) => Ok(()),
            Some(s) => Err(format!(
                "{} is not eligible under programme {} (eligible: {})",
                s.as_str(),
                self.id,
                names()
            )),
        }
    }

    /// Whether a case from `origin` may be opened under this programme.
    pub fn serves(&self, origin: &CountryCode) -> bool {
        self.origin_countries.is_empty() || self.origin_countries.contains(origin)
    }
}
