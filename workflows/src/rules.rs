//! The AVRR rules a case applies, as pure functions: who signs, which protection gates a
//! household needs, what a booking may cost, how much a tranche pays, when each grant and
//! follow-up falls, what is still unpaid, which scores open a referral. The case's stages
//! (`return_case/`) call them; the unit tests below state them as a programme document would.
//!
//! Deterministic and without I/O, like the workflow itself.

use chrono::{DateTime, NaiveDate, Utc};

use crate::activities::Offer;
use crate::domain::{Household, Intake, Member, Vulnerability};
use crate::outcomes::BudgetLine;
use crate::programme::{Anchor, Deadlines, Money, PaymentKind, ProgrammeRules, Tranche};
use crate::return_case::PaymentRecord;
use crate::tasks::{RssScores, SupportArea, TaskType};

/// The household members (their positions) who sign a voluntary-return declaration: every
/// adult, and a 16- or 17-year-old, who co-signs with the legal representative (DOMAIN.md,
/// "Informed consent").
pub fn signers(members: &[Member]) -> Vec<u32> {
    members
        .iter()
        .enumerate()
        .filter(|(_, m)| m.signs_declaration())
        .map(|(i, _)| u32::try_from(i).unwrap_or(u32::MAX))
        .collect()
}

/// The child-protection gates a household needs before it may return, all under the consent
/// deadline. For an unaccompanied child, decided in sequence (`sequenced`): the family
/// assessment and the best-interests determination come first ([`child_assessments`]), then the
/// child's own views and the guardian's consent. Before the sequence, the three gates opened at
/// once.
pub fn child_protection_gates(intake: &Intake, sequenced: bool) -> Vec<TaskType> {
    match (intake.has(Vulnerability::UnaccompaniedChild), sequenced) {
        (false, _) => Vec::new(),
        (true, true) => vec![TaskType::ChildViews, TaskType::GuardianConsent],
        (true, false) => vec![
            TaskType::BestInterestsDetermination,
            TaskType::GuardianConsent,
            TaskType::FamilyAssessment,
        ],
    }
}

/// An unaccompanied child's assessments, one after the other, before anything else is asked:
/// the family assessment in the country of origin (by the reception partner, within
/// `deadlines.family_assessment`), then the best-interests determination in the host country
/// (a designated child protection officer, not the officer who asked), which takes the family
/// assessment into account. Either against return closes the case as not in the child's best
/// interests. Sources: UNHCR, *Guidelines on Assessing and Determining the Best Interests of
/// the Child* (2021), ch. 3 (the BID draws on a family tracing and assessment, is made by a
/// designated panel or officer); IOM, *Handbook on Protection and Assistance for Migrants
/// Vulnerable to Violence, Exploitation and Abuse* (2019), Part 3, 3.4 (return of an
/// unaccompanied child only after a family assessment in the country of origin and a
/// best-interests determination).
pub fn child_assessments(intake: &Intake) -> Vec<TaskType> {
    if intake.has(Vulnerability::UnaccompaniedChild) {
        vec![
            TaskType::FamilyAssessment,
            TaskType::BestInterestsDetermination,
        ]
    } else {
        Vec::new()
    }
}

/// Whether a child of `age` must be heard before returning: from the programme's age
/// (`children.views_required_from_age`); younger, as their maturity allows. The message names
/// the field and the programme's age.
pub fn child_views_required(age: u32, from_age: u8) -> Result<(), String> {
    if age >= u32::from(from_age) {
        Err(format!(
            "heard: the programme requires the views of a child aged {from_age} or over (this \
             child is {age})"
        ))
    } else {
        Ok(())
    }
}

/// Whether the household needs a pre-embarkation fit-to-travel check (a medical case).
pub fn needs_fit_to_travel(intake: &Intake) -> bool {
    intake.has(Vulnerability::Medical)
}

/// Whether the household includes a victim of trafficking: then no authority of the country of
/// origin (the consulate included) and no family is contacted before a risk assessment finds it
/// safe, and never without the person's consent. Source: IOM, *Handbook on Protection and
/// Assistance for Migrants Vulnerable to Violence, Exploitation and Abuse* (2019), Part 4
/// (safety and security: assess the risks of any contact before it is made), and *The IOM
/// Handbook on Direct Assistance for Victims of Trafficking* (2007), ch. 3 (return: "the
/// victim's consent", risk assessment before contact with the country of origin);
/// <https://publications.iom.int/books/iom-handbook-protection-and-assistance-migrants-vulnerable-violence-exploitation-and-abuse>.
pub fn needs_risk_assessment(intake: &Intake) -> bool {
    intake.has(Vulnerability::VictimOfTrafficking)
}

/// The earliest expiry a travel document recorded `today` may have: it must outlast the
/// earliest possible flight (after the booking lead time) by the programme's margin.
pub fn min_document_expiry(now: DateTime<Utc>, d: &Deadlines) -> NaiveDate {
    (now + d.booking_lead_time.chrono() + d.document_validity_after_flight.chrono()).date_naive()
}

