//! Forms: the extractor that reads a submitted form (or a GET query), and the form each kind of
//! task shows — radios, checkboxes, a date — read back into the task's outcome as the JSON API
//! takes it. Missing answers are named here, field by field; the content rules stay with the
//! case's validator, whose message the page shows next to the form.

use axum::extract::{FromRequest, Request};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde_json::{Value, json};

use homeward_workflows::tasks::TaskType;

use super::i18n::Texts;
use super::layout::{self, Errors};
use crate::state::AppState;

/// A submitted form (or a GET page's query): its fields in order.
#[derive(Debug, Clone, Default)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// The first value of `name`, or "".
    pub fn value(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name` (checkboxes).
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Every field, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// A form from `pairs` (tests, and pages that re-render what was sent).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }
}

impl FromRequest<AppState> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, _state: &AppState) -> Result<Self, Response> {
        if req.method() == Method::GET || req.method() == Method::HEAD {
            let query = req.uri().query().unwrap_or_default();
            let pairs = serde_urlencoded::from_str(query)
                .map_err(|_| layout::bare_error(StatusCode::BAD_REQUEST))?;
            return Ok(Self { pairs });
        }
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(layout::bare_error(StatusCode::UNSUPPORTED_MEDIA_TYPE));
        }
        // The body limit (`api.max_body_bytes`) is the router's.
        let bytes = axum::body::to_bytes(req.into_body(), usize::MAX)
            .await
            .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE.into_response())?;
        let pairs = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| layout::bare_error(StatusCode::BAD_REQUEST))?;
        Ok(Self { pairs })
    }
}

/// Percent-encodes a query value.
pub fn encode(raw: &str) -> String {
    serde_urlencoded::to_string([("", raw)])
        .map(|s| s.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}

/// The kind of answer a task type asks for (the variants of `TaskOutcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counselling,
    Consent,
    Assessment,
    Risk,
    Approval,
    TravelDocument,
    FitToTravel,
    Departure,
    Arrival,
    ChildViews,
    Plan,
    Milestone,
    Survey,
    Invoice,
    Resolution,
}

fn kind(task: TaskType) -> Kind {
    use TaskType::*;
    match task {
        CounsellingSession => Kind::Counselling,
        Consent | GuardianConsent => Kind::Consent,
        BestInterestsDetermination | FamilyAssessment => Kind::Assessment,
        RiskAssessment => Kind::Risk,
        EligibilityApproval | MedicalClearance | MedicalReception | SafeReception
        | BookingApproval | PlanApproval | TrancheApproval => Kind::Approval,
        TravelDocument => Kind::TravelDocument,
        FitToTravel => Kind::FitToTravel,
        DepartureConfirmation => Kind::Departure,
        ArrivalConfirmation => Kind::Arrival,
        ChildViews => Kind::ChildViews,
        ReintegrationPlan => Kind::Plan,
        MilestoneVerification => Kind::Milestone,
        MonitoringSurvey | BaselineSurvey => Kind::Survey,
        SupplierInvoice => Kind::Invoice,
        DocumentEscalation | MedicalEscalation | BookingFailed | NoShow | ReceptionEscalation
        | PaymentFailed | MonitoringEscalation | Referral => Kind::Resolution,
    }
}

/// A yes/no question: (field, legend key).
fn yes_no(k: Kind) -> Option<(&'static str, &'static str)> {
    Some(match k {
        Kind::Consent => ("signed", "field-signed"),
        Kind::Assessment => ("supports_return", "field-supports_return"),
        Kind::Risk => ("safe_to_contact_authorities", "field-safe_to_contact"),
        Kind::Approval => ("approved", "field-approved"),
        Kind::FitToTravel => ("fit", "field-fit"),
        Kind::Departure => ("departed", "field-departed"),
        Kind::Arrival => ("received", "field-received"),
        Kind::ChildViews => ("heard", "field-heard"),
        Kind::Milestone => ("reached", "field-reached"),
        Kind::Survey => ("reached", "field-survey-reached"),
        _ => return None,
    })
}

