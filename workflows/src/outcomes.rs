//! What people answer to a task: one outcome per kind of task, the content checks that depend
//! only on the outcome, and the Reintegration Sustainability Survey's scoring.

use crate::programme::Money;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// What the returnee decided in a counselling session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CounsellingDecision {
    /// Go on to informed consent.
    WantsToReturn,
    /// Schedule another session.
    Undecided,
    /// The case closes.
    DoesNotWantToReturn,
}

/// How an escalation or failure is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Try again (rebook, keep waiting, retry the payment, note the follow-up).
    Retry,
    /// Close the case.
    Close,
}

/// Areas of reintegration support in a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SupportArea {
    /// Micro-business, training, job placement.
    Economic,
    /// Housing, documents, education, health.
    Social,
    /// Psychosocial support.
    Psychosocial,
    /// Continuity of medical care: treatment, medicines and follow-up arranged in the country of
    /// origin (required in a medical case's plan: `rules::plan_covers_needs`).
    Medical,
}

/// What a budget line of a reintegration plan buys (IOM, *Reintegration Handbook* (2019),
/// module 2, individual reintegration assistance: business start-up, housing, education and
/// vocational training, medical and psychosocial support; reintegrationhb.iom.int).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BudgetArea {
    /// Starting a micro-business: equipment, stock, premises.
    BusinessStartUp,
    /// Rent, repairs, furniture.
    Housing,
    /// School fees, materials.
    Education,
    /// Vocational training, apprenticeship.
    VocationalTraining,
    /// Medical care, medicines.
    Medical,
    /// Psychosocial support, counselling.
    Psychosocial,
    /// Anything else the plan justifies.
    Other,
}

/// Who a budget line pays: a supplier of the office's register (in kind, against its invoice),
/// or the returnee in cash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Payee {
    /// In kind, bought from this supplier (`sup-…`).
    Supplier {
        /// The supplier's id.
        supplier: String,
    },
    /// Cash to the returnee.
    Cash,
}

/// One costed line of a reintegration plan: for which member, what for, how much, paid to whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BudgetLine {
    /// The household member (0-based position).
    pub member: u32,
    /// What it buys.
    pub area: BudgetArea,
    /// How much, in the programme's currency.
    pub amount: Money,
    /// Who is paid.
    pub payee: Payee,
}

impl BudgetLine {
    /// In kind or cash, by its payee.
    pub fn kind(&self) -> crate::programme::PaymentKind {
        match self.payee {
            Payee::Supplier { .. } => crate::programme::PaymentKind::InKind,
            Payee::Cash => crate::programme::PaymentKind::Cash,
        }
    }
}

/// Each line's own checks (the caps need the programme: `rules::plan_within_caps`).
fn check_lines(lines: &[BudgetLine]) -> Result<(), String> {
    for (i, l) in lines.iter().enumerate() {
        if l.amount.minor <= 0 {
            return Err(format!("lines[{i}].amount: must be more than zero"));
        }
        if let Payee::Supplier { supplier } = &l.payee
            && !is_supplier_id(supplier)
        {
            return Err(format!(
                "lines[{i}].payee.supplier: must be a registered supplier's id (sup-…)"
            ));
        }
    }
    Ok(())
}

/// Whether `id` has the shape of a supplier id (`sup-` and 16 lower-case hex digits), as the
/// supplier register (`homeward_activities::suppliers`) issues them.
pub fn is_supplier_id(id: &str) -> bool {
    id.strip_prefix("sup-").is_some_and(|hex| {
        hex.len() == 16
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// The 15 Reintegration Sustainability Survey answers, each scored 1 (worst) to 5 (best):
/// five economic, five social, five psychosocial indicators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RssAnswers {
    /// Income, employment, debt, food security, access to credit.
    #[schema(value_type = Vec<u8>, min_items = 5, max_items = 5)]
    pub economic: [u8; 5],
    /// Housing, education, documents, health care, safety.
    #[schema(value_type = Vec<u8>, min_items = 5, max_items = 5)]
    pub social: [u8; 5],
    /// Wellbeing, distress, discrimination, social network, desire to re-migrate.
    #[schema(value_type = Vec<u8>, min_items = 5, max_items = 5)]
    pub psychosocial: [u8; 5],
}

/// RSS scores, each from 0 (worst) to 1 (best).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RssScores {
    /// Economic dimension.
    pub economic: f64,
    /// Social dimension.
    pub social: f64,
    /// Psychosocial dimension.
    pub psychosocial: f64,
    /// The mean of the three.
    pub composite: f64,
}

impl RssAnswers {
    fn dimension(answers: &[u8; 5]) -> f64 {
        let sum: f64 = answers.iter().map(|&a| f64::from(a) - 1.0).sum();
        (sum / 20.0 * 100.0).round() / 100.0
    }

    /// Scores each dimension as the mean answer rescaled to 0..1; the composite is their mean.
    pub fn scores(&self) -> RssScores {
        let economic = Self::dimension(&self.economic);
        let social = Self::dimension(&self.social);
        let psychosocial = Self::dimension(&self.psychosocial);
        let composite = ((economic + social + psychosocial) / 3.0 * 100.0).round() / 100.0;
        RssScores {
            economic,
            social,
            psychosocial,
            composite,
        }
    }

    fn check(&self) -> Result<(), String> {
        let all = self
            .economic
            .iter()
            .chain(&self.social)
            .chain(&self.psychosocial);
        if all.into_iter().all(|a| (1..=5).contains(a)) {
            Ok(())
        } else {
            Err("answers must each be from 1 to 5".into())
        }
    }
}

/// Who an unaccompanied child was handed over to at arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Receiver {
    /// A parent.
    Parent,
    /// Another member of the family the family assessment found able to care for the child.
    FamilyMember,
    /// A legal guardian appointed in the country of origin.
    LegalGuardian,
    /// A care institution (the child protection authority's placement).
    CareInstitution,
}