/// The last day the returnee may fly on a document expiring `expires_on` (none recorded: no
/// limit).
pub fn last_flight_day(expires_on: Option<NaiveDate>, d: &Deadlines) -> NaiveDate {
    expires_on
        .map(|e| e - d.document_validity_after_flight.chrono())
        .unwrap_or(NaiveDate::MAX)
}

/// Seats to book: the household, and an escort when one must fly along (a medical escort, or
/// a child's: one escort does both).
pub fn travellers(household_size: u8, escort: bool) -> u8 {
    household_size.saturating_add(u8::from(escort))
}

/// An unaccompanied child never flies alone: an escort accompanies them to the hand-over and
/// flies home after it. IOM, *Essentials of Migration Management*, "Return and reintegration
/// of migrants in vulnerable situations" (emm.iom.int/handbooks/return-and-reintegration-
/// migrants/return-and-reintegration-migrants-vulnerable-situations): for unaccompanied or
/// separated children, "supervision during travel (for instance, by trained escorts or
/// specialized airport services)" and reception at the airport or final destination.
pub fn child_needs_escort(intake: &Intake) -> bool {
    intake.has(Vulnerability::UnaccompaniedChild)
}

/// What a booking may cost without operations' approval (minor units).
pub fn booking_budget(rules: &ProgrammeRules, travellers: u8) -> i64 {
    rules.booking.budget_per_person * i64::from(travellers)
}

/// The cheapest offer that departs while the travel document is still valid.
pub fn cheapest_offer(offers: Vec<Offer>, last_day: NaiveDate) -> Option<Offer> {
    offers
        .into_iter()
        .filter(|o| o.departs_at.date_naive() <= last_day)
        .min_by_key(|o| o.total.minor)
}

/// What must be confirmed in the country of origin before a flight is booked: for a medical
/// case, a health facility that receives the returnee and continues their care (IOM,
/// "Returning with a health condition" toolkit, publications.iom.int: proper health care
/// "available and accessible to them at home"); for a victim of trafficking, a reception
/// partner specialised in assisting victims (IOM, *Handbook on Protection and Assistance for
/// Migrants Vulnerable to Violence, Exploitation and Abuse* (2019), Part 4, and *The IOM
/// Handbook on Direct Assistance for Victims of Trafficking* (2007), ch. 3: reception and
/// assistance arranged with a specialised organisation before return).
pub fn receptions_to_confirm(intake: &Intake) -> Vec<TaskType> {
    let mut tasks = vec![];
    if intake.has(Vulnerability::Medical) {
        tasks.push(TaskType::MedicalReception);
    }
    if intake.has(Vulnerability::VictimOfTrafficking) {
        tasks.push(TaskType::SafeReception);
    }
    tasks
}

/// A reintegration plan must answer the household's needs: a medical case's plan includes
/// continuity of care, and a dimension the baseline survey scored below the programme's
/// threshold has its support. Sources: IOM, "Returning with a health condition: A toolkit for
/// counselling migrants with health concerns" (publications.iom.int): returnees with health
/// conditions "need to be sure that proper health care is available and accessible to them at
/// home" and need tailored assistance with their reintegration; IOM / Samuel Hall, "Health and
/// Reintegration: … Continuity of Care and Impact on Reintegration Outcomes" (January 2023).
/// The problem, for the field `support`, when it does not.
pub fn plan_covers_needs(
    intake: &Intake,
    support: &[SupportArea],
    baseline: Option<&RssScores>,
    threshold: f64,
) -> Result<(), String> {
    if intake.has(Vulnerability::Medical) && !support.contains(&SupportArea::Medical) {
        return Err("support: a medical case's plan includes continuity of care (medical)".into());
    }
    // The baseline survey's low dimensions are what the plan must answer (IOM, Reintegration
    // Handbook (2019), 2.2.5, "Reintegration Sustainability Survey as an assessment tool": the
    // RSS taken before the plan shows which dimensions need support;
    // reintegrationhb.iom.int/module/assessing-returnees-needs-and-skills).
    if let Some(scores) = baseline {
        let areas = [
            (SupportArea::Economic, "economic"),
            (SupportArea::Social, "social"),
            (SupportArea::Psychosocial, "psychosocial"),
        ];
        for dimension in referrals(scores, threshold) {
            let (area, name) = areas[usize::try_from(dimension).unwrap_or(0).min(2)];
            if !support.contains(&area) {
                let score = [scores.economic, scores.social, scores.psychosocial]
                    [usize::try_from(dimension).unwrap_or(0).min(2)];
                return Err(format!(
                    "support: the baseline survey's low {name} score ({score:.2}, below \
                     {threshold:.2}) asks for {name} support in the plan"
                ));
            }
        }
    }
    Ok(())
}