const DIMENSIONS: [&str; 3] = ["economic", "social", "psychosocial"];
/// Who an unaccompanied child is handed over to (`Receiver`).
const RECEIVERS: [&str; 4] = [
    "parent",
    "family_member",
    "legal_guardian",
    "care_institution",
];
/// What a plan's budget line buys (`BudgetArea`).
const BUDGET_AREAS: [&str; 7] = [
    "business_start_up",
    "housing",
    "education",
    "vocational_training",
    "medical",
    "psychosocial",
    "other",
];
/// Budget lines a plan's form offers (a line left empty is no line).
const BUDGET_ROWS: usize = 4;
/// The receiver's document checked at the hand-over (`ReceiverDocument`).
const RECEIVER_DOCUMENTS: [&str; 3] = ["passport", "national_id", "mandate"];

fn options(t: &Texts, values: &[&str]) -> Vec<(String, String)> {
    values
        .iter()
        .map(|v| ((*v).to_owned(), t.t(&format!("opt-{v}"))))
        .collect()
}

fn yes_no_options(t: &Texts) -> Vec<(String, String)> {
    vec![("yes".into(), t.t("yes")), ("no".into(), t.t("no"))]
}

/// The fields of a task's form (without the reason, the CSRF token and the button).
pub fn task_fields(
    t: &Texts,
    prefix: &str,
    task: TaskType,
    form: &Form,
    errors: &Errors,
    suppliers: &[(String, String)],
) -> Markup {
    let k = kind(task);
    // Each task's fields are named `<prefix><field>`: two tasks on one page never share an id.
    let n = |field: &str| format!("{prefix}{field}");
    html! {
        @match k {
            Kind::Counselling => (layout::radios(&n("decision"), &t.t("field-decision"),
                &options(t, &["wants_to_return", "undecided", "does_not_want_to_return"]),
                form.value(&n("decision")), errors)),
            Kind::TravelDocument => (layout::date_input(t, &n("expires_on"), &t.t("field-expires_on"),
                [form.value(&n("expires_on.day")), form.value(&n("expires_on.month")), form.value(&n("expires_on.year"))], errors)),
            Kind::Plan => {
                (layout::checkboxes(&n("support"), &t.t("field-support"),
                    &options(t, &["economic", "social", "psychosocial", "medical"]), &form.values(&n("support")), errors))
                h3 class="govuk-heading-s" { (t.t("field-budget")) }
                p class="govuk-hint" { (t.t("field-budget-hint")) }
                @for k in 0..BUDGET_ROWS {
                    @let row = |field: &str| n(&format!("lines.{k}.{field}"));
                    (layout::text_input(&row("member"), &t.t_with("field-line-member", &[("n", &(k + 1).to_string())]),
                        form.value(&row("member")), errors, "off"))
                    (layout::select(&row("area"), &t.t("field-line-area"),
                        &[vec![("".into(), "–".into())], options(t, &BUDGET_AREAS)].concat(),
                        form.value(&row("area")), errors))
                    (layout::text_input(&row("amount"), &t.t("field-line-amount"), form.value(&row("amount")), errors, "off"))
                    (layout::select(&row("supplier"), &t.t("field-supplier"), suppliers,
                        form.value(&row("supplier")), errors))
                }
                (layout::text_input(&n("lines.currency"), &t.t("field-currency"), form.value(&n("lines.currency")), errors, "off"))
            }
            Kind::Resolution => (layout::radios(&n("action"), &t.t("field-action"),
                &options(t, &["retry", "close"]), form.value(&n("action")), errors)),
            Kind::Invoice => {
                (layout::select(&n("supplier"), &t.t("field-supplier"), suppliers,
                    form.value(&n("supplier")), errors))
                @for field in ["invoice_reference", "amount", "currency"] {
                    (layout::text_input(&n(field), &t.t(&format!("field-{field}")),
                        form.value(&n(field)), errors, "off"))
                }
            }
            _ => {}
        }
        @if let Some((field, legend)) = yes_no(k) {
            (layout::radios(&n(field), &t.t(legend), &yes_no_options(t), form.value(&n(field)), errors))
        }
        @if k == Kind::Departure {
            (layout::checkboxes(&n("changed_mind"), &t.t("field-changed_mind"), &[("yes".into(), t.t("field-changed_mind-hint"))],
                &form.values(&n("changed_mind")), errors))
        }
        @if k == Kind::ChildViews {
            (layout::radios(&n("wants_to_return"), &t.t("field-child_wants_to_return"), &yes_no_options(t),
                form.value(&n("wants_to_return")), errors))
        }
        @if k == Kind::Arrival {
            h3 class="govuk-heading-s" { (t.t("field-hand_over")) }
            (layout::select(&n("hand_over.to"), &t.t("field-hand_over-to"),
                &[vec![("".into(), "–".into())], options(t, &RECEIVERS)].concat(),
                form.value(&n("hand_over.to")), errors))
            (layout::select(&n("hand_over.document_checked"), &t.t("field-hand_over-document"),
                &[vec![("".into(), "–".into())], options(t, &RECEIVER_DOCUMENTS)].concat(),
                form.value(&n("hand_over.document_checked")), errors))
            (layout::checkboxes(&n("hand_over.signed"), &t.t("field-hand_over-signed"), &[("yes".into(), t.t("field-hand_over-signed-hint"))],
                &form.values(&n("hand_over.signed")), errors))
        }
        @if k == Kind::FitToTravel {
            (layout::checkboxes(&n("medical_escort"), &t.t("field-medical_escort"), &[("yes".into(), t.t("field-medical_escort"))],
                &form.values(&n("medical_escort")), errors))
        }
        @if k == Kind::Survey {
            h3 class="govuk-heading-s" { (t.t("field-answers")) }
            @for d in DIMENSIONS {
                @for q in 1..=5u8 {
                    @let name = n(&format!("answers.{d}.{q}"));
                    (layout::select(&name, &format!("{} – {}", t.t(d), t.t_with("question", &[("n", &q.to_string())])),
                        &[("".into(), "–".into()), ("1".into(), "1".into()), ("2".into(), "2".into()),
                          ("3".into(), "3".into()), ("4".into(), "4".into()), ("5".into(), "5".into())],
                        form.value(&name), errors))
                }
            }
        }
    }
}

