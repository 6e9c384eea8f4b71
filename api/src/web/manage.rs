//! The pages for managers and the office's overseers: the dashboard (the statistics of the
//! caller's scope, each as a table, and as CSV), the audit trail (auditors and admins: filter
//! by case, CSV), and users (admins: create with a role and office, deactivate).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use maud::html;
use serde_json::Value;

use homeward_activities::users::NewUser;
use homeward_workflows::domain::CountryCode;
use homeward_workflows::tasks::{Role, check_user_scope};

use super::forms::{Form, encode};
use super::layout::{self, Page};
use super::session::Visitor;
use crate::query::QueryReader;
use crate::routes;
use crate::state::AppState;

fn rows_of(map: &Value) -> Vec<(String, String)> {
    map.as_object()
        .map(|o| o.iter().map(|(k, v)| (k.clone(), v.to_string())).collect())
        .unwrap_or_default()
}

async fn statistics(state: &AppState, visitor: &Visitor) -> Result<Value, Response> {
    let q = QueryReader::parse("").map_err(|_| layout::bare_error(StatusCode::BAD_REQUEST))?;
    routes::reports::statistics(State(state.clone()), visitor.caller.clone(), q)
        .await
        .map(|j| serde_json::to_value(j.0).unwrap_or_default())
        .map_err(|e| {
            tracing::warn!(error = %e, "statistics failed");
            layout::message_page(
                visitor,
                StatusCode::SERVICE_UNAVAILABLE,
                "server-error-title",
                &visitor.texts().t("try-later"),
            )
        })
}