/// What a tranche pays this household: its amounts per adult, per child with family and per
/// unaccompanied child; cash is capped over the whole case, per household and (where the
/// programme says so) per person (what was paid in cash before counts against the cap).
pub fn tranche_amount(
    tranche: &Tranche,
    household: Household,
    rules: &ProgrammeRules,
    paid: &[PaymentRecord],
) -> Money {
    let mut amount = tranche.per_adult * household.adults
        + tranche.per_child * household.children
        + tranche.per_unaccompanied_child.unwrap_or(tranche.per_child)
            * household.unaccompanied_children;
    if tranche.kind == PaymentKind::Cash {
        let paid_cash: i64 = paid
            .iter()
            .filter(|p| p.kind == PaymentKind::Cash)
            .map(|p| p.amount.minor)
            .sum();
        let cap = match rules.cash_cap_per_person {
            Some(per_person) => rules.cash_cap.min(per_person * household.people()),
            None => rules.cash_cap,
        };
        amount = amount.min((cap - paid_cash).max(0));
    }
    Money {
        minor: amount,
        currency: rules.currency.clone(),
    }
}

/// Whether a reintegration plan's budget lines stay within the programme's caps: each member's
/// lines of a kind (in kind, to suppliers; cash, to the returnee) at most what the tranches
/// that pay the plan (`from_plan`) grant that member (NL: EUR 2,000 per adult or
/// unaccompanied child and EUR 1,000 per child with family, in kind; UK: GBP 3,000 per adult;
/// sources in the programme files), every line for a member of the household and in the
/// programme's currency. The problem names the line or the member and the cap.
pub fn plan_within_caps(
    rules: &ProgrammeRules,
    members: &[Member],
    lines: &[BudgetLine],
) -> Result<(), String> {
    let cap = |m: &Member, kind: PaymentKind| -> i64 {
        rules
            .tranches
            .iter()
            .filter(|t| t.from_plan && t.kind == kind)
            .map(|t| t.per_member(m))
            .sum()
    };
    let money = |minor: i64| Money {
        minor,
        currency: rules.currency.clone(),
    };
    for (i, l) in lines.iter().enumerate() {
        let Some(m) = usize::try_from(l.member).ok().and_then(|n| members.get(n)) else {
            return Err(format!(
                "lines[{i}].member: the household has {} members, numbered from 0",
                members.len()
            ));
        };
        if l.amount.currency != rules.currency {
            return Err(format!(
                "lines[{i}].amount: the programme pays in {}",
                rules.currency
            ));
        }
        if cap(m, l.kind()) == 0 {
            return Err(format!(
                "lines[{i}].payee: the programme pays no {} from the plan",
                kind_name(l.kind())
            ));
        }
    }
    for (n, m) in members.iter().enumerate() {
        for kind in [PaymentKind::InKind, PaymentKind::Cash] {
            let total: i64 = lines
                .iter()
                .filter(|l| usize::try_from(l.member).ok() == Some(n) && l.kind() == kind)
                .map(|l| l.amount.minor)
                .sum();
            let cap = cap(m, kind);
            if total > cap {
                return Err(format!(
                    "lines: member {n} ({who}): {} {} is over the programme's cap of {} per {who}",
                    money(total).shown(),
                    kind_name(kind),
                    money(cap).shown(),
                    who = member_kind(m),
                ));
            }
        }
    }
    Ok(())
}

/// An amended plan keeps at least what its tranches already paid, of each kind.
pub fn amendment_covers_paid(
    rules: &ProgrammeRules,
    lines: &[BudgetLine],
    paid: &[PaymentRecord],
) -> Result<(), String> {
    for kind in [PaymentKind::InKind, PaymentKind::Cash] {
        let planned: i64 = lines
            .iter()
            .filter(|l| l.kind() == kind)
            .map(|l| l.amount.minor)
            .sum();
        let paid = paid_from_plan(rules, kind, paid);
        if planned < paid {
            let money = |minor| Money {
                minor,
                currency: rules.currency.clone(),
            };
            return Err(format!(
                "amended_lines: the amended plan's {} total, {}, is below the {} already paid",
                kind_name(kind),
                money(planned).shown(),
                money(paid).shown()
            ));
        }
    }
    Ok(())
}

/// What the plan's tranches of this kind have paid so far.
fn paid_from_plan(rules: &ProgrammeRules, kind: PaymentKind, paid: &[PaymentRecord]) -> i64 {
    paid.iter()
        .filter(|p| {
            rules
                .tranches
                .iter()
                .any(|t| t.name == p.tranche && t.from_plan && t.kind == kind)
        })
        .map(|p| p.amount.minor)
        .sum()
}

fn kind_name(kind: PaymentKind) -> &'static str {
    match kind {
        PaymentKind::InKind => "in kind",
        PaymentKind::Cash => "in cash",
    }
}

fn member_kind(m: &Member) -> &'static str {
    if m.age_group == crate::domain::AgeGroup::Adult {
        "adult"
    } else if m
        .vulnerabilities
        .contains(&Vulnerability::UnaccompaniedChild)
    {
        "unaccompanied child"
    } else {
        "child with family"
    }
}

