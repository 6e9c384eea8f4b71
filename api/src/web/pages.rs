//! The pages. Each calls the JSON API's own handler for what it shows or does — the same scope
//! rule (`Actor::scope`), the same validation, the same audit — and renders the answer; an
//! error comes back as the page again with the problem named next to its field.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Serialize;
use serde_json::{Value, json};

use homeward_workflows::domain::CaseRef;
use homeward_workflows::tasks::{Role, TaskType};

use super::forms::{self, Form, encode};
use super::i18n::Texts;
use super::layout::{self, Page};
use super::session::Visitor;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::query::QueryReader;
use crate::routes;
use crate::state::AppState;

/// A handler's JSON answer as a value to render.
fn value<T: Serialize>(answer: Result<Json<T>, ApiError>) -> Result<Value, ApiError> {
    answer.map(|Json(v)| serde_json::to_value(v).unwrap_or(Value::Null))
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A date-time as `2027-01-31 09:00`.
fn when(v: &Value) -> String {
    v.as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

fn money(v: &Value) -> String {
    match (
        v.get("minor").and_then(Value::as_i64),
        v.get("currency").and_then(Value::as_str),
    ) {
        (Some(minor), Some(currency)) => format!("{currency} {}.{:02}", minor / 100, minor % 100),
        _ => String::new(),
    }
}

/// An API error as a page: not found and forbidden as their own pages, anything naming fields
/// or refused by the validator as `errors` for the form's page (`None`), the rest as 5xx.
fn problems(
    visitor: &Visitor,
    e: ApiError,
) -> Result<(StatusCode, Vec<(String, String)>), Response> {
    let t = visitor.texts();
    match e {
        ApiError::NotFound(_) | ApiError::Gone(_) => Err(layout::message_page(
            visitor,
            StatusCode::NOT_FOUND,
            "not-found-title",
            &t.t("not-found"),
        )),
        ApiError::BadRequest { fields, message } => Ok((
            StatusCode::BAD_REQUEST,
            if fields.is_empty() {
                vec![("form".into(), message)]
            } else {
                fields.into_iter().collect()
            },
        )),
        ApiError::Forbidden(m) => Ok((StatusCode::FORBIDDEN, vec![("form".into(), m)])),
        ApiError::Unprocessable(m) => {
            Ok((StatusCode::UNPROCESSABLE_ENTITY, vec![("form".into(), m)]))
        }
        ApiError::Conflict(m) => Ok((StatusCode::CONFLICT, vec![("form".into(), m)])),
        other => {
            tracing::warn!(error = %other, "a page's API call failed");
            Err(layout::message_page(
                visitor,
                StatusCode::SERVICE_UNAVAILABLE,
                "server-error-title",
                &t.t("try-later"),
            ))
        }
    }
}

fn task_name(t: &Texts, task_type: &str) -> String {
    t.t(&format!("task-{task_type}"))
}

fn stage_name(t: &Texts, stage: &str) -> String {
    t.t(&format!("stage-{stage}"))
}

fn role_name(t: &Texts, role: &str) -> String {
    t.t(&format!("role-{role}"))
}

/// `GET /`: the inbox.
pub async fn home() -> Redirect {
    Redirect::to("/inbox")
}

/// `GET /inbox`: the visitor's open tasks, earliest due (overdue) first, filters, counts.
pub async fn inbox(State(state): State<AppState>, visitor: Visitor, form: Form) -> Response {
    let t = visitor.texts();
    let mut query = vec![("limit", "200".to_owned())];
    for key in ["type", "holder", "page_token"] {
        if !form.value(key).is_empty() {
            query.push((key, form.value(key).to_owned()));
        }
    }
    if !form.value("due_before").is_empty() {
        query.push(("due_before", form.value("due_before").to_owned()));
    }
    let raw = serde_urlencoded::to_string(&query).unwrap_or_default();
    let answer = match QueryReader::parse(&raw) {
        Ok(q) => value(routes::inbox::inbox(State(state), visitor.caller.clone(), q).await),
        Err(e) => Err(e),
    };
    let (status, errors, inbox) = match answer {
        Ok(v) => (StatusCode::OK, vec![], v),
        Err(e) => match problems(&visitor, e) {
            Ok((status, errors)) => (status, errors, json!({"tasks": []})),
            Err(page) => return page,
        },
    };
    let tasks = inbox["tasks"].as_array().cloned().unwrap_or_default();
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for task in &tasks {
        *counts.entry(s(task, "task_type").to_owned()).or_default() += 1;
    }
    let role = visitor.caller.actor.role;
    let types: Vec<(String, String)> = std::iter::once((String::new(), t.t("any-type")))
        .chain(
            TaskType::ALL
                .iter()
                .filter(|ty| matches!(role, Role::Auditor | Role::Admin) || ty.role() == role)
                .map(|ty| (ty.as_str().to_owned(), task_name(&t, ty.as_str()))),
        )
        .collect();
    let holders: Vec<(String, String)> = vec![
        (String::new(), t.t("holder-mine-and-pool")),
        ("mine".into(), t.t("holder-mine")),
        ("pool".into(), t.t("holder-pool")),
    ];
    let now = chrono::Utc::now();
    let notice = (!form.value("done").is_empty()).then(|| t.t("task-recorded"));
    let body = html! {
        @if let Some(n) = &notice { (layout::success(&t, n)) }
        form method="get" action="/inbox" class="hw-filters" {
            (layout::select("type", &t.t("task-type"), &types, form.value("type"), &errors))
            (layout::text_input("due_before", &t.t("due-before"), form.value("due_before"), &errors, "off"))
            (layout::select("holder", &t.t("holder"), &holders, form.value("holder"), &errors))
            button type="submit" class="govuk-button govuk-button--secondary" { (t.t("apply-filters")) }
        }
        @if tasks.is_empty() {
            p class="govuk-body" { (t.t("inbox-empty")) }
        } @else {
            (layout::table(&t.t("inbox-counts"), &[t.t("task-type"), t.t("count")],
                &counts.iter().map(|(ty, n)| vec![html! { (task_name(&t, ty)) }, html! { (n) }]).collect::<Vec<_>>()))
            (layout::table(&t.t("inbox-title"),
                &[t.t("case"), t.t("task"), t.t("due"), t.t("held-by"), String::new()],
                &tasks.iter().map(|task| {
                    let reference = s(task, "reference");
                    let due = task.get("due_at").cloned().unwrap_or(Value::Null);
                    let overdue = task["overdue"].as_bool().unwrap_or(false)
                        || due.as_str().and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok()).is_some_and(|d| d < now);
                    let holder = if task["held_by_you"].as_bool().unwrap_or(false) { t.t("you") }
                        else if task["assignee"].is_string() { s(task, "assignee").to_owned() }
                        else { t.t("nobody") };
                    vec![
                        html! { a class="govuk-link" href={ "/cases/" (reference) } { (reference) } },
                        html! { (task_name(&t, s(task, "task_type"))) },
                        html! { (when(&due)) " " @if overdue { (layout::tag(&t.t("overdue"), "red")) } },
                        html! { (holder) },
                        html! { a class="govuk-link" href={ "/cases/" (reference) "#task-" (task["id"]) } { (t.t("open")) span class="govuk-visually-hidden" { " " (reference) " " (task_name(&t, s(task, "task_type"))) } } },
                    ]
                }).collect::<Vec<_>>()))
            @if let Some(token) = inbox["next_page_token"].as_str() {
                a class="govuk-link" href={ "/inbox?page_token=" (encode(token)) } { (t.t("next-page")) }
            }
        }
    };
    Page {
        lang: visitor.lang,
        title: t.t("inbox-title"),
        visitor: Some(&visitor),
        errors,
        body,
    }
    .render(status)
}

/// `GET /cases`: the list with the API's filters, and person search.
pub async fn cases(State(state): State<AppState>, visitor: Visitor, form: Form) -> Response {
    let t = visitor.texts();
    let mut query = vec![];
    for key in ["stage", "status", "page_token"] {
        if !form.value(key).is_empty() {
            query.push((key, form.value(key).to_owned()));
        }
    }
    let raw = serde_urlencoded::to_string(&query).unwrap_or_default();
    let answer = match QueryReader::parse(&raw) {
        Ok(q) => {
            value(routes::cases::list_cases(State(state.clone()), visitor.caller.clone(), q).await)
        }
        Err(e) => Err(e),
    };
    let (status, mut errors, list) = match answer {
        Ok(v) => (StatusCode::OK, vec![], v),
        Err(e) => match problems(&visitor, e) {
            Ok((status, errors)) => (status, errors, json!({"cases": []})),
            Err(page) => return page,
        },
    };
    // Person search (officers and operations of an office), when asked.
    let searching = !form.value("family").is_empty() || !form.value("given").is_empty();
    let mut found = None;
    if searching {
        let raw = serde_urlencoded::to_string([
            ("given", form.value("given")),
            ("family", form.value("family")),
            ("date_of_birth", form.value("date_of_birth")),
        ])
        .unwrap_or_default();
        let answer = match QueryReader::parse(&raw) {
            Ok(q) => value(routes::people::search(State(state), visitor.caller.clone(), q).await),
            Err(e) => Err(e),
        };
        match answer {
            Ok(v) => found = Some(v),
            Err(e) => match problems(&visitor, e) {
                Ok((_, more)) => errors.extend(more),
                Err(page) => return page,
            },
        }
    }
    let stages: Vec<(String, String)> = std::iter::once((String::new(), t.t("any-stage")))
        .chain(
            homeward_workflows::domain::Stage::ALL
                .iter()
                .map(|st| (st.as_str().to_owned(), stage_name(&t, st.as_str()))),
        )
        .collect();
    let statuses = vec![
        (String::new(), t.t("any-status")),
        ("open".into(), t.t("status-open")),
        ("closed".into(), t.t("status-closed")),
    ];
    let cases = list["cases"].as_array().cloned().unwrap_or_default();
    let may_search = matches!(
        visitor.caller.actor.role,
        Role::ReturnOfficer | Role::Operations
    );
    let body = html! {
        form method="get" action="/cases" class="hw-filters" {
            (layout::select("stage", &t.t("stage"), &stages, form.value("stage"), &errors))
            (layout::select("status", &t.t("status"), &statuses, form.value("status"), &errors))
            button type="submit" class="govuk-button govuk-button--secondary" { (t.t("apply-filters")) }
        }
        @if cases.is_empty() {
            p class="govuk-body" { (t.t("cases-empty")) }
        } @else {
            (layout::table(&t.t("cases-title"),
                &[t.t("case"), t.t("stage"), t.t("programme"), t.t("origin-country"), t.t("opened")],
                &cases.iter().map(|c| vec![
                    html! { a class="govuk-link" href={ "/cases/" (s(c, "reference")) } { (s(c, "reference")) } },
                    html! { (stage_name(&t, s(c, "stage"))) },
                    html! { (s(c, "programme")) },
                    html! { (s(c, "origin_country")) },
                    html! { (when(&c["opened_at"])) },
                ]).collect::<Vec<_>>()))
            @if let Some(token) = list["next_page_token"].as_str() {
                a class="govuk-link" href={ "/cases?page_token=" (encode(token)) } { (t.t("next-page")) }
            }
        }
        @if may_search {
            h2 class="govuk-heading-m" { (t.t("search-people")) }
            form method="get" action="/cases" {
                (layout::text_input("given", &t.t("given-name"), form.value("given"), &errors, "off"))
                (layout::text_input("family", &t.t("family-name"), form.value("family"), &errors, "off"))
                (layout::text_input("date_of_birth", &t.t("date-of-birth"), form.value("date_of_birth"), &errors, "off"))
                button type="submit" class="govuk-button govuk-button--secondary" { (t.t("search")) }
            }
            @if let Some(found) = &found {
                @let matches = found["matches"].as_array().or(found.as_array()).cloned().unwrap_or_default();
                @if matches.is_empty() {
                    p class="govuk-body" { (t.t("no-matches")) }
                } @else {
                    ul class="govuk-list" {
                        @for m in &matches {
                            li { a class="govuk-link" href={ "/cases/" (s(m, "reference")) } { (s(m, "reference")) } }
                        }
                    }
                }
            }
        }
    };
    Page {
        lang: visitor.lang,
        title: t.t("cases-title"),
        visitor: Some(&visitor),
        errors,
        body,
    }
    .render(status)
}

/// The case as the visitor may see it (the API's `get_case`); anything but a case is the
/// not-found page (out of scope and missing look the same) or the service-error page.
async fn case_view(
    state: &AppState,
    visitor: &Visitor,
    reference: &str,
) -> Result<Value, Response> {
    let answer = routes::cases::get_case(
        State(state.clone()),
        visitor.caller.clone(),
        Path(reference.to_owned()),
    )
    .await;
    value(answer).map_err(|e| match problems(visitor, e) {
        Ok(_) => layout::message_page(
            visitor,
            StatusCode::NOT_FOUND,
            "not-found-title",
            &visitor.texts().t("not-found"),
        ),
        Err(page) => page,
    })
}

/// `GET /cases/{reference}`.
pub async fn case(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(reference): Path<String>,
    form: Form,
) -> Response {
    let notice = (!form.value("done").is_empty()).then(|| visitor.texts().t("task-recorded"));
    case_page(
        &state,
        &visitor,
        &reference,
        StatusCode::OK,
        vec![],
        None,
        notice,
    )
    .await
}

/// The case page; `failed`: the task form that was sent back with its errors.
async fn case_page(
    state: &AppState,
    visitor: &Visitor,
    reference: &str,
    status: StatusCode,
    errors: Vec<(String, String)>,
    failed: Option<(u64, &Form)>,
    notice: Option<String>,
) -> Response {
    let t = visitor.texts();
    let view = match case_view(state, visitor, reference).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let me = visitor.caller.actor.clone();
    let intake = &view["intake"];
    let partner_view = intake.is_null();
    let stage = s(&view, "stage");
    let summary = if partner_view {
        vec![
            (t.t("stage"), html! { (stage_name(&t, stage)) }),
            (
                t.t("origin-country"),
                html! { (s(&view, "origin_country")) },
            ),
            (t.t("household-size"), html! { (view["household_size"]) }),
        ]
    } else {
        vec![
            (t.t("stage"), html! { (stage_name(&t, stage)) }),
            (
                t.t("programme"),
                html! { (s(intake, "programme")) " " (s(&view, "programme_version")) },
            ),
            (t.t("host-country"), html! { (s(intake, "host_country")) }),
            (
                t.t("origin-country"),
                html! { (s(intake, "origin_country")) },
            ),
            (t.t("household-size"), html! { (intake["household_size"]) }),
            (t.t("opened"), html! { (when(&view["opened_at"])) }),
        ]
    };
    let tasks = view["tasks"].as_array().cloned().unwrap_or_default();
    let decisions = view["decisions"].as_array().cloned().unwrap_or_default();
    let members = intake["members"].as_array().cloned().unwrap_or_default();
    let facts = &view["facts"];
    let payments = facts["payments"].as_array().cloned().unwrap_or_default();
    let scores = view["scores"]
        .as_array()
        .or(facts["scores"].as_array())
        .cloned()
        .unwrap_or_default();
    let closed = stage == "closed";
    // Finance name a supplier of the case's office on an invoice, a partner on a plan's budget
    // lines: offered as a list.
    let suppliers: Vec<(String, String)> = if (me.role == homeward_workflows::tasks::Role::Finance
        && tasks.iter().any(|t| t["task_type"] == "supplier_invoice"))
        || (me.role == homeward_workflows::tasks::Role::Partner
            && tasks.iter().any(|t| t["task_type"] == "reintegration_plan"))
    {
        let office = s(intake, "host_country");
        let mut list = vec![(String::new(), "–".to_owned())];
        list.extend(
            state
                .store
                .suppliers(office)
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|x| (x.id, x.name)),
        );
        list
    } else {
        Vec::new()
    };
    // The stages the case entered, from the case store (the case page's own scope check above
    // has passed). A store that cannot answer leaves the timeline to the decisions.
    let stages = match homeward_workflows::domain::CaseRef::parse(reference) {
        Ok(r) if !partner_view => state.store.stage_history(&r).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the stage history could not be read");
            Vec::new()
        }),
        _ => Vec::new(),
    };
    // What became of the case's messages (the gateway's receipts); not a partner's business.
    let receipts = match homeward_workflows::domain::CaseRef::parse(reference) {
        Ok(r) if !partner_view => state.store.message_receipts(&r).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the message receipts could not be read");
            Vec::new()
        }),
        _ => Vec::new(),
    };
    let undelivered = receipts.iter().any(|r| !r.delivered);
    // The family's or group's other cases (the page's scope check has passed; partners see none).
    let links = match homeward_workflows::domain::CaseRef::parse(reference) {
        Ok(r) if !partner_view => state.store.links_of(&r).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the case links could not be read");
            Vec::new()
        }),
        _ => Vec::new(),
    };
    let body = html! {
        @if let Some(n) = &notice { (layout::success(&t, n)) }
        @if undelivered {
            div class="govuk-warning-text" {
                span class="govuk-warning-text__icon" aria-hidden="true" { "!" }
                strong class="govuk-warning-text__text" {
                    span class="govuk-visually-hidden" { (t.t("warning")) }
                    (t.t("message-not-delivered"))
                }
            }
        }
        @if let Some(e) = errors.iter().find(|(f, _)| f == "form") {
            p class="govuk-error-message" id="form" { (e.1) }
        }
        h2 class="govuk-heading-m" { (t.t("case-summary")) }
        (layout::summary_list(&summary))
        h2 class="govuk-heading-m" { (t.t("open-tasks")) }
        @if tasks.is_empty() { p class="govuk-body" { (t.t("no-open-tasks")) } }
        @for task in &tasks {
            @let id = task["id"].as_u64().unwrap_or(0);
            @let task_type = s(task, "task_type");
            @let role = s(task, "role");
            section class="hw-task" id={ "task-" (id) } aria-labelledby={ "task-" (id) "-title" } {
                h3 class="govuk-heading-s" id={ "task-" (id) "-title" } {
                    (task_name(&t, task_type))
                    @if let Some(due) = task["due_at"].as_str() { span class="govuk-caption-s" { (t.t("due")) " " (when(&json!(due))) } }
                }
                (task_body(&t, visitor, &me, reference, task, id, task_type, role, &errors, failed, &suppliers))
            }
        }
        @if !matches!(me.role, Role::Auditor | Role::Admin) {
            p class="govuk-body" {
                a class="govuk-link" href={ "/cases/" (reference) "/people" } { (t.t("show-people")) }
            }
        }
        @if !partner_view {
            h2 class="govuk-heading-m" { (t.t("household")) }
            @for (i, m) in members.iter().enumerate() {
                (layout::summary_list(&[
                    (t.t_with("member", &[("n", &(i + 1).to_string())]), html! {
                        (t.t(&format!("age-{}", s(m, "age_group").replace('_', ""))))
                    }),
                    (t.t("vulnerabilities"), html! {
                        @let vs = m["vulnerabilities"].as_array().cloned().unwrap_or_default();
                        @if vs.is_empty() { (t.t("none")) }
                        @for v in &vs { (layout::tag(&t.t(&format!("vul-{}", v.as_str().unwrap_or_default())), "grey")) " " }
                    }),
                ]))
            }
            @if !links.is_empty() {
                (layout::table(&t.t("linked-cases"), &[t.t("case"), t.t("link-kind"), t.t("departs-together")],
                    &links.iter().map(|l| vec![
                        html! { a class="govuk-link" href={ "/cases/" (l.case.as_str()) } { (l.case.as_str()) } },
                        html! { (t.t(&format!("link-{}", l.kind.as_str()))) },
                        html! { @if l.departs_together { (layout::tag(&t.t("yes"), "blue")) } @else { (t.t("no")) } },
                    ]).collect::<Vec<_>>()))
            }
            h2 class="govuk-heading-m" { (t.t("timeline")) }
            @if !stages.is_empty() {
                (layout::table(&t.t("stages-entered"), &[t.t("when"), t.t("stage")],
                    &stages.iter().map(|(stage, at)| vec![
                        html! { (at.format("%Y-%m-%d %H:%M UTC")) },
                        html! { (stage_name(&t, stage)) },
                    ]).collect::<Vec<_>>()))
            }
            @if !decisions.is_empty() {
                (layout::table(&t.t("decisions"), &[t.t("when"), t.t("what"), t.t("who"), t.t("why")],
                    &decisions.iter().map(|d| vec![
                        html! { (when(&d["at"])) },
                        html! { (task_name(&t, s(d, "what"))) },
                        html! { (role_name(&t, s(&d["actor"], "role"))) " " span class="govuk-body-s" { (s(&d["actor"], "id")) } },
                        html! { (s(d, "reason")) },
                    ]).collect::<Vec<_>>()))
            }
            @if !receipts.is_empty() {
                (layout::table(&t.t("messages"), &[t.t("when"), t.t("message"), t.t("delivery")],
                    &receipts.iter().map(|r| vec![
                        html! { (r.received_at.format("%Y-%m-%d %H:%M UTC")) },
                        html! { (t.t(&format!("notice-{}", r.template.replace('_', "-")))) },
                        html! {
                            @if r.delivered { (layout::tag(&t.t("delivered"), "green")) }
                            @else { (layout::tag(&t.t("not-delivered"), "red")) " " span class="govuk-body-s" { (r.error_code.as_deref().unwrap_or_default()) } }
                        },
                    ]).collect::<Vec<_>>()))
            }
            @if !payments.is_empty() {
                (layout::table(&t.t("payments"), &[t.t("tranche"), t.t("amount"), t.t("payment-state"), t.t("when")],
                    &payments.iter().map(|p| vec![
                        html! { (s(p, "tranche")) },
                        html! { (money(&p["amount"])) },
                        html! { (s(&p["receipt"], "state")) },
                        html! { (when(&p["at"])) },
                    ]).collect::<Vec<_>>()))
            }
        }
        @if !scores.is_empty() {
            (layout::table(&t.t("scores"), &[t.t("round"), t.t("economic"), t.t("social"), t.t("psychosocial"), t.t("composite")],
                &scores.iter().map(|r| vec![
                    html! { (r["follow_up"]) },
                    html! { (r["scores"]["economic"]) },
                    html! { (r["scores"]["social"]) },
                    html! { (r["scores"]["psychosocial"]) },
                    html! { (r["scores"]["composite"]) },
                ]).collect::<Vec<_>>()))
        }
        @if !closed && !partner_view && me.role == Role::ReturnOfficer {
            details class="govuk-details" {
                summary class="govuk-details__summary" { span class="govuk-details__summary-text" { (t.t("withdraw-title")) } }
                div class="govuk-details__text" {
                    form method="post" action={ "/cases/" (reference) "/withdrawal" } {
                        input type="hidden" name="csrf" value=(visitor.csrf);
                        (layout::textarea("withdraw_reason", &t.t("reason"), "", "", &errors))
                        button type="submit" class="govuk-button govuk-button--warning" { (t.t("withdraw-button")) }
                    }
                }
            }
        }
        @if !closed && !partner_view && me.role == Role::Operations {
            details class="govuk-details" {
                summary class="govuk-details__summary" { span class="govuk-details__summary-text" { (t.t("close-title")) } }
                div class="govuk-details__text" {
                    form method="post" action={ "/cases/" (reference) "/closure" } {
                        input type="hidden" name="csrf" value=(visitor.csrf);
                        (layout::select("close_reason", &t.t("close-reason"), &[
                            ("returnee_unreachable".into(), "returnee_unreachable".into()),
                            ("not_eligible".into(), "not_eligible".into()),
                            ("other".into(), "other".into())], "", &errors))
                        (layout::textarea("note", &t.t("close-note"), "", "", &errors))
                        button type="submit" class="govuk-button govuk-button--warning" { (t.t("close-button")) }
                    }
                }
            }
        }
    };
    Page {
        lang: visitor.lang,
        title: t.t_with("case-title", &[("reference", reference)]),
        visitor: Some(visitor),
        errors,
        body,
    }
    .render(status)
}

