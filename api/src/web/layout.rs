//! The page shell and the GOV.UK Design System components the pages are built from (header
//! with the user's navigation, error summary naming each field, inputs with their labels and
//! inline errors, radios, checkboxes, date inputs, summary lists, tables, tags). Markup follows
//! the design system's HTML so its stylesheet (`api/assets/homeward.css`) applies; every field
//! has a label, every group a legend, every error a link to its field.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use super::i18n::{Lang, Texts};
use super::session::Visitor;
use homeward_workflows::tasks::Role;

/// Field name to error message, in the order the page shows its fields.
pub type Errors = [(String, String)];

/// The `id` of a field named `name` (`people[0].names.document.given` →
/// `people-0-names-document-given`): what error-summary links point at.
pub fn field_id(name: &str) -> String {
    let mut id = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            id.push(c);
        } else if !id.ends_with('-') {
            id.push('-');
        }
    }
    id.trim_end_matches('-').to_owned()
}

fn error_of<'a>(errors: &'a Errors, name: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|(f, _)| f == name || f.starts_with(&format!("{name}.")))
        .map(|(_, m)| m.as_str())
}

/// One page.
pub struct Page<'a> {
    /// Its language.
    pub lang: Lang,
    /// Its title (also the `<h1>`).
    pub title: String,
    /// Who is signed in (none on the sign-in page).
    pub visitor: Option<&'a Visitor>,
    /// Errors to summarise at the top.
    pub errors: Vec<(String, String)>,
    /// The content under the `<h1>`.
    pub body: Markup,
}

impl Page<'_> {
    /// The whole document, with the security headers every page carries.
    pub fn render(self, status: StatusCode) -> Response {
        let t = Texts(self.lang);
        let title = if self.errors.is_empty() {
            format!("{} – {}", self.title, t.t("service-name"))
        } else {
            format!("Error: {} – {}", self.title, t.t("service-name"))
        };
        let markup = html! {
            (DOCTYPE)
            html lang=(self.lang.code()) dir=(self.lang.dir()) class="govuk-template" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) }
                    link rel="stylesheet" href="/assets/homeward.css";
                    link rel="stylesheet" href="/assets/app.css";
                }
                body class="govuk-template__body" {
                    a href="#main-content" class="govuk-skip-link" { (t.t("skip-to-main")) }
                    (header(&t, self.visitor))
                    div class="govuk-width-container" {
                        main class="govuk-main-wrapper" id="main-content" {
                            @if !self.errors.is_empty() {
                                (error_summary(&t, &self.errors))
                            }
                            h1 class="govuk-heading-l" { (self.title) }
                            (self.body)
                        }
                    }
                }
            }
        };
        with_headers(status, Html(markup.into_string()).into_response())
    }
}