/// What the tranche at position `i` pays from an approved plan's budget lines: its share of
/// what the plan still owes of its kind (the lines' total less what the plan's tranches paid),
/// shared among the plan's tranches still to pay by their per-head amounts for this household;
/// the last of them pays the rest. So a plan is paid exactly, an invoice below its grant leaves
/// the difference to the next tranche, and an amendment changes only what is still unpaid.
pub fn tranche_from_plan(
    i: usize,
    rules: &ProgrammeRules,
    members: &[Member],
    lines: &[BudgetLine],
    paid: &[PaymentRecord],
    voided: &[String],
) -> Money {
    let t = &rules.tranches[i];
    let planned: i64 = lines
        .iter()
        .filter(|l| l.kind() == t.kind)
        .map(|l| l.amount.minor)
        .sum();
    let remaining = (planned - paid_from_plan(rules, t.kind, paid)).max(0);
    let weight = |j: usize| -> i64 {
        members
            .iter()
            .map(|m| rules.tranches[j].per_member(m))
            .sum()
    };
    let left: Vec<usize> = (i..rules.tranches.len())
        .filter(|&j| {
            let u = &rules.tranches[j];
            u.from_plan
                && u.kind == t.kind
                && !paid.iter().any(|p| p.tranche == u.name)
                && !voided.contains(&u.name)
        })
        .collect();
    let total: i64 = left.iter().map(|&j| weight(j)).sum();
    let minor = if left.last().is_none_or(|&j| j == i) || total == 0 {
        remaining
    } else {
        i64::try_from(i128::from(remaining) * i128::from(weight(i)) / i128::from(total))
            .unwrap_or(remaining)
    };
    Money {
        minor,
        currency: rules.currency.clone(),
    }
}

/// A point on the reintegration timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Milestone {
    /// The tranche at this position in the programme's list falls due.
    Tranche(usize),
    /// The follow-up at this position falls due.
    FollowUp(usize),
}

/// The reintegration timeline: each tranche after its anchor (arrival or plan approval) and
/// offset, each follow-up after arrival, in time order; a tranche before a follow-up due at
/// the same moment.
pub fn reintegration_timeline(
    rules: &ProgrammeRules,
    arrived: DateTime<Utc>,
    plan_approved: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, Milestone)> {
    let mut timeline: Vec<(DateTime<Utc>, Milestone)> = Vec::new();
    for (i, t) in rules.tranches.iter().enumerate() {
        let anchor = match t.after {
            Anchor::Arrival => arrived,
            Anchor::PlanApproved => plan_approved,
        };
        timeline.push((anchor + t.offset.chrono(), Milestone::Tranche(i)));
    }
    for (i, f) in rules.monitoring.follow_ups.iter().enumerate() {
        timeline.push((arrived + f.chrono(), Milestone::FollowUp(i)));
    }
    timeline.sort_by_key(|(at, m)| (*at, matches!(m, Milestone::FollowUp(_))));
    timeline
}

/// The tranches neither paid nor voided yet, in programme order (voided when a case unwinds).
pub fn unpaid_tranches(
    rules: &ProgrammeRules,
    paid: &[PaymentRecord],
    voided: &[String],
) -> Vec<String> {
    rules
        .tranches
        .iter()
        .map(|t| t.name.clone())
        .filter(|n| !paid.iter().any(|p| &p.tranche == n) && !voided.contains(n))
        .collect()
}

/// The RSS dimensions (0 economic, 1 social, 2 psychosocial) whose score falls below the
/// programme's threshold: each opens a referral (e.g. a low psychosocial score, a mental-health
/// and psychosocial support referral).
pub fn referrals(scores: &RssScores, threshold: f64) -> Vec<u32> {
    [scores.economic, scores.social, scores.psychosocial]
        .into_iter()
        .enumerate()
        .filter(|(_, s)| *s < threshold)
        .map(|(i, _)| u32::try_from(i).unwrap_or(u32::MAX))
        .collect()
}

/// How long a task of this type has before it is due, when its stage sets no other deadline:
/// every type has one (counselling included), from the programme file.
pub fn due_for(rules: &ProgrammeRules, task_type: TaskType) -> crate::programme::Span {
    use TaskType::*;
    let d = &rules.deadlines;
    match task_type {
        CounsellingSession => d.counselling,
        Consent | BestInterestsDetermination | GuardianConsent | ChildViews | RiskAssessment => {
            d.consent
        }
        FamilyAssessment => d.family_assessment,
        TravelDocument => d.travel_documents,
        FitToTravel | MedicalClearance => d.fit_to_travel,
        MedicalReception | SafeReception => d.approval,
        DepartureConfirmation => d.departure_grace,
        ArrivalConfirmation => d.reception,
        ReintegrationPlan => d.reintegration_plan,
        MilestoneVerification => d.milestone_verification,
        MonitoringSurvey | BaselineSurvey => rules.monitoring.survey_window,
        EligibilityApproval | DocumentEscalation | MedicalEscalation | BookingApproval
        | BookingFailed | NoShow | ReceptionEscalation | PlanApproval | TrancheApproval
        | SupplierInvoice | PaymentFailed | MonitoringEscalation | Referral => d.approval,
    }
}