/// What a task shows the visitor: its form, or who it waits for and why not them.
#[allow(clippy::too_many_arguments)]
fn task_body(
    t: &Texts,
    visitor: &Visitor,
    me: &homeward_workflows::tasks::Actor,
    reference: &str,
    task: &Value,
    id: u64,
    task_type: &str,
    role: &str,
    errors: &[(String, String)],
    failed: Option<(u64, &Form)>,
    suppliers: &[(String, String)],
) -> Markup {
    let Some(ty) = TaskType::ALL
        .into_iter()
        .find(|ty| ty.as_str() == task_type)
    else {
        return html! {};
    };
    let mine = me.role.as_str() == role;
    let holder = task["assignee"].as_str();
    let requested_by_me = task["requested_by"].as_str() == Some(me.id.as_str());
    let prefix = task_prefix(id);
    let empty = Form::default();
    let (values, errors): (&Form, &[(String, String)]) = match failed {
        Some((f, form)) if f == id => (form, errors),
        _ => (&empty, &[]),
    };
    html! {
        @if !mine {
            p class="govuk-body" { (t.t_with("waiting-for", &[("role", &role_name(t, role))])) }
        } @else if requested_by_me {
            p class="govuk-body" { (t.t("four-eyes")) }
        } @else if holder.is_some_and(|h| h != me.id) && !me.supervisor {
            p class="govuk-body" { (t.t("held-by-colleague")) }
        } @else {
            @if holder.is_none() {
                form method="post" action={ "/cases/" (reference) "/tasks/" (id) "/claim" } class="hw-inline" {
                    input type="hidden" name="csrf" value=(visitor.csrf);
                    button type="submit" class="govuk-button govuk-button--secondary" {
                        (t.t("claim")) span class="govuk-visually-hidden" { " " (task_name(t, task_type)) }
                    }
                }
            } @else if holder == Some(me.id.as_str()) {
                form method="post" action={ "/cases/" (reference) "/tasks/" (id) "/release" } class="hw-inline" {
                    input type="hidden" name="csrf" value=(visitor.csrf);
                    button type="submit" class="govuk-button govuk-button--secondary" {
                        (t.t("release")) span class="govuk-visually-hidden" { " " (task_name(t, task_type)) }
                    }
                }
            }
            @if let Some(e) = errors.iter().find(|(f, _)| f == "form") {
                p class="govuk-error-message" { (e.1) }
            }
            form method="post" action={ "/cases/" (reference) "/tasks/" (id) } novalidate {
                input type="hidden" name="csrf" value=(visitor.csrf);
                (forms::task_fields(t, &prefix, ty, values, errors, suppliers))
                (layout::textarea(&format!("{prefix}reason"), &t.t("reason"), &t.t("reason-hint"), values.value(&format!("{prefix}reason")), errors))
                button type="submit" class="govuk-button" { (t.t("record")) span class="govuk-visually-hidden" { " " (task_name(t, task_type)) } }
            }
        }
    }
}