fn with_headers(status: StatusCode, mut response: Response) -> Response {
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn header(t: &Texts, visitor: Option<&Visitor>) -> Markup {
    // The design system's service navigation, without GOV.UK's header: its crown and logotype
    // are for GOV.UK services only.
    html! {
        section class="govuk-service-navigation" aria-label=(t.t("service-name")) {
            div class="govuk-width-container" {
                div class="govuk-service-navigation__container" {
                    span class="govuk-service-navigation__service-name" {
                        a href="/" class="govuk-service-navigation__link" { (t.t("service-name")) }
                    }
                    @if let Some(v) = visitor {
                        nav aria-label="Menu" class="govuk-service-navigation__wrapper" {
                            ul class="govuk-service-navigation__list" {
                                @for (href, key) in nav_items(v.caller.actor.role) {
                                    li class="govuk-service-navigation__item" {
                                        a class="govuk-service-navigation__link" href=(href) { (t.t(key)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(v) = visitor {
            div class="govuk-width-container hw-account" {
                p class="govuk-body-s" {
                    (t.t_with("signed-in-as", &[("name", &v.name), ("role", &t.t(&format!("role-{}", v.caller.actor.role.as_str())))]))
                }
                form method="post" action="/sign-out" {
                    input type="hidden" name="csrf" value=(v.csrf);
                    button type="submit" class="govuk-button govuk-button--secondary" { (t.t("sign-out")) }
                }
                form method="post" action="/language" class="hw-language" {
                    input type="hidden" name="csrf" value=(v.csrf);
                    input type="hidden" name="next" value="/inbox";
                    div class="govuk-form-group" {
                        label class="govuk-label" for="language" { (t.t("language")) }
                        select class="govuk-select" id="language" name="language" {
                            @for l in Lang::ALL {
                                option value=(l.code()) lang=(l.code()) selected[l == v.lang] { (l.native_name()) }
                            }
                        }
                    }
                    button type="submit" class="govuk-button govuk-button--secondary" { (t.t("change-language")) }
                }
            }
        }
    }
}

/// The menu a role sees.
fn nav_items(role: Role) -> Vec<(&'static str, &'static str)> {
    let mut items = vec![("/inbox", "nav-inbox"), ("/cases", "nav-cases")];
    if role == Role::ReturnOfficer {
        items.push(("/cases/new", "nav-new-case"));
    }
    if role != Role::Partner {
        items.push(("/dashboard", "nav-dashboard"));
    }
    if matches!(role, Role::Auditor | Role::Admin) {
        items.push(("/audit", "nav-audit"));
    }
    if role == Role::Admin {
        items.push(("/users", "nav-users"));
    }
    items
}

/// The error summary: each problem links to its field.
pub fn error_summary(t: &Texts, errors: &Errors) -> Markup {
    html! {
        div class="govuk-error-summary" data-module="govuk-error-summary" {
            div role="alert" {
                h2 class="govuk-error-summary__title" { (t.t("error-summary-title")) }
                div class="govuk-error-summary__body" {
                    ul class="govuk-list govuk-error-summary__list" {
                        @for (field, message) in errors {
                            li { a href={ "#" (field_id(field)) } { (message) } }
                        }
                    }
                }
            }
        }
    }
}

/// A success banner.
pub fn success(t: &Texts, message: &str) -> Markup {
    html! {
        div class="govuk-notification-banner govuk-notification-banner--success" role="alert"
            aria-labelledby="success-title" data-module="govuk-notification-banner" {
            div class="govuk-notification-banner__header" {
                h2 class="govuk-notification-banner__title" id="success-title" { (t.t("success-title")) }
            }
            div class="govuk-notification-banner__content" {
                p class="govuk-notification-banner__heading" { (message) }
            }
        }
    }
}

fn inline_error(name: &str, message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            p id={ (field_id(name)) "-error" } class="govuk-error-message" {
                span class="govuk-visually-hidden" { "Error: " } (m)
            }
        }
    }
}

fn group_class(error: Option<&str>) -> &'static str {
    if error.is_some() {
        "govuk-form-group govuk-form-group--error"
    } else {
        "govuk-form-group"
    }
}

/// A labelled text input.
pub fn text_input(
    name: &str,
    label: &str,
    value: &str,
    errors: &Errors,
    autocomplete: &str,
) -> Markup {
    let error = error_of(errors, name);
    let id = field_id(name);
    html! {
        div class=(group_class(error)) {
            label class="govuk-label" for=(id) { (label) }
            (inline_error(name, error))
            input class={ "govuk-input" @if error.is_some() { " govuk-input--error" } }
                id=(id) name=(name) type="text" value=(value) autocomplete=(autocomplete)
                spellcheck="false" aria-describedby=[error.map(|_| format!("{id}-error"))];
        }
    }
}

/// A labelled password input.
pub fn password_input(name: &str, label: &str, autocomplete: &str) -> Markup {
    html! {
        div class="govuk-form-group" {
            label class="govuk-label" for=(field_id(name)) { (label) }
            input class="govuk-input" id=(field_id(name)) name=(name) type="password"
                autocomplete=(autocomplete);
        }
    }
}

/// A labelled select.
pub fn select(
    name: &str,
    label: &str,
    options: &[(String, String)],
    selected: &str,
    errors: &Errors,
) -> Markup {
    let error = error_of(errors, name);
    let id = field_id(name);
    html! {
        div class=(group_class(error)) {
            label class="govuk-label" for=(id) { (label) }
            (inline_error(name, error))
            select class="govuk-select" id=(id) name=(name)
                aria-describedby=[error.map(|_| format!("{id}-error"))] {
                @for (value, text) in options {
                    option value=(value) selected[value == selected] { (text) }
                }
            }
        }
    }
}

/// Radios in a fieldset; the first radio carries the field's id (where errors link).
pub fn radios(
    name: &str,
    legend: &str,
    options: &[(String, String)],
    selected: &str,
    errors: &Errors,
) -> Markup {
    let error = error_of(errors, name);
    let id = field_id(name);
    html! {
        div class=(group_class(error)) {
            fieldset class="govuk-fieldset" aria-describedby=[error.map(|_| format!("{id}-error"))] {
                legend class="govuk-fieldset__legend govuk-fieldset__legend--s" { (legend) }
                (inline_error(name, error))
                div class="govuk-radios govuk-radios--small" data-module="govuk-radios" {
                    @for (i, (value, text)) in options.iter().enumerate() {
                        @let item = if i == 0 { id.clone() } else { format!("{id}-{i}") };
                        div class="govuk-radios__item" {
                            input class="govuk-radios__input" id=(item) name=(name) type="radio"
                                value=(value) checked[value == selected];
                            label class="govuk-label govuk-radios__label" for=(item) { (text) }
                        }
                    }
                }
            }
        }
    }
}

/// Checkboxes in a fieldset.
pub fn checkboxes(
    name: &str,
    legend: &str,
    options: &[(String, String)],
    checked: &[&str],
    errors: &Errors,
) -> Markup {
    let error = error_of(errors, name);
    let id = field_id(name);
    html! {
        div class=(group_class(error)) {
            fieldset class="govuk-fieldset" aria-describedby=[error.map(|_| format!("{id}-error"))] {
                legend class="govuk-fieldset__legend govuk-fieldset__legend--s" { (legend) }
                (inline_error(name, error))
                div class="govuk-checkboxes govuk-checkboxes--small" data-module="govuk-checkboxes" {
                    @for (i, (value, text)) in options.iter().enumerate() {
                        @let item = if i == 0 { id.clone() } else { format!("{id}-{i}") };
                        div class="govuk-checkboxes__item" {
                            input class="govuk-checkboxes__input" id=(item) name=(name)
                                type="checkbox" value=(value) checked[checked.contains(&value.as_str())];
                            label class="govuk-label govuk-checkboxes__label" for=(item) { (text) }
                        }
                    }
                }
            }
        }
    }
}

/// A labelled text area.
pub fn textarea(name: &str, label: &str, hint: &str, value: &str, errors: &Errors) -> Markup {
    let error = error_of(errors, name);
    let id = field_id(name);
    html! {
        div class=(group_class(error)) {
            label class="govuk-label" for=(id) { (label) }
            @if !hint.is_empty() { div class="govuk-hint" id={ (id) "-hint" } { (hint) } }
            (inline_error(name, error))
            textarea class="govuk-textarea" id=(id) name=(name) rows="3"
                aria-describedby=[(!hint.is_empty()).then(|| format!("{id}-hint"))] { (value) }
        }
    }
}

/// The design system's date input: day, month and year boxes (`<name>.day` …).
pub fn date_input(
    t: &Texts,
    name: &str,
    legend: &str,
    value: [&str; 3],
    errors: &Errors,
) -> Markup {
    let error = error_of(errors, name);
    let id = field_id(name);
    html! {
        div class=(group_class(error)) {
            fieldset class="govuk-fieldset" role="group" {
                legend class="govuk-fieldset__legend govuk-fieldset__legend--s" { (legend) }
                (inline_error(name, error))
                div class="govuk-date-input" id=(id) {
                    @for (i, (part, key, width)) in [("day", "day", 2), ("month", "month", 2), ("year", "year", 4)].iter().enumerate() {
                        div class="govuk-date-input__item" {
                            div class="govuk-form-group" {
                                label class="govuk-label govuk-date-input__label" for={ (id) "-" (part) } { (t.t(key)) }
                                input class={ "govuk-input govuk-date-input__input govuk-input--width-" (width) }
                                    id={ (id) "-" (part) } name={ (name) "." (part) } type="text"
                                    inputmode="numeric" value=(value[i]);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A summary list of label/value rows.
pub fn summary_list(rows: &[(String, Markup)]) -> Markup {
    html! {
        dl class="govuk-summary-list" {
            @for (key, value) in rows {
                div class="govuk-summary-list__row" {
                    dt class="govuk-summary-list__key" { (key) }
                    dd class="govuk-summary-list__value" { (value) }
                }
            }
        }
    }
}

/// A table with a caption and header cells.
pub fn table(caption: &str, head: &[String], rows: &[Vec<Markup>]) -> Markup {
    html! {
        table class="govuk-table" {
            caption class="govuk-table__caption govuk-table__caption--m" { (caption) }
            thead class="govuk-table__head" {
                tr class="govuk-table__row" {
                    @for h in head { th scope="col" class="govuk-table__header" { (h) } }
                }
            }
            tbody class="govuk-table__body" {
                @for row in rows {
                    tr class="govuk-table__row" {
                        @for cell in row { td class="govuk-table__cell" { (cell) } }
                    }
                }
            }
        }
    }
}

/// A coloured tag.
pub fn tag(text: &str, colour: &str) -> Markup {
    html! { strong class={ "govuk-tag govuk-tag--" (colour) } { (text) } }
}

/// A page with one message (not found, forbidden, …), for a signed-in visitor.
pub fn message_page(
    visitor: &Visitor,
    status: StatusCode,
    title_key: &str,
    message: &str,
) -> Response {
    let t = visitor.texts();
    Page {
        lang: visitor.lang,
        title: t.t(title_key),
        visitor: Some(visitor),
        errors: vec![],
        body: html! { p class="govuk-body" { (message) } },
    }
    .render(status)
}

/// A minimal error page, when not even the session could be read.
pub fn bare_error(status: StatusCode) -> Response {
    let t = Texts(Lang::En);
    Page {
        lang: Lang::En,
        title: t.t("server-error-title"),
        visitor: None,
        errors: vec![],
        body: html! { p class="govuk-body" { (t.t("try-later")) } },
    }
    .render(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_ids_are_what_error_links_point_at() {
        assert_eq!(
            field_id("people[0].names.document.given"),
            "people-0-names-document-given"
        );
        assert_eq!(field_id("expires_on"), "expires_on");
    }
}