/// An in-kind tranche pays the supplier's invoice, never more than the tranche grants and only
/// in its currency: the programme's cap is the grant, the invoice what was bought. In-kind
/// support means the office buys goods and services for the returnee from providers rather
/// than handing over cash (IOM, *Reintegration Handbook* (2019), module 2, individual
/// reintegration assistance, reintegrationhb.iom.int; DT&V, "EURP", in-kind support up to the
/// programme's amount, dienstterugkeerenvertrek.nl/ondersteuning-bij-terugkeer/eurp).
pub fn invoice_within(invoiced: &Money, grant: &Money) -> Result<(), String> {
    if invoiced.currency != grant.currency {
        return Err(format!(
            "amount: the tranche pays in {}, not {}",
            grant.currency, invoiced.currency
        ));
    }
    if invoiced.minor > grant.minor {
        return Err(format!(
            "amount: the tranche grants at most {}.{:02} {}",
            grant.minor / 100,
            grant.minor % 100,
            grant.currency
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activities::Receipt;
    use crate::domain::AgeGroup;
    use chrono::TimeZone;

    fn nl() -> ProgrammeRules {
        toml::from_str(include_str!("../../config/programmes/nl-avrr.toml")).expect("nl-avrr")
    }

    #[test]
    fn every_task_type_is_due_counselling_included() {
        let rules = nl();
        for t in TaskType::ALL {
            assert!(due_for(&rules, t).get().as_secs() > 0, "{t}");
        }
        assert_eq!(
            due_for(&rules, TaskType::CounsellingSession),
            rules.deadlines.counselling
        );
        assert_eq!(
            due_for(&rules, TaskType::MonitoringSurvey),
            rules.monitoring.survey_window
        );
    }

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 9, 0, 0).unwrap()
    }

    fn member(age_group: AgeGroup, v: &[Vulnerability]) -> Member {
        Member {
            age_group,
            vulnerabilities: v.to_vec(),
        }
    }

    fn intake(members: Vec<Member>) -> Intake {
        serde_json::from_value(serde_json::json!({
            "programme": "nl-avrr", "host_country": "NLD", "origin_country": "IRQ",
            "household_size": members.len(), "members": members,
        }))
        .unwrap()
    }

    fn paid(kind: PaymentKind, minor: i64) -> PaymentRecord {
        PaymentRecord {
            tranche: "earlier".into(),
            kind,
            amount: Money {
                minor,
                currency: "EUR".into(),
            },
            receipt: Receipt {
                payment_id: "p".into(),
                idempotency_key: "k".into(),
                state: Default::default(),
            },
            at: at(2027, 1, 1),
        }
    }

    #[test]
    fn an_unaccompanied_childs_family_is_assessed_at_origin_then_a_designated_officer_decides_then_the_child_and_guardian_are_heard()
     {
        let child = intake(vec![member(
            AgeGroup::MinorUnder16,
            &[Vulnerability::UnaccompaniedChild],
        )]);
        let assessments = child_assessments(&child);
        assert_eq!(
            assessments,
            [
                TaskType::FamilyAssessment,
                TaskType::BestInterestsDetermination
            ]
        );
        assert_eq!(assessments[0].role(), crate::tasks::Role::Partner);
        assert_eq!(assessments[1].role(), crate::tasks::Role::ChildProtection);
        assert_eq!(
            child_protection_gates(&child, true),
            [TaskType::ChildViews, TaskType::GuardianConsent]
        );
        let rules = nl();
        assert_eq!(
            due_for(&rules, TaskType::FamilyAssessment),
            rules.deadlines.family_assessment
        );
        assert!(rules.deadlines.family_assessment.get() > rules.deadlines.consent.get());
    }

    #[test]
    fn a_child_of_12_or_over_must_be_heard_under_the_dutch_programme() {
        let from = nl().children.views_required_from_age;
        assert_eq!(from, 12, "Rv art. 809: 12 or older");
        assert!(child_views_required(11, from).is_ok());
        let err = child_views_required(12, from).unwrap_err();
        assert!(
            err.starts_with("heard:") && err.contains("12 or over"),
            "{err}"
        );
    }

    fn supplier_line(member: u32, minor: i64) -> BudgetLine {
        BudgetLine {
            member,
            area: crate::outcomes::BudgetArea::BusinessStartUp,
            amount: Money {
                minor,
                currency: "EUR".into(),
            },
            payee: crate::outcomes::Payee::Supplier {
                supplier: "sup-0123456789abcdef".into(),
            },
        }
    }

    #[test]
    fn a_plan_costs_at_most_2000_euros_in_kind_an_adult_or_unaccompanied_child_and_1000_a_child_with_family()
     {
        let rules = nl();
        let adult = member(AgeGroup::Adult, &[]);
        let child = member(AgeGroup::MinorUnder16, &[]);
        let alone = member(AgeGroup::MinorUnder16, &[Vulnerability::UnaccompaniedChild]);
        let family = [adult.clone(), child.clone()];
        assert!(
            plan_within_caps(
                &rules,
                &family,
                &[supplier_line(0, 200_000), supplier_line(1, 100_000)]
            )
            .is_ok()
        );
        let err = plan_within_caps(&rules, &family, &[supplier_line(1, 100_001)]).unwrap_err();
        assert!(
            err.contains("member 1 (child with family)") && err.contains("cap of 1000.00 EUR"),
            "{err}"
        );
        // Two lines of one member add up.
        let err = plan_within_caps(
            &rules,
            &family,
            &[supplier_line(0, 150_000), supplier_line(0, 60_000)],
        )
        .unwrap_err();
        assert!(
            err.contains("2100.00 EUR in kind") && err.contains("cap of 2000.00 EUR per adult"),
            "{err}"
        );
        assert!(plan_within_caps(&rules, &[alone], &[supplier_line(0, 200_000)]).is_ok());
        let cash = BudgetLine {
            payee: crate::outcomes::Payee::Cash,
            ..supplier_line(0, 100)
        };
        assert!(
            plan_within_caps(&rules, &family, &[cash])
                .unwrap_err()
                .starts_with("lines[0].payee")
        );
        let pounds = BudgetLine {
            amount: Money {
                minor: 100,
                currency: "GBP".into(),
            },
            ..supplier_line(0, 100)
        };
        assert!(
            plan_within_caps(&rules, &family, &[pounds])
                .unwrap_err()
                .starts_with("lines[0].amount")
        );
        assert!(
            plan_within_caps(&rules, &family, &[supplier_line(2, 100)])
                .unwrap_err()
                .starts_with("lines[0].member")
        );
    }

    #[test]
    fn the_dutch_plan_is_paid_three_quarters_at_start_and_the_rest_after_the_six_month_review() {
        let rules = nl();
        let members = [member(AgeGroup::Adult, &[]), member(AgeGroup::Adult, &[])];
        let lines = [supplier_line(0, 180_000), supplier_line(1, 120_000)];
        let start = rules
            .tranches
            .iter()
            .position(|t| t.name == "start")
            .expect("start");
        let review = rules
            .tranches
            .iter()
            .position(|t| t.name == "six-month-review")
            .expect("review");
        // EUR 1,500 of EUR 2,000 a head at start: three quarters of EUR 3,000.
        assert_eq!(
            tranche_from_plan(start, &rules, &members, &lines, &[], &[]).minor,
            225_000
        );
        // The start paid EUR 2,000 against its invoice: the review pays the other EUR 1,000.
        let mut paid_start = paid(PaymentKind::InKind, 200_000);
        paid_start.tranche = "start".into();
        let paid = [paid_start];
        assert_eq!(
            tranche_from_plan(review, &rules, &members, &lines, &paid, &[]).minor,
            100_000
        );
        // An amendment may not fall below what was paid.
        assert!(
            amendment_covers_paid(&rules, &[supplier_line(0, 190_000)], &paid)
                .unwrap_err()
                .contains("below the 2000.00 EUR already paid")
        );
        assert!(amendment_covers_paid(&rules, &lines, &paid).is_ok());
    }

    #[test]
    fn every_adult_signs_and_a_16_or_17_year_old_co_signs() {
        let household = [
            member(AgeGroup::Adult, &[]),
            member(AgeGroup::MinorUnder16, &[]),
            member(AgeGroup::Minor16To17, &[]),
        ];
        assert_eq!(signers(&household), [0, 2]);
    }

    #[test]
    fn only_an_unaccompanied_child_needs_the_three_protection_gates() {
        let child = intake(vec![member(
            AgeGroup::MinorUnder16,
            &[Vulnerability::UnaccompaniedChild],
        )]);
        assert_eq!(child_protection_gates(&child, false).len(), 3);
        let family = intake(vec![member(
            AgeGroup::Adult,
            &[Vulnerability::SingleParent],
        )]);
        assert!(child_protection_gates(&family, false).is_empty());
        assert!(child_protection_gates(&family, true).is_empty());
        assert!(child_assessments(&family).is_empty());
        assert!(!needs_fit_to_travel(&family));
        let medical = intake(vec![member(AgeGroup::Adult, &[Vulnerability::Medical])]);
        assert!(needs_fit_to_travel(&medical));
    }

    #[test]
    fn a_trafficking_victim_anywhere_in_the_household_needs_a_risk_assessment() {
        let family = intake(vec![
            member(AgeGroup::Adult, &[Vulnerability::Medical]),
            member(AgeGroup::Adult, &[Vulnerability::VictimOfTrafficking]),
        ]);
        assert!(needs_risk_assessment(&family));
        let other = intake(vec![member(AgeGroup::Adult, &[Vulnerability::Medical])]);
        assert!(!needs_risk_assessment(&other));
    }

    #[test]
    fn a_document_must_outlast_the_earliest_flight_by_the_programmes_margin() {
        let d = &nl().deadlines;
        let now = at(2027, 1, 1);
        let min = min_document_expiry(now, d);
        assert_eq!(
            min,
            (now + d.booking_lead_time.chrono() + d.document_validity_after_flight.chrono())
                .date_naive()
        );
        let expires = NaiveDate::from_ymd_opt(2027, 6, 30).unwrap();
        assert_eq!(
            last_flight_day(Some(expires), d),
            expires - d.document_validity_after_flight.chrono()
        );
        assert_eq!(last_flight_day(None, d), NaiveDate::MAX);
    }

    #[test]
    fn medical_and_trafficking_cases_confirm_their_reception_before_booking() {
        let with = |v: Vec<Vulnerability>| {
            intake(vec![Member {
                age_group: AgeGroup::Adult,
                vulnerabilities: v,
            }])
        };
        assert_eq!(
            receptions_to_confirm(&with(vec![
                Vulnerability::VictimOfTrafficking,
                Vulnerability::Medical
            ])),
            [TaskType::MedicalReception, TaskType::SafeReception]
        );
        assert!(receptions_to_confirm(&with(vec![Vulnerability::Elderly])).is_empty());
    }

    #[test]
    fn an_unaccompanied_child_flies_with_an_escort_and_one_escort_takes_one_seat() {
        let child = intake(vec![Member {
            age_group: AgeGroup::MinorUnder16,
            vulnerabilities: vec![Vulnerability::UnaccompaniedChild],
        }]);
        assert!(child_needs_escort(&child));
        assert!(!child_needs_escort(&intake(vec![Member::adult()])));
        assert_eq!(travellers(1, true), 2);
    }

    #[test]
    fn an_invoice_pays_at_most_the_tranches_grant_in_its_currency() {
        let eur = |minor| Money {
            minor,
            currency: "EUR".into(),
        };
        assert_eq!(invoice_within(&eur(150_000), &eur(150_000)), Ok(()));
        assert_eq!(invoice_within(&eur(90_000), &eur(150_000)), Ok(()));
        let over = invoice_within(&eur(150_001), &eur(150_000)).unwrap_err();
        assert_eq!(over, "amount: the tranche grants at most 1500.00 EUR");
        let gbp = Money {
            minor: 100,
            currency: "GBP".into(),
        };
        assert!(
            invoice_within(&gbp, &eur(150_000))
                .unwrap_err()
                .contains("EUR")
        );
    }

    #[test]
    fn a_booking_over_the_budget_per_traveller_needs_approval_and_an_escort_has_a_seat() {
        let rules = nl();
        assert_eq!(travellers(2, true), 3);
        assert_eq!(
            booking_budget(&rules, 3),
            rules.booking.budget_per_person * 3
        );
        let offer = |id: &str, day: u32, minor: i64| Offer {
            offer_id: id.into(),
            departs_at: at(2027, 2, day),
            total: Money {
                minor,
                currency: "EUR".into(),
            },
            escort_return_offer_id: None,
        };
        let last = NaiveDate::from_ymd_opt(2027, 2, 10).unwrap();
        let best = cheapest_offer(
            vec![
                offer("a", 1, 500),
                offer("b", 5, 400),
                offer("late", 20, 100),
            ],
            last,
        );
        assert_eq!(best.map(|o| o.offer_id), Some("b".into()));
    }

    #[test]
    fn a_tranche_pays_per_adult_and_child_and_cash_is_capped_per_household() {
        let rules = nl();
        let family = Household {
            adults: 2,
            children: 1,
            unaccompanied_children: 0,
        };
        for t in &rules.tranches {
            let money = tranche_amount(t, family, &rules, &[]);
            let full = t.per_adult * 2 + t.per_child;
            match t.kind {
                PaymentKind::InKind => assert_eq!(money.minor, full, "{}", t.name),
                PaymentKind::Cash => assert!(money.minor <= full.min(rules.cash_cap)),
            }
            assert_eq!(money.currency, rules.currency);
        }
        if let Some(cash) = rules.tranches.iter().find(|t| t.kind == PaymentKind::Cash) {
            let spent = paid(PaymentKind::Cash, rules.cash_cap);
            assert_eq!(tranche_amount(cash, family, &rules, &[spent]).minor, 0);
            let in_kind = paid(PaymentKind::InKind, rules.cash_cap);
            assert!(tranche_amount(cash, family, &rules, &[in_kind]).minor > 0);
        }
    }

    #[test]
    fn nl_pays_the_published_amounts_per_adult_child_and_unaccompanied_child() {
        // IOM NL / DT&V (cited in the programme file): EUR 2,000 in kind per adult and per
        // unaccompanied child, EUR 1,000 per child with family, EUR 615 per person on arrival.
        let rules = nl();
        let total = |h: Household, kind: PaymentKind| -> i64 {
            rules
                .tranches
                .iter()
                .filter(|t| t.kind == kind)
                .map(|t| tranche_amount(t, h, &rules, &[]).minor)
                .sum()
        };
        let family = Household {
            adults: 2,
            children: 3,
            unaccompanied_children: 0,
        };
        assert_eq!(
            total(family, PaymentKind::InKind),
            2 * 200_000 + 3 * 100_000
        );
        assert_eq!(total(family, PaymentKind::Cash), 5 * 61_500);
        let alone = Household {
            unaccompanied_children: 1,
            ..Household::default()
        };
        assert_eq!(total(alone, PaymentKind::InKind), 200_000);
        assert_eq!(total(alone, PaymentKind::Cash), 61_500);
    }

    #[test]
    fn the_uk_scheme_admits_by_immigration_status_not_by_country() {
        use crate::domain::ImmigrationStatus as S;
        let uk: ProgrammeRules =
            toml::from_str(include_str!("../../config/programmes/uk-vrs.toml")).expect("uk-vrs");
        assert!(uk.origin_countries.is_empty());
        assert!(uk.admits(Some(S::RefusedAsylum)).is_ok());
        assert!(uk.admits(Some(S::ModernSlaveryVictim)).is_ok());
        for refused in [S::SettledOrProtected, S::SeriousOffence] {
            assert!(uk.admits(Some(refused)).is_err(), "{refused:?}");
        }
        assert!(uk.admits(None).unwrap_err().contains("is required"));
        // A programme without statuses does not ask.
        assert!(nl().admits(None).is_ok());
    }

    #[test]
    fn a_medical_case_plan_includes_continuity_of_care() {
        let medical = intake(vec![Member {
            age_group: AgeGroup::Adult,
            vulnerabilities: vec![Vulnerability::Medical],
        }]);
        let err = plan_covers_needs(&medical, &[SupportArea::Economic], None, 0.33).unwrap_err();
        assert!(err.starts_with("support:"), "{err}");
        assert!(
            plan_covers_needs(
                &medical,
                &[SupportArea::Economic, SupportArea::Medical],
                None,
                0.33
            )
            .is_ok()
        );
        let other = intake(vec![Member::adult()]);
        assert!(plan_covers_needs(&other, &[SupportArea::Economic], None, 0.33).is_ok());
    }

    #[test]
    fn a_low_baseline_psychosocial_score_asks_for_psychosocial_support_in_the_plan() {
        let household = intake(vec![Member::adult()]);
        let baseline = RssScores {
            economic: 0.6,
            social: 0.5,
            psychosocial: 0.2,
            composite: 0.43,
        };
        let err = plan_covers_needs(&household, &[SupportArea::Economic], Some(&baseline), 0.33)
            .unwrap_err();
        assert!(
            err.starts_with("support:") && err.contains("psychosocial score (0.20"),
            "{err}"
        );
        assert!(
            plan_covers_needs(
                &household,
                &[SupportArea::Economic, SupportArea::Psychosocial],
                Some(&baseline),
                0.33
            )
            .is_ok()
        );
    }

    #[test]
    fn cash_is_capped_per_person_over_the_whole_case() {
        let mut rules = nl();
        rules.cash_cap_per_person = Some(10_000);
        let cash = rules
            .tranches
            .iter()
            .find(|t| t.kind == PaymentKind::Cash)
            .expect("a cash tranche")
            .clone();
        let two = Household {
            adults: 2,
            ..Household::default()
        };
        assert_eq!(tranche_amount(&cash, two, &rules, &[]).minor, 20_000);
        let before = paid(PaymentKind::Cash, 15_000);
        assert_eq!(tranche_amount(&cash, two, &rules, &[before]).minor, 5_000);
        // The household cap, when smaller, wins.
        rules.cash_cap = 12_000;
        assert_eq!(tranche_amount(&cash, two, &rules, &[]).minor, 12_000);
    }

    #[test]
    fn grants_and_follow_ups_fall_in_time_order_counted_from_their_anchor() {
        let rules = nl();
        let arrived = at(2027, 1, 1);
        let approved = at(2027, 1, 20);
        let timeline = reintegration_timeline(&rules, arrived, approved);
        assert_eq!(
            timeline.len(),
            rules.tranches.len() + rules.monitoring.follow_ups.len()
        );
        assert!(timeline.windows(2).all(|w| w[0].0 <= w[1].0));
        for (when, m) in &timeline {
            if let Milestone::Tranche(i) = m {
                let t = &rules.tranches[*i];
                let anchor = match t.after {
                    Anchor::Arrival => arrived,
                    Anchor::PlanApproved => approved,
                };
                assert_eq!(*when, anchor + t.offset.chrono());
            }
        }
    }

    #[test]
    fn unpaid_tranches_are_those_neither_paid_nor_voided() {
        let rules = nl();
        let names: Vec<String> = rules.tranches.iter().map(|t| t.name.clone()).collect();
        let mut first = paid(PaymentKind::InKind, 1);
        first.tranche = names[0].clone();
        let voided = vec![names[1].clone()];
        assert_eq!(
            unpaid_tranches(&rules, &[first], &voided),
            names[2..].to_vec()
        );
    }

    #[test]
    fn a_score_below_the_threshold_opens_a_referral_in_that_dimension() {
        let scores = RssScores {
            economic: 0.7,
            social: 0.2,
            psychosocial: 0.1,
            composite: 0.33,
        };
        assert_eq!(referrals(&scores, 0.4), [1, 2]);
        assert!(referrals(&scores, 0.05).is_empty());
    }
}