/// `POST /cases/{reference}/tasks/{id}`: a task's form.
pub async fn complete(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((reference, id)): Path<(String, u64)>,
    form: Form,
) -> Response {
    if let Some(refused) = visitor.csrf_refusal(&form) {
        return refused;
    }
    let t = visitor.texts();
    // The task's type, from the case (what the visitor may see of it).
    let view = match case_view(&state, &visitor, &reference).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    let task_type = view["tasks"]
        .as_array()
        .and_then(|ts| ts.iter().find(|x| x["id"].as_u64() == Some(id)))
        .and_then(|x| x["task_type"].as_str())
        .and_then(|ty| TaskType::ALL.into_iter().find(|t| t.as_str() == ty));
    let Some(task_type) = task_type else {
        return case_page(
            &state,
            &visitor,
            &reference,
            StatusCode::CONFLICT,
            vec![("form".into(), t.t("no-open-tasks"))],
            None,
            None,
        )
        .await;
    };
    let prefix = task_prefix(id);
    let outcome = match forms::read_outcome(&t, &prefix, task_type, &form) {
        Ok(o) => o,
        Err(errors) => {
            return case_page(
                &state,
                &visitor,
                &reference,
                StatusCode::BAD_REQUEST,
                errors,
                Some((id, &form)),
                None,
            )
            .await;
        }
    };
    let body = match serde_json::from_value(
        json!({"outcome": outcome, "reason": form.value(&format!("{prefix}reason"))}),
    ) {
        Ok(b) => b,
        Err(e) => {
            return case_page(
                &state,
                &visitor,
                &reference,
                StatusCode::BAD_REQUEST,
                vec![("form".into(), e.to_string())],
                Some((id, &form)),
                None,
            )
            .await;
        }
    };
    let answer = routes::tasks::complete_task(
        State(state.clone()),
        visitor.caller.clone(),
        Path((reference.clone(), id.to_string())),
        ApiJson(body),
    )
    .await;
    match answer {
        // Back to the case; or to the inbox when the answer ended the visitor's sight of it (a
        // partner's family assessment, after which the case is not theirs until hand-over).
        Ok(_) => match CaseRef::parse(&reference) {
            Ok(r)
                if routes::cases::check_scope(&state, &visitor.caller, &r)
                    .await
                    .is_err() =>
            {
                Redirect::to(&format!("/inbox?done={id}")).into_response()
            }
            _ => Redirect::to(&format!("/cases/{reference}?done={id}")).into_response(),
        },
        Err(e) => match problems(&visitor, e) {
            Ok((status, mut errors)) => {
                // The validator's message names the field it refused, when it does: show it
                // there too (`expires_on: …`).
                let named: Vec<(String, String)> = errors
                    .iter()
                    .filter_map(|(_, m)| {
                        ["reason", "expires_on", "support", "answers"]
                            .into_iter()
                            .find(|f| m.contains(&format!("{f}:")) || m.contains(&format!("{f} ")))
                            .map(|f| (format!("{prefix}{f}"), m.clone()))
                    })
                    .collect();
                errors.extend(named);
                case_page(
                    &state,
                    &visitor,
                    &reference,
                    status,
                    errors,
                    Some((id, &form)),
                    None,
                )
                .await
            }
            Err(page) => page,
        },
    }
}