/// The identity document of the receiver that the partner checked at the hand-over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReceiverDocument {
    /// A passport.
    Passport,
    /// A national identity card.
    NationalId,
    /// A care institution's mandate or a guardianship order.
    Mandate,
}

/// An unaccompanied child's hand-over at arrival, signed: to whom (as the family assessment
/// named them; their name stays on the signed form the partner keeps, never in the case's
/// history), when, and which of their documents was checked. IOM, *Handbook on Protection and
/// Assistance for Migrants Vulnerable to Violence, Exploitation and Abuse* (2019), Part 3, 3.4
/// (return of unaccompanied children: the child is handed over in person to the family member
/// or guardian identified beforehand, whose identity is verified, and the hand-over is
/// documented); <https://publications.iom.int/books/iom-handbook-protection-and-assistance-migrants-vulnerable-violence-exploitation-and-abuse>.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChildHandOver {
    /// Who received the child.
    pub to: Receiver,
    /// When.
    pub at: DateTime<Utc>,
    /// The receiver's document checked.
    pub document_checked: ReceiverDocument,
    /// The hand-over form signed by the receiver and the escort.
    pub signed: bool,
}

/// What a completion says; one variant per kind of task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaskOutcome {
    /// Counselling session outcome.
    Counselling {
        /// The returnee's decision.
        decision: CounsellingDecision,
    },
    /// A signed (or refused) declaration.
    Consent {
        /// Whether it was signed.
        signed: bool,
    },
    /// A best-interests determination or family assessment.
    Assessment {
        /// Whether it supports the return.
        supports_return: bool,
    },
    /// An unaccompanied child's own views on returning.
    ChildViews {
        /// Whether the child was heard (in an age-appropriate way). Not heard only below the
        /// age the programme sets, with the reason why.
        heard: bool,
        /// Whether the child, heard, wants to return home.
        #[serde(default)]
        wants_to_return: bool,
    },
    /// A trafficking victim's risk assessment.
    RiskAssessment {
        /// Whether contacting the authorities of the country of origin is safe.
        safe_to_contact_authorities: bool,
    },
    /// An approval decision.
    Approval {
        /// Approved or rejected.
        approved: bool,
    },
    /// The travel document issued.
    TravelDocument {
        /// The last day it is valid.
        #[schema(value_type = String, format = Date)]
        expires_on: NaiveDate,
    },
    /// The medical check.
    FitToTravel {
        /// Whether the returnee may fly.
        fit: bool,
        /// Whether a medical escort must fly along.
        medical_escort: bool,
    },
    /// Departure day: the escort or airport assistance asks the returnee, before boarding,
    /// whether they still want to go (voluntariness re-confirmed on the day).
    Departure {
        /// Departed, having confirmed they still want to go (true), or did not fly (false).
        departed: bool,
        /// Did not fly because they changed their mind at the airport: back to counselling,
        /// never a no-show. Only with `departed: false`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        changed_mind: bool,
    },
    /// Reception in the country of origin.
    Arrival {
        /// Received (for a child: handed over to family or guardian).
        received: bool,
        /// An unaccompanied child's signed hand-over: required to receive the child.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hand_over: Option<ChildHandOver>,
    },
    /// The reintegration plan.
    Plan {
        /// The areas it supports.
        support: Vec<SupportArea>,
        /// Its budget, costed per member within the programme's caps; the tranches that pay
        /// the plan (`from_plan`) pay these lines. Absent: the programme's per-head amounts.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        lines: Vec<BudgetLine>,
    },
    /// A milestone verified.
    Milestone {
        /// Whether the milestone was reached.
        reached: bool,
        /// An amendment of the plan's budget the partner proposes with the review; operations
        /// approve it before the tranche is paid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amended_lines: Option<Vec<BudgetLine>>,
    },
    /// A monitoring survey.
    Survey {
        /// Whether the returnee was reached.
        reached: bool,
        /// The answers, when reached.
        answers: Option<RssAnswers>,
    },
    /// A supplier's invoice for in-kind support: whom a tranche pays, for what.
    Invoice {
        /// The supplier, registered with the office (`sup-…`, `POST /api/v1/suppliers`).
        supplier: String,
        /// The supplier's invoice number.
        invoice_reference: String,
        /// The amount invoiced: at most what the tranche grants, in its currency.
        amount: Money,
    },
    /// How an escalation or failure was resolved.
    Resolution {
        /// What to do next.
        action: Resolution,
    },
}