/// Reads a task's form into the outcome JSON the API takes, or names each missing answer.
pub fn read_outcome(
    t: &Texts,
    prefix: &str,
    task: TaskType,
    form: &Form,
) -> Result<Value, Vec<(String, String)>> {
    let k = kind(task);
    let n = |field: &str| format!("{prefix}{field}");
    let mut errors = vec![];
    let yes = |field: &str, errors: &mut Vec<(String, String)>| match form.value(&n(field)) {
        "yes" => Some(true),
        "no" => Some(false),
        _ => {
            errors.push((n(field), t.t("select-one")));
            None
        }
    };
    let answer = |errors: &mut Vec<(String, String)>, field: &str, allowed: &[&str]| {
        let v = form.value(&n(field));
        if allowed.contains(&v) {
            Some(v.to_owned())
        } else {
            errors.push((n(field), t.t("select-one")));
            None
        }
    };
    let outcome = match k {
        Kind::Counselling => answer(
            &mut errors,
            "decision",
            &["wants_to_return", "undecided", "does_not_want_to_return"],
        )
        .map(|d| json!({"type": "counselling", "decision": d})),
        Kind::Consent => {
            yes("signed", &mut errors).map(|v| json!({"type": "consent", "signed": v}))
        }
        Kind::Assessment => yes("supports_return", &mut errors)
            .map(|v| json!({"type": "assessment", "supports_return": v})),
        Kind::Risk => yes("safe_to_contact_authorities", &mut errors)
            .map(|v| json!({"type": "risk_assessment", "safe_to_contact_authorities": v})),
        Kind::Approval => {
            yes("approved", &mut errors).map(|v| json!({"type": "approval", "approved": v}))
        }
        Kind::TravelDocument => {
            let part = |p: &str| {
                form.value(&n(&format!("expires_on.{p}")))
                    .trim()
                    .parse::<u32>()
                    .ok()
            };
            match (part("year"), part("month"), part("day")) {
                (Some(y), Some(m), Some(d)) => {
                    match chrono::NaiveDate::from_ymd_opt(y as i32, m, d) {
                        Some(date) => Some(json!({"type": "travel_document", "expires_on": date})),
                        None => {
                            errors.push((n("expires_on"), t.t("enter-date")));
                            None
                        }
                    }
                }
                _ => {
                    errors.push((n("expires_on"), t.t("enter-date")));
                    None
                }
            }
        }
        Kind::FitToTravel => yes("fit", &mut errors).map(|fit| {
            json!({"type": "fit_to_travel", "fit": fit,
                   "medical_escort": form.values(&n("medical_escort")).contains(&"yes")})
        }),
        Kind::Departure => yes("departed", &mut errors).map(|v| {
            json!({"type": "departure", "departed": v,
                   "changed_mind": form.values(&n("changed_mind")).contains(&"yes")})
        }),
        Kind::Arrival => yes("received", &mut errors).map(|v| {
            // An unaccompanied child's hand-over, when the partner filled it in (recorded as
            // of now); the case refuses a child received without it.
            let to = form.value(&n("hand_over.to"));
            let document = form.value(&n("hand_over.document_checked"));
            if v && RECEIVERS.contains(&to) && RECEIVER_DOCUMENTS.contains(&document) {
                json!({"type": "arrival", "received": v, "hand_over": {
                    "to": to, "at": chrono::Utc::now(), "document_checked": document,
                    "signed": form.values(&n("hand_over.signed")).contains(&"yes")}})
            } else {
                json!({"type": "arrival", "received": v})
            }
        }),
        Kind::ChildViews => yes("heard", &mut errors).map(|heard| {
            json!({"type": "child_views", "heard": heard,
                   "wants_to_return": heard && form.value(&n("wants_to_return")) == "yes"})
        }),
        Kind::Plan => {
            let support: Vec<&str> = form
                .values(&n("support"))
                .into_iter()
                .filter(|v| ["economic", "social", "psychosocial", "medical"].contains(v))
                .collect();
            let currency = form.value(&n("lines.currency")).trim().to_uppercase();
            let mut lines = vec![];
            for k in 0..BUDGET_ROWS {
                let row = |field: &str| n(&format!("lines.{k}.{field}"));
                let amount = form.value(&row("amount")).trim();
                if amount.is_empty() {
                    continue;
                }
                let member = form.value(&row("member")).trim().parse::<u32>().ok();
                let minor = homeward_activities::wire::to_minor(amount);
                let area = form.value(&row("area"));
                let supplier = form.value(&row("supplier"));
                if member.is_none() {
                    errors.push((row("member"), t.t("enter-value")));
                }
                if minor.is_none() {
                    errors.push((row("amount"), t.t("enter-amount")));
                }
                if !BUDGET_AREAS.contains(&area) {
                    errors.push((row("area"), t.t("select-one")));
                }
                if supplier.is_empty() {
                    errors.push((row("supplier"), t.t("select-one")));
                }
                if currency.is_empty() {
                    errors.push((n("lines.currency"), t.t("enter-value")));
                }
                // Members are numbered from 1 on the form, from 0 in the API.
                lines.push(
                    json!({"member": member.unwrap_or(1).saturating_sub(1), "area": area,
                    "amount": {"minor": minor.unwrap_or(0), "currency": currency},
                    "payee": {"type": "supplier", "supplier": supplier}}),
                );
            }
            if support.is_empty() {
                errors.push((n("support"), t.t("select-one")));
                None
            } else {
                Some(json!({"type": "plan", "support": support, "lines": lines}))
            }
        }
        Kind::Milestone => {
            yes("reached", &mut errors).map(|v| json!({"type": "milestone", "reached": v}))
        }
        Kind::Survey => yes("reached", &mut errors).map(|reached| {
            if !reached {
                return json!({"type": "survey", "reached": false, "answers": null});
            }
            let mut answers = serde_json::Map::new();
            for d in DIMENSIONS {
                let mut scores = vec![];
                for q in 1..=5 {
                    let name = n(&format!("answers.{d}.{q}"));
                    match form.value(&name).parse::<u8>() {
                        Ok(s) if (1..=5).contains(&s) => scores.push(s),
                        _ => errors.push((name, t.t("select-one"))),
                    }
                }
                answers.insert(d.to_owned(), json!(scores));
            }
            json!({"type": "survey", "reached": true, "answers": answers})
        }),
        Kind::Resolution => answer(&mut errors, "action", &["retry", "close"])
            .map(|a| json!({"type": "resolution", "action": a})),
        Kind::Invoice => {
            let mut text = |field: &str| {
                let v = form.value(&n(field)).trim();
                if v.is_empty() {
                    errors.push((n(field), t.t("enter-value")));
                }
                v.to_owned()
            };
            let (supplier, invoice_reference) = (text("supplier"), text("invoice_reference"));
            let (amount, currency) = (text("amount"), text("currency").to_uppercase());
            let minor = homeward_activities::wire::to_minor(&amount);
            if minor.is_none() && !amount.is_empty() {
                errors.push((n("amount"), t.t("enter-amount")));
            }
            minor.map(|minor| {
                json!({"type": "invoice", "supplier": supplier,
                       "invoice_reference": invoice_reference,
                       "amount": {"minor": minor, "currency": currency}})
            })
        }
    };
    match outcome {
        Some(o) if errors.is_empty() => Ok(o),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::i18n::Lang;

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn every_task_type_reads_into_an_outcome_its_task_accepts() {
        let t = Texts(Lang::En);
        let answers: Vec<(String, String)> = DIMENSIONS
            .iter()
            .flat_map(|d| (1..=5).map(move |n| (format!("answers.{d}.{n}"), "3".to_owned())))
            .collect();
        let mut full = form(&[
            ("decision", "wants_to_return"),
            ("signed", "yes"),
            ("supports_return", "yes"),
            ("safe_to_contact_authorities", "no"),
            ("approved", "no"),
            ("expires_on.day", "1"),
            ("expires_on.month", "2"),
            ("expires_on.year", "2030"),
            ("fit", "yes"),
            ("departed", "yes"),
            ("received", "yes"),
            ("hand_over.to", "family_member"),
            ("hand_over.document_checked", "national_id"),
            ("hand_over.signed", "yes"),
            ("heard", "yes"),
            ("wants_to_return", "yes"),
            ("support", "economic"),
            ("support", "social"),
            ("reached", "yes"),
            ("action", "retry"),
            ("supplier", "sup-0123456789abcdef"),
            ("invoice_reference", "INV-1"),
            ("amount", "1500.00"),
            ("currency", "eur"),
        ]);
        full.pairs.extend(answers);
        for task in TaskType::ALL {
            let outcome =
                read_outcome(&t, "", task, &full).unwrap_or_else(|e| panic!("{task}: {e:?}"));
            let parsed: homeward_workflows::outcomes::TaskOutcome =
                serde_json::from_value(outcome.clone()).unwrap_or_else(|e| panic!("{task}: {e}"));
            assert!(task.accepts(&parsed), "{task}: {outcome}");
        }
    }

    #[test]
    fn an_empty_form_names_every_missing_answer() {
        let t = Texts(Lang::En);
        let errors = read_outcome(
            &t,
            "t7.",
            TaskType::MonitoringSurvey,
            &form(&[("t7.reached", "yes")]),
        )
        .unwrap_err();
        assert_eq!(errors.len(), 15);
        assert_eq!(errors[0].0, "t7.answers.economic.1");
        let errors = read_outcome(&t, "", TaskType::TravelDocument, &form(&[])).unwrap_err();
        assert_eq!(errors, [("expires_on".to_owned(), t.t("enter-date"))]);
        let errors = read_outcome(&t, "", TaskType::EligibilityApproval, &form(&[])).unwrap_err();
        assert_eq!(errors[0].0, "approved");
    }

    #[test]
    fn a_plans_budget_lines_are_read_and_an_incomplete_line_is_named() {
        let t = Texts(Lang::En);
        let plan = read_outcome(
            &t,
            "",
            TaskType::ReintegrationPlan,
            &form(&[
                ("support", "economic"),
                ("lines.0.member", "1"),
                ("lines.0.area", "business_start_up"),
                ("lines.0.amount", "1800.00"),
                ("lines.0.supplier", "sup-0123456789abcdef"),
                ("lines.currency", "eur"),
            ]),
        )
        .expect("a plan");
        let parsed: homeward_workflows::outcomes::TaskOutcome =
            serde_json::from_value(plan).expect("an outcome");
        let homeward_workflows::outcomes::TaskOutcome::Plan { lines, .. } = parsed else {
            panic!("a plan")
        };
        assert_eq!((lines[0].member, lines[0].amount.minor), (0, 180_000));
        assert_eq!(lines[0].amount.currency, "EUR");
        let errors = read_outcome(
            &t,
            "",
            TaskType::ReintegrationPlan,
            &form(&[
                ("support", "economic"),
                ("lines.1.amount", "50"),
                ("lines.currency", "EUR"),
            ]),
        )
        .unwrap_err();
        let named: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            named,
            ["lines.1.member", "lines.1.area", "lines.1.supplier"]
        );
    }
}