/// `GET /cases/{reference}/people`: the household's personal data the visitor's role may see,
/// on a page of its own (a deliberate, audited read: the API's `people` handler records it).
pub async fn people(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(reference): Path<String>,
) -> Response {
    let t = visitor.texts();
    let people = match value(
        routes::people::list(
            State(state),
            visitor.caller.clone(),
            Path(reference.clone()),
        )
        .await,
    ) {
        Ok(v) => v,
        Err(ApiError::Forbidden(m)) => {
            return layout::message_page(&visitor, StatusCode::FORBIDDEN, "forbidden-title", &m);
        }
        Err(e) => {
            return match problems(&visitor, e) {
                Ok((status, errors)) => layout::message_page(
                    &visitor,
                    status,
                    "error-summary-title",
                    &errors
                        .into_iter()
                        .map(|(_, m)| m)
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
                Err(page) => page,
            };
        }
    };
    let records = people.as_array().cloned().unwrap_or_default();
    let body = html! {
        p class="govuk-body" { a class="govuk-link" href={ "/cases/" (reference) } { (t.t_with("case-title", &[("reference", &reference)])) } }
        @if records.is_empty() { p class="govuk-body" { (t.t("no-people")) } }
        @for r in &records {
            h2 class="govuk-heading-m" { (t.t_with("member", &[("n", &(r["member"].as_u64().unwrap_or(0) + 1).to_string())])) }
            (layout::summary_list(&flatten("", &r["fields"]).into_iter().map(|(k, v)| (k, html! { (v) })).collect::<Vec<_>>()))
        }
    };
    Page {
        lang: visitor.lang,
        title: t.t("people-title"),
        visitor: Some(&visitor),
        errors: vec![],
        body,
    }
    .render(StatusCode::OK)
}

/// A record's fields as label/value rows: nested fields joined (`names document given`), lists
/// numbered from 1.
fn flatten(prefix: &str, value: &Value) -> Vec<(String, String)> {
    let join = |key: &str| {
        let key = key.replace('_', " ");
        if prefix.is_empty() {
            key
        } else {
            format!("{prefix} {key}")
        }
    };
    match value {
        Value::Object(o) => o.iter().flat_map(|(k, v)| flatten(&join(k), v)).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .flat_map(|(i, v)| flatten(&join(&(i + 1).to_string()), v))
            .collect(),
        Value::Null => vec![],
        Value::String(s) => vec![(prefix.to_owned(), s.clone())],
        other => vec![(prefix.to_owned(), other.to_string())],
    }
}

/// The prefix of task `id`'s field names (`t3.approved`), unique on the page.
fn task_prefix(id: u64) -> String {
    format!("t{id}.")
}

/// `POST /cases/{reference}/tasks/{id}/claim|release`.
pub async fn claim_or_release(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((reference, id, action)): Path<(String, u64, String)>,
    form: Form,
) -> Response {
    if let Some(refused) = visitor.csrf_refusal(&form) {
        return refused;
    }
    let path = Path((reference.clone(), id.to_string()));
    let answer = match action.as_str() {
        "claim" => {
            routes::tasks::claim_task(State(state.clone()), visitor.caller.clone(), path).await
        }
        "release" => {
            routes::tasks::release_task(State(state.clone()), visitor.caller.clone(), path).await
        }
        _ => {
            return layout::message_page(
                &visitor,
                StatusCode::NOT_FOUND,
                "not-found-title",
                &visitor.texts().t("not-found"),
            );
        }
    };
    match answer {
        Ok(_) => Redirect::to(&format!("/cases/{reference}#task-{id}")).into_response(),
        Err(e) => match problems(&visitor, e) {
            Ok((status, errors)) => {
                case_page(&state, &visitor, &reference, status, errors, None, None).await
            }
            Err(page) => page,
        },
    }
}

/// `POST /cases/{reference}/withdrawal` and `/closure`.
pub async fn withdraw_or_close(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((reference, action)): Path<(String, String)>,
    form: Form,
) -> Response {
    if let Some(refused) = visitor.csrf_refusal(&form) {
        return refused;
    }
    let (field, answer) = match action.as_str() {
        "withdrawal" => {
            let body = serde_json::from_value(json!({"reason": form.value("withdraw_reason")}));
            match body {
                Ok(b) => (
                    "withdraw_reason",
                    routes::tasks::withdraw(
                        State(state.clone()),
                        visitor.caller.clone(),
                        Path(reference.clone()),
                        ApiJson(b),
                    )
                    .await,
                ),
                Err(_) => return layout::bare_error(StatusCode::BAD_REQUEST),
            }
        }
        "closure" => {
            let body = serde_json::from_value(
                json!({"reason": form.value("close_reason"), "note": form.value("note")}),
            );
            match body {
                Ok(b) => (
                    "note",
                    routes::tasks::close(
                        State(state.clone()),
                        visitor.caller.clone(),
                        Path(reference.clone()),
                        ApiJson(b),
                    )
                    .await,
                ),
                Err(_) => {
                    return case_page(
                        &state,
                        &visitor,
                        &reference,
                        StatusCode::BAD_REQUEST,
                        vec![("close_reason".into(), visitor.texts().t("select-one"))],
                        None,
                        None,
                    )
                    .await;
                }
            }
        }
        _ => {
            return layout::message_page(
                &visitor,
                StatusCode::NOT_FOUND,
                "not-found-title",
                &visitor.texts().t("not-found"),
            );
        }
    };
    match answer {
        Ok(_) => Redirect::to(&format!("/cases/{reference}")).into_response(),
        Err(e) => match problems(&visitor, e) {
            Ok((status, errors)) => {
                let errors = errors
                    .into_iter()
                    .map(|(f, m)| {
                        (
                            if f == "reason" || f == "note" || f == "form" {
                                field.to_owned()
                            } else {
                                f
                            },
                            m,
                        )
                    })
                    .collect();
                case_page(&state, &visitor, &reference, status, errors, None, None).await
            }
            Err(page) => page,
        },
    }
}

const LANGUAGES: [&str; 6] = ["ar", "en", "es", "fa", "fr", "ru"];
const AGE_GROUPS: [&str; 3] = ["adult", "minor16_to17", "minor_under16"];
const VULNERABILITIES: [&str; 5] = [
    "victim_of_trafficking",
    "unaccompanied_child",
    "medical",
    "elderly",
    "single_parent",
];

/// `GET /cases/new`: open a case (return officers). `?size=N` shows N members.
pub async fn new_case(State(state): State<AppState>, visitor: Visitor, form: Form) -> Response {
    new_case_page(&state, &visitor, &form, vec![], StatusCode::OK)
}

fn new_case_page(
    state: &AppState,
    visitor: &Visitor,
    form: &Form,
    errors: Vec<(String, String)>,
    status: StatusCode,
) -> Response {
    let t = visitor.texts();
    if visitor.caller.actor.role != Role::ReturnOfficer {
        return layout::message_page(
            visitor,
            StatusCode::FORBIDDEN,
            "forbidden-title",
            &t.t_with("waiting-for", &[("role", &role_name(&t, "return_officer"))]),
        );
    }
    let size: usize = form.value("size").parse().unwrap_or(1).clamp(1, 12);
    let programmes: Vec<(String, String)> = state
        .programmes
        .iter()
        .filter(|(_, rules)| {
            visitor
                .caller
                .actor
                .office
                .as_deref()
                .is_none_or(|o| rules.host_country.as_str() == o)
        })
        .map(|(id, rules)| (id.as_str().to_owned(), rules.name.clone()))
        .collect();
    let chosen = state
        .programmes
        .iter()
        .find(|(id, _)| id.as_str() == form.value("programme"))
        .or_else(|| {
            state
                .programmes
                .iter()
                .find(|(id, _)| programmes.iter().any(|(p, _)| p == id.as_str()))
        });
    let age_options: Vec<(String, String)> = AGE_GROUPS
        .iter()
        .map(|a| ((*a).to_owned(), t.t(&format!("age-{}", a.replace('_', "")))))
        .collect();
    let vul_options: Vec<(String, String)> = VULNERABILITIES
        .iter()
        .map(|v| ((*v).to_owned(), t.t(&format!("vul-{v}"))))
        .collect();
    let languages: Vec<(String, String)> = std::iter::once((String::new(), "–".to_owned()))
        .chain(LANGUAGES.iter().map(|l| ((*l).to_owned(), (*l).to_owned())))
        .collect();
    let statuses: Vec<(String, String)> = std::iter::once((String::new(), "–".to_owned()))
        .chain(
            homeward_workflows::domain::ImmigrationStatus::ALL
                .iter()
                .map(|st| {
                    (
                        st.as_str().to_owned(),
                        t.t(&format!("status-{}", st.as_str().replace('_', "-"))),
                    )
                }),
        )
        .collect();
    let body = html! {
        form method="get" action="/cases/new" class="hw-filters" {
            (layout::select("size", &t.t("household-size"),
                &(1..=12).map(|n| (n.to_string(), n.to_string())).collect::<Vec<_>>(), &size.to_string(), &[]))
            button type="submit" class="govuk-button govuk-button--secondary" { (t.t("show-members")) }
        }
        form method="post" action="/cases/new" novalidate {
            input type="hidden" name="csrf" value=(visitor.csrf);
            input type="hidden" name="household_size" value=(size);
            (layout::select("programme", &t.t("programme"), &programmes,
                chosen.map_or("", |(id, _)| id.as_str()), &errors))
            (layout::text_input("origin_country", &t.t("origin-country"), form.value("origin_country"), &errors, "off"))
            (layout::select("language", &t.t("returnee-language"), &languages, form.value("language"), &errors))
            (layout::select("immigration_status", &t.t("immigration-status"), &statuses, form.value("immigration_status"), &errors))
            h2 class="govuk-heading-m" { (t.t("household-members")) }
            @for i in 0..size {
                fieldset class="govuk-fieldset hw-member" {
                    legend class="govuk-fieldset__legend govuk-fieldset__legend--s" { (t.t_with("member", &[("n", &(i + 1).to_string())])) }
                    (layout::radios(&format!("members[{i}].age_group"), &t.t("age-group"), &age_options,
                        form.value(&format!("members[{i}].age_group")), &errors))
                    (layout::checkboxes(&format!("members[{i}].vulnerabilities"), &t.t("vulnerabilities"), &vul_options,
                        &form.values(&format!("members[{i}].vulnerabilities")), &errors))
                    (layout::text_input(&format!("people[{i}].names.document.given"), &t.t("given-name"),
                        form.value(&format!("people[{i}].names.document.given")), &errors, "off"))
                    (layout::text_input(&format!("people[{i}].names.document.family"), &t.t("family-name"),
                        form.value(&format!("people[{i}].names.document.family")), &errors, "off"))
                    (layout::text_input(&format!("people[{i}].date_of_birth"), &t.t("date-of-birth"),
                        form.value(&format!("people[{i}].date_of_birth")), &errors, "off"))
                }
            }
            @if let Some((_, rules)) = chosen {
                details class="govuk-details" {
                    summary class="govuk-details__summary" { span class="govuk-details__summary-text" { (t.t("programme-rules")) ": " (rules.name) } }
                    div class="govuk-details__text" {
                        ul class="govuk-list govuk-list--bullet" {
                            @for tranche in &rules.tranches {
                                li { (tranche.name) ": " (serde_json::to_value(tranche.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()) ", "
                                    (format!("{} {}.{:02}", rules.currency, tranche.per_adult / 100, tranche.per_adult % 100)) " / adult, "
                                    (format!("{} {}.{:02}", rules.currency, tranche.per_child / 100, tranche.per_child % 100)) " / child"
                                    @if let Some(alone) = tranche.per_unaccompanied_child {
                                        ", " (format!("{} {}.{:02}", rules.currency, alone / 100, alone % 100)) " / unaccompanied child"
                                    }
                                    "; "
                                    (schedule(&t, tranche)) }
                            }
                        }
                    }
                }
            }
            button type="submit" class="govuk-button" { (t.t("open-case-button")) }
        }
    };
    Page {
        lang: visitor.lang,
        title: t.t("open-case-title"),
        visitor: Some(visitor),
        errors,
        body,
    }
    .render(status)
}

/// `POST /cases/new`.
pub async fn open_case(State(state): State<AppState>, visitor: Visitor, form: Form) -> Response {
    if let Some(refused) = visitor.csrf_refusal(&form) {
        return refused;
    }
    let t = visitor.texts();
    let size: usize = form
        .value("household_size")
        .parse()
        .unwrap_or(1)
        .clamp(1, 12);
    let mut errors = vec![];
    let mut members = vec![];
    let mut people = vec![];
    for i in 0..size {
        let age = form.value(&format!("members[{i}].age_group"));
        if !AGE_GROUPS.contains(&age) {
            errors.push((format!("members[{i}].age_group"), t.t("select-one")));
        }
        members.push(json!({"age_group": age,
            "vulnerabilities": form.values(&format!("members[{i}].vulnerabilities"))}));
        let given = form
            .value(&format!("people[{i}].names.document.given"))
            .trim();
        let family = form
            .value(&format!("people[{i}].names.document.family"))
            .trim();
        let dob = form.value(&format!("people[{i}].date_of_birth")).trim();
        if given.is_empty() && family.is_empty() && dob.is_empty() {
            people.push(Value::Null);
        } else {
            let mut p = json!({"names": {"document": {"given": given, "family": family}}});
            if !dob.is_empty() {
                p["date_of_birth"] = json!(dob);
            }
            people.push(p);
        }
    }
    if form.value("origin_country").trim().is_empty() {
        errors.insert(
            0,
            ("origin_country".to_owned(), t.t("origin-country-missing")),
        );
    }
    let office = visitor.caller.actor.office.clone().unwrap_or_default();
    let mut body = json!({
        "programme": form.value("programme"),
        "host_country": office,
        "origin_country": form.value("origin_country").trim().to_ascii_uppercase(),
        "household_size": size,
        "members": members,
    });
    if !form.value("language").is_empty() {
        body["language"] = json!(form.value("language"));
    }
    if !form.value("immigration_status").is_empty() {
        body["immigration_status"] = json!(form.value("immigration_status"));
    }
    if people.iter().any(|p| !p.is_null()) {
        body["people"] = json!(people);
    }
    let answer = if errors.is_empty() {
        routes::cases::open_case(
            State(state.clone()),
            visitor.caller.clone(),
            axum::http::HeaderMap::new(),
            ApiJson(body),
        )
        .await
        .map(IntoResponse::into_response)
    } else {
        Err(ApiError::invalid(errors.into_iter().collect()))
    };
    match answer {
        Ok(response) => {
            let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
                .await
                .unwrap_or_default();
            let opened: Value = serde_json::from_slice(&bytes).unwrap_or_default();
            Redirect::to(&format!("/cases/{}", s(&opened, "reference"))).into_response()
        }
        Err(e) => match problems(&visitor, e) {
            Ok((status, errors)) => {
                // The page again with everything that was typed, for as many members.
                let again = Form::from_pairs(
                    std::iter::once(("size".to_owned(), size.to_string()))
                        .chain(form.pairs().iter().cloned())
                        .collect(),
                );
                new_case_page(&state, &visitor, &again, errors, status)
            }
            Err(page) => page,
        },
    }
}

/// Anything else: the not-found page (signed in) or sign-in.
pub async fn not_found(visitor: Visitor) -> Response {
    let t = visitor.texts();
    layout::message_page(
        &visitor,
        StatusCode::NOT_FOUND,
        "not-found-title",
        &t.t("not-found"),
    )
}

/// When a tranche is paid, in words: "paid on arrival", "paid 6months after the plan is approved".
fn schedule(t: &Texts, tranche: &homeward_workflows::programme::Tranche) -> String {
    use homeward_workflows::programme::Anchor;
    let at_once = tranche.offset.get().is_zero();
    let key = match (tranche.after, at_once) {
        (Anchor::Arrival, true) => "paid-on-arrival",
        (Anchor::Arrival, false) => "paid-after-arrival",
        (Anchor::PlanApproved, true) => "paid-on-plan",
        (Anchor::PlanApproved, false) => "paid-after-plan",
    };
    t.t_with(key, &[("offset", &tranche.offset.to_string())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tranches_schedule_reads_as_words() {
        let t = Texts(super::super::i18n::Lang::En);
        let tranche = |after: &str, offset: &str| -> homeward_workflows::programme::Tranche {
            serde_json::from_value(json!({
                "name": "cash", "kind": "cash", "per_adult": 100, "per_child": 50,
                "after": after, "offset": offset, "milestone": "m", "approver": "finance"
            }))
            .expect("tranche")
        };
        assert_eq!(schedule(&t, &tranche("arrival", "0s")), "paid on arrival");
        let later = schedule(&t, &tranche("plan_approved", "6months"));
        assert!(
            later.contains("6months") && later.contains("plan"),
            "{later}"
        );
    }

    #[test]
    fn a_record_reads_as_labelled_rows() {
        let rows = flatten(
            "",
            &json!({"names": {"document": {"given": "Layla"}}, "documents": [{"number": "A1"}],
                    "date_of_birth": "1990-05-31", "phone": null}),
        );
        assert_eq!(
            rows,
            [
                ("date of birth".to_owned(), "1990-05-31".to_owned()),
                ("documents 1 number".to_owned(), "A1".to_owned()),
                ("names document given".to_owned(), "Layla".to_owned()),
            ]
        );
    }
}