impl TaskOutcome {
    /// Content checks that depend only on the outcome and the clock.
    pub(crate) fn check(
        &self,
        today: NaiveDate,
        min_document_expiry: Option<NaiveDate>,
    ) -> Result<(), String> {
        match self {
            TaskOutcome::TravelDocument { expires_on } => {
                if *expires_on <= today {
                    return Err(format!("expires_on: {expires_on} is not in the future"));
                }
                if let Some(min) = min_document_expiry
                    && *expires_on < min
                {
                    return Err(format!(
                        "expires_on: the document must be valid until at least {min} to cover the flight"
                    ));
                }
                Ok(())
            }
            TaskOutcome::Departure {
                departed: true,
                changed_mind: true,
            } => Err("changed_mind: a returnee who departed did not change their mind".into()),
            TaskOutcome::ChildViews {
                heard: false,
                wants_to_return: true,
            } => Err("wants_to_return: a child who was not heard expressed no view".into()),
            TaskOutcome::Arrival {
                received: false,
                hand_over: Some(_),
            } => Err("hand_over: a child not received was not handed over".into()),
            TaskOutcome::Arrival {
                hand_over: Some(h), ..
            } => {
                if !h.signed {
                    Err("hand_over.signed: the receiver and the escort sign the hand-over".into())
                } else if h.at.date_naive() > today {
                    Err(format!("hand_over.at: {} is in the future", h.at))
                } else {
                    Ok(())
                }
            }
            TaskOutcome::Invoice {
                supplier,
                invoice_reference,
                amount,
            } => {
                if !is_supplier_id(supplier) {
                    return Err("supplier: must be a registered supplier's id (sup-…)".into());
                }
                let r = invoice_reference.trim();
                if r.is_empty()
                    || r.chars().count() > 64
                    || r.chars().any(char::is_control)
                    || r != invoice_reference
                {
                    return Err("invoice_reference: must be 1 to 64 characters".into());
                }
                if amount.minor <= 0 {
                    return Err("amount: must be more than zero".into());
                }
                Ok(())
            }
            TaskOutcome::Plan { support, .. } if support.is_empty() => {
                Err("support: a plan must name at least one area".into())
            }
            TaskOutcome::Plan { lines, .. } => check_lines(lines),
            TaskOutcome::Milestone {
                amended_lines: Some(lines),
                ..
            } if lines.is_empty() => Err("amended_lines: an amendment has lines".into()),
            TaskOutcome::Milestone {
                amended_lines: Some(lines),
                ..
            } => check_lines(lines).map_err(|e| format!("amended_{e}")),
            TaskOutcome::Survey {
                reached: true,
                answers: None,
            } => Err("answers: a reached returnee's survey needs all 15 answers".into()),
            TaskOutcome::Survey {
                answers: Some(a), ..
            } => a.check().map_err(|e| format!("answers: {e}")),
            _ => Ok(()),
        }
    }

    /// Whether this outcome is a refusal that needs a written reason.
    pub(crate) fn is_negative(&self) -> bool {
        matches!(
            self,
            TaskOutcome::Approval { approved: false }
                | TaskOutcome::Consent { signed: false }
                | TaskOutcome::Assessment {
                    supports_return: false
                }
                | TaskOutcome::RiskAssessment {
                    safe_to_contact_authorities: false
                }
                | TaskOutcome::ChildViews { heard: false, .. }
                | TaskOutcome::ChildViews {
                    wants_to_return: false,
                    ..
                }
                | TaskOutcome::Resolution {
                    action: Resolution::Close
                }
                | TaskOutcome::Departure {
                    changed_mind: true,
                    ..
                }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_scores_are_rescaled_means() {
        let a = RssAnswers {
            economic: [5; 5],
            social: [3; 5],
            psychosocial: [1; 5],
        };
        let s = a.scores();
        assert_eq!(
            (s.economic, s.social, s.psychosocial, s.composite),
            (1.0, 0.5, 0.0, 0.5)
        );
    }
}