/// `GET /dashboard`: how the programme is doing, in the visitor's scope (not for partners).
pub async fn dashboard(State(state): State<AppState>, visitor: Visitor) -> Response {
    let t = visitor.texts();
    if visitor.caller.actor.role == Role::Partner {
        return layout::message_page(
            &visitor,
            StatusCode::NOT_FOUND,
            "not-found-title",
            &t.t("not-found"),
        );
    }
    let stats = match statistics(&state, &visitor).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let stage_rows: Vec<_> = homeward_workflows::domain::Stage::ALL
        .iter()
        .map(|s| {
            let n = stats["cases_by_stage"][s.as_str()].as_i64().unwrap_or(0);
            vec![
                html! { (t.t(&format!("stage-{}", s.as_str()))) },
                html! { (n) },
            ]
        })
        .collect();
    let grants: Vec<_> = stats["grants_disbursed"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(currency, g)| {
                    let minor = g["amount_minor"].as_i64().unwrap_or(0);
                    vec![
                        html! { (currency) },
                        html! { (format!("{}.{:02}", minor / 100, minor % 100)) },
                        html! { (g["tranches"]) },
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let monthly = grants_by_month(&stats);
    let month_rows: Vec<_> = monthly
        .iter()
        .map(|(month, currency, minor, tranches)| {
            vec![
                html! { (month) },
                html! { (currency) },
                html! { (format!("{}.{:02}", minor / 100, minor % 100)) },
                html! { (tranches) },
            ]
        })
        .collect();
    // One row per follow-up round, then all rounds together.
    let rss_row = |round: String, r: &serde_json::Value| {
        vec![
            html! { (round) },
            html! { (r["follow_ups"]) },
            html! { (r["economic"]) },
            html! { (r["social"]) },
            html! { (r["psychosocial"]) },
            html! { (r["composite"]) },
        ]
    };
    let mut rss_rows: Vec<_> = stats["rss_by_round"]
        .as_object()
        .map(|o| o.iter().map(|(k, v)| rss_row(k.clone(), v)).collect())
        .unwrap_or_default();
    rss_rows.push(rss_row(t.t("all-rounds"), &stats["rss"]));
    let chart = |name: &str, key: &str| {
        html! {
            figure class="hw-chart" {
                // The figures are in the table that follows, for screen readers and keyboards.
                img src={ "/dashboard/" (name) ".svg" } alt={ (t.t(key)) ": " (t.t("chart-alt")) } width="720" height="400";
            }
        }
    };
    let body = html! {
        p class="govuk-body" { a class="govuk-link" href="/dashboard.csv" download { (t.t("download-csv")) } }
        (chart("stages", "cases-per-stage"))
        (layout::table(&t.t("cases-per-stage"), &[t.t("stage"), t.t("count")], &stage_rows))
        (chart("rss", "rss-averages"))
        (layout::table(&t.t("grants-disbursed"), &[t.t("currency"), t.t("amount"), t.t("tranche")], &grants))
        (chart("grants", "grants-per-month"))
        (layout::table(&t.t("grants-per-month"), &[t.t("month"), t.t("currency"), t.t("amount"), t.t("tranche")], &month_rows))
        (layout::table(&t.t("rss-averages"),
            &[t.t("round"), t.t("count"), t.t("economic"), t.t("social"), t.t("psychosocial"), t.t("composite")],
            &rss_rows))
    };
    Page {
        lang: visitor.lang,
        title: t.t("dashboard-title"),
        visitor: Some(&visitor),
        errors: vec![],
        body,
    }
    .render(StatusCode::OK)
}

/// `GET /dashboard/{chart}.svg`: a chart of the dashboard, drawn by charts-rs (SVG, served as
/// an image: the page's table carries the same figures).
pub async fn chart(
    State(state): State<AppState>,
    visitor: Visitor,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    use charts_rs::{BarChart, HorizontalBarChart, Series};
    let t = visitor.texts();
    if visitor.caller.actor.role == Role::Partner {
        return layout::bare_error(StatusCode::NOT_FOUND);
    }
    let stats = match statistics(&state, &visitor).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let svg = match name.as_str() {
        "stages.svg" => {
            let stages = homeward_workflows::domain::Stage::ALL;
            let mut chart = HorizontalBarChart::new(
                vec![Series::new(
                    t.t("count"),
                    stages
                        .iter()
                        .map(|s| stats["cases_by_stage"][s.as_str()].as_f64().unwrap_or(0.0) as f32)
                        .collect(),
                )],
                stages
                    .iter()
                    .map(|s| t.t(&format!("stage-{}", s.as_str())))
                    .collect(),
            );
            chart.width = 720.0;
            chart.height = 400.0;
            chart.title_text = t.t("cases-per-stage");
            chart.legend_show = Some(false);
            chart.svg()
        }
        "rss.svg" => {
            // Each dimension's average, one series per follow-up round (all rounds when none).
            let dims = ["economic", "social", "psychosocial", "composite"];
            let by_round = stats["rss_by_round"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let rounds: Vec<(String, serde_json::Value)> = if by_round.is_empty() {
                vec![(t.t("all-rounds"), stats["rss"].clone())]
            } else {
                by_round
                    .into_iter()
                    .map(|(k, v)| (format!("{} {k}", t.t("round")), v))
                    .collect()
            };
            let series = rounds
                .iter()
                .map(|(name, r)| {
                    Series::new(
                        name.clone(),
                        dims.iter()
                            .map(|d| r[*d].as_f64().unwrap_or(0.0) as f32)
                            .collect(),
                    )
                })
                .collect();
            let mut chart = BarChart::new(series, dims.iter().map(|d| t.t(d)).collect());
            chart.width = 720.0;
            chart.height = 400.0;
            chart.title_text = t.t("rss-averages");
            chart.svg()
        }
        "grants.svg" => {
            let monthly = grants_by_month(&stats);
            let months: Vec<String> = monthly
                .iter()
                .map(|(m, ..)| m.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let currencies: std::collections::BTreeSet<&String> =
                monthly.iter().map(|(_, c, ..)| c).collect();
            // One series per currency (amounts in major units), months along the axis.
            let series: Vec<Series> = currencies
                .iter()
                .map(|currency| {
                    Series::new(
                        (*currency).clone(),
                        months
                            .iter()
                            .map(|m| {
                                monthly
                                    .iter()
                                    .find(|(mm, c, ..)| mm == m && c == *currency)
                                    .map_or(0.0, |(_, _, minor, _)| *minor as f32 / 100.0)
                            })
                            .collect(),
                    )
                })
                .collect();
            let mut chart = BarChart::new(series, months);
            chart.width = 720.0;
            chart.height = 400.0;
            chart.title_text = t.t("grants-per-month");
            chart.svg()
        }
        _ => return layout::bare_error(StatusCode::NOT_FOUND),
    };
    match svg {
        Ok(svg) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("image/svg+xml"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
                ),
            ],
            svg,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a chart could not be drawn");
            layout::bare_error(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// `GET /dashboard.csv`: the same figures, one `measure,key,value` line each.
pub async fn dashboard_csv(State(state): State<AppState>, visitor: Visitor) -> Response {
    if visitor.caller.actor.role == Role::Partner {
        return layout::bare_error(StatusCode::NOT_FOUND);
    }
    let stats = match statistics(&state, &visitor).await {
        Ok(s) => s,
        Err(page) => return page,
    };
    let mut csv = String::from("measure,key,value\r\n");
    csv.push_str(&format!("cases,,{}\r\n", stats["cases"]));
    for measure in [
        "cases_by_stage",
        "cases_by_programme",
        "cases_by_host_country",
        "cases_by_origin_country",
        "median_days_in_stage",
    ] {
        for (k, v) in rows_of(&stats[measure]) {
            csv.push_str(&format!("{measure},{k},{v}\r\n"));
        }
    }
    for (currency, g) in stats["grants_disbursed"]
        .as_object()
        .cloned()
        .unwrap_or_default()
    {
        csv.push_str(&format!(
            "grants_disbursed_minor,{currency},{}\r\n",
            g["amount_minor"]
        ));
    }
    for (month, currency, minor, _) in grants_by_month(&stats) {
        csv.push_str(&format!(
            "grants_by_month_minor,{month}/{currency},{minor}\r\n"
        ));
    }
    for (k, v) in rows_of(&stats["rss"]) {
        csv.push_str(&format!("rss,{k},{v}\r\n"));
    }
    for (round, r) in stats["rss_by_round"]
        .as_object()
        .cloned()
        .unwrap_or_default()
    {
        for (k, v) in rows_of(&r) {
            csv.push_str(&format!("rss_round_{round},{k},{v}\r\n"));
        }
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"statistics.csv\""),
            ),
        ],
        csv,
    )
        .into_response()
}

/// `GET /audit`: the audit trail's export, filtered by case (auditors and admins).
pub async fn audit(visitor: Visitor, form: Form) -> Response {
    let t = visitor.texts();
    if !matches!(visitor.caller.actor.role, Role::Auditor | Role::Admin) {
        return layout::message_page(
            &visitor,
            StatusCode::NOT_FOUND,
            "not-found-title",
            &t.t("not-found"),
        );
    }
    let case = form.value("case");
    let href = if case.is_empty() {
        "/audit.csv".to_owned()
    } else {
        format!("/audit.csv?case={}", encode(case))
    };
    let body = html! {
        form method="get" action="/audit" class="hw-filters" {
            (layout::text_input("case", &t.t("case"), case, &[], "off"))
            button type="submit" class="govuk-button govuk-button--secondary" { (t.t("apply-filters")) }
        }
        p class="govuk-body" { a class="govuk-link" href=(href) download { (t.t("download-csv")) } }
    };
    Page {
        lang: visitor.lang,
        title: t.t("audit-title"),
        visitor: Some(&visitor),
        errors: vec![],
        body,
    }
    .render(StatusCode::OK)
}

/// `GET /audit.csv`: the API's export, as the signed-in auditor.
pub async fn audit_csv(State(state): State<AppState>, visitor: Visitor, form: Form) -> Response {
    let raw = serde_urlencoded::to_string(
        [("case", form.value("case"))]
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect::<Vec<_>>(),
    )
    .unwrap_or_default();
    match QueryReader::parse(&raw) {
        Ok(q) => match routes::reports::audit_csv(State(state), visitor.caller.clone(), q).await {
            Ok(csv) => csv.into_response(),
            Err(e) => layout::message_page(
                &visitor,
                StatusCode::BAD_REQUEST,
                "error-summary-title",
                &e.to_string(),
            ),
        },
        Err(_) => layout::bare_error(StatusCode::BAD_REQUEST),
    }
}

const ROLES: [Role; 7] = [
    Role::ReturnOfficer,
    Role::Operations,
    Role::Finance,
    Role::Partner,
    Role::ChildProtection,
    Role::Auditor,
    Role::Admin,
];

/// `GET /users`: every user, a form to create one (admins).
pub async fn users(State(state): State<AppState>, visitor: Visitor) -> Response {
    users_page(
        &state,
        &visitor,
        &Form::default(),
        vec![],
        None,
        StatusCode::OK,
    )
    .await
}

async fn users_page(
    state: &AppState,
    visitor: &Visitor,
    form: &Form,
    errors: Vec<(String, String)>,
    notice: Option<String>,
    status: StatusCode,
) -> Response {
    let t = visitor.texts();
    if visitor.caller.actor.role != Role::Admin {
        return layout::message_page(
            visitor,
            StatusCode::NOT_FOUND,
            "not-found-title",
            &t.t("not-found"),
        );
    }
    let users = match state.store.list_users().await {
        Ok(u) => u,
        Err(e) => {
            tracing::error!(error = %e, "cannot list users");
            return layout::bare_error(StatusCode::SERVICE_UNAVAILABLE);
        }
    };
    let roles: Vec<(String, String)> = ROLES
        .iter()
        .map(|r| (r.as_str().to_owned(), t.t(&format!("role-{}", r.as_str()))))
        .collect();
    let body = html! {
        @if let Some(n) = &notice { (layout::success(&t, n)) }
        (layout::table(&t.t("users-title"), &[t.t("name"), t.t("role"), t.t("office"), String::new()],
            &users.iter().map(|(u, _)| vec![
                html! { (u.name) " " span class="govuk-body-s" { (u.id) } },
                html! { (t.t(&format!("role-{}", u.role))) @if u.supervisor { " (" (t.t("supervisor")) ")" } },
                html! { (u.office.as_deref().unwrap_or("–")) @if let Some(c) = &u.country { " / " (c) } },
                html! {
                    form method="post" action="/users/deactivate" {
                        input type="hidden" name="csrf" value=(visitor.csrf);
                        input type="hidden" name="user" value=(u.id);
                        button type="submit" class="govuk-button govuk-button--warning" {
                            (t.t("deactivate")) span class="govuk-visually-hidden" { " " (u.name) }
                        }
                    }
                },
            ]).collect::<Vec<_>>()))
        h2 class="govuk-heading-m" { (t.t("create-user")) }
        form method="post" action="/users" novalidate {
            input type="hidden" name="csrf" value=(visitor.csrf);
            (layout::text_input("name", &t.t("name"), form.value("name"), &errors, "off"))
            (layout::select("role", &t.t("role"), &roles, form.value("role"), &errors))
            (layout::text_input("office", &t.t("office"), form.value("office"), &errors, "off"))
            (layout::text_input("country", &t.t("origin-country"), form.value("country"), &errors, "off"))
            (layout::text_input("username", &t.t("username"), form.value("username"), &errors, "off"))
            (layout::password_input("password", &t.t("password"), "new-password"))
            button type="submit" class="govuk-button" { (t.t("create-user")) }
        }
    };
    Page {
        lang: visitor.lang,
        title: t.t("users-title"),
        visitor: Some(visitor),
        errors,
        body,
    }
    .render(status)
}

/// `POST /users`: creates a user with a web sign-in (admins); the API key is not shown here
/// (`homeward user rotate` issues one to a machine that needs it).
pub async fn create_user(State(state): State<AppState>, visitor: Visitor, form: Form) -> Response {
    if let Some(refused) = visitor.csrf_refusal(&form) {
        return refused;
    }
    if visitor.caller.actor.role != Role::Admin {
        return layout::bare_error(StatusCode::NOT_FOUND);
    }
    let mut errors = vec![];
    let name = form.value("name").trim();
    if name.is_empty() {
        errors.push(("name".to_owned(), visitor.texts().t("enter-name")));
    }
    let role = ROLES.into_iter().find(|r| r.as_str() == form.value("role"));
    let country_of = |field: &'static str, errors: &mut Vec<(String, String)>| {
        let raw = form.value(field).trim();
        if raw.is_empty() {
            return None;
        }
        match CountryCode::parse_field(raw, field) {
            Ok(c) => Some(c),
            Err(e) => {
                errors.push((field.to_owned(), e.to_string()));
                None
            }
        }
    };
    let office = country_of("office", &mut errors);
    let country = country_of("country", &mut errors);
    match role {
        None => errors.push(("role".to_owned(), visitor.texts().t("select-one"))),
        Some(role) => {
            if let Err(e) = check_user_scope(role, office.is_some(), country.is_some()) {
                let field = e.split(':').next().unwrap_or("office").trim().to_owned();
                errors.push((field, e.to_owned()));
            }
        }
    }
    let username = form.value("username").trim();
    if username.is_empty() {
        errors.push(("username".to_owned(), visitor.texts().t("enter-username")));
    } else if state.store.username_taken(username).await.unwrap_or(true) {
        errors.push(("username".to_owned(), visitor.texts().t("username-taken")));
    }
    if let Err(e) = homeward_activities::accounts::hash_password(form.value("password")) {
        errors.push(("password".to_owned(), e));
    }
    let (Some(role), true) = (role, errors.is_empty()) else {
        return users_page(
            &state,
            &visitor,
            &form,
            errors,
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let new = NewUser {
        name,
        role,
        office: office.as_ref(),
        country: country.as_ref(),
        supervisor: false,
    };
    let created = match state.store.create_user(&new, None, Utc::now()).await {
        Ok((user, _key)) => state
            .store
            .set_credentials(&user.id, username, form.value("password"))
            .await
            .map(|()| user),
        Err(e) => Err(e),
    };
    match created {
        Ok(user) => {
            tracing::info!(user = %user.id, by = %visitor.caller.actor.id, "user created");
            audit_user_change(
                &state,
                &visitor,
                "user_created",
                &format!("{} ({})", user.id, user.role),
            )
            .await;
            Redirect::to("/users").into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot create a user");
            layout::bare_error(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// `POST /users/deactivate` (admins).
pub async fn deactivate(State(state): State<AppState>, visitor: Visitor, form: Form) -> Response {
    if let Some(refused) = visitor.csrf_refusal(&form) {
        return refused;
    }
    if visitor.caller.actor.role != Role::Admin {
        return layout::bare_error(StatusCode::NOT_FOUND);
    }
    if form.value("user") == visitor.caller.actor.id {
        return users_page(
            &state,
            &visitor,
            &form,
            vec![("user".into(), visitor.texts().t("cannot-deactivate-self"))],
            None,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    match state
        .store
        .deactivate_user(form.value("user"), Utc::now())
        .await
    {
        Ok(changed) => {
            tracing::info!(user = %form.value("user"), by = %visitor.caller.actor.id, "user deactivated");
            if changed {
                audit_user_change(&state, &visitor, "user_deactivated", form.value("user")).await;
            }
            Redirect::to("/users").into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot deactivate a user");
            layout::bare_error(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// An audit row for an administrator's change to a user (ids and roles only).
async fn audit_user_change(state: &AppState, visitor: &Visitor, action: &str, detail: &str) {
    let event = homeward_activities::store::NewAuditEvent {
        case_ref: None,
        actor: visitor.caller.actor.id.clone(),
        role: visitor.caller.actor.role.as_str().to_owned(),
        action: action.to_owned(),
        outcome: "recorded".to_owned(),
        detail: Some(detail.chars().take(200).collect()),
        occurred_at: Utc::now(),
    };
    if let Err(e) = state.store.append_audit(&event).await {
        tracing::error!(error = %e, "an administrator's change could not be audited");
    }
}

/// Grants paid per month and currency: (`YYYY-MM`, currency, amount in minor units, tranches),
/// oldest month first.
fn grants_by_month(stats: &serde_json::Value) -> Vec<(String, String, i64, i64)> {
    let mut rows = Vec::new();
    for (month, by_currency) in stats["grants_by_month"]
        .as_object()
        .cloned()
        .unwrap_or_default()
    {
        for (currency, g) in by_currency.as_object().cloned().unwrap_or_default() {
            rows.push((
                month.clone(),
                currency,
                g["amount_minor"].as_i64().unwrap_or(0),
                g["tranches"].as_i64().unwrap_or(0),
            ));
        }
    }
    rows
}
