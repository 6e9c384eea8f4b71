//! Who is using the web interface: the session cookie (`hw_session`: `HttpOnly`, `SameSite=Lax`,
//! `Secure` unless the browser reached us on a loopback address), the session it names in the
//! case store, and the CSRF token every form posts back. Sign-in and sign-out live here too.

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use sha2::{Digest, Sha256};

use homeward_activities::accounts::SignIn;
use homeward_workflows::tasks::Actor;

use super::forms::Form;
use super::i18n::{Lang, Texts};
use super::layout::{self, Page};
use crate::auth::{Caller, parse_role};
use crate::limits::client_ip;
use crate::state::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "hw_session";
/// The sign-in form's CSRF cookie (double submit: there is no session yet).
const SIGN_IN_COOKIE: &str = "hw_signin";

/// A signed-in person.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// The user as the API's handlers see them.
    pub caller: Caller,
    /// Their display name.
    pub name: String,
    /// The CSRF token of their session.
    pub csrf: String,
    /// Their language.
    pub lang: Lang,
}

impl Visitor {
    /// Their texts.
    pub fn texts(&self) -> Texts {
        Texts(self.lang)
    }

    /// The refusal of a form whose CSRF token is not this session's; `None` for one that is.
    pub fn csrf_refusal(&self, form: &Form) -> Option<Response> {
        if same(form.value("csrf"), &self.csrf) {
            None
        } else {
            Some(layout::message_page(
                self,
                StatusCode::FORBIDDEN,
                "forbidden-title",
                &self.texts().t("form-expired"),
            ))
        }
    }
}

/// Compares two secrets without leaking where they differ (through their hashes).
pub(super) fn same(a: &str, b: &str) -> bool {
    !a.is_empty() && Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// The value of cookie `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the browser reached us on a loopback name (no TLS there: no `Secure` flag).
fn loopback(headers: &HeaderMap) -> bool {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(name, _)| name);
    matches!(name, "localhost" | "127.0.0.1" | "[::1]")
}

/// A `Set-Cookie` value.
pub(super) fn set_cookie(
    headers: &HeaderMap,
    name: &str,
    value: &str,
    max_age: i64,
) -> HeaderValue {
    let secure = if loopback(headers) { "" } else { "; Secure" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_sign_in = || {
            let next = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            Redirect::to(&format!("/sign-in?next={}", super::forms::encode(next))).into_response()
        };
        let Some(token) = cookie(&parts.headers, COOKIE) else {
            return Err(to_sign_in());
        };
        let session = match state.store.session(token, Utc::now()).await {
            Ok(Some(s)) => s,
            Ok(None) => return Err(to_sign_in()),
            Err(e) => {
                tracing::error!(error = %e, "cannot read a web session");
                return Err(layout::bare_error(StatusCode::SERVICE_UNAVAILABLE));
            }
        };
        let Some(role) = parse_role(&session.user.role) else {
            return Err(layout::bare_error(StatusCode::FORBIDDEN));
        };
        Ok(Visitor {
            caller: Caller {
                actor: Actor {
                    id: session.user.id,
                    role,
                    office: session.user.office,
                    country: session.user.country,
                    supervisor: session.user.supervisor,
                },
            },
            name: session.user.name,
            csrf: session.csrf,
            lang: Lang::parse(&session.language).unwrap_or(Lang::En),
        })
    }
}

/// A local path to return to after signing in (never another site).
pub(super) fn safe_next(next: &str) -> &str {
    // Browsers drop tabs and newlines from URLs ("/\t/evil" becomes "//evil"), so anything
    // but visible ASCII is refused along with "//" and backslashes.
    let visible = next.bytes().all(|b| b.is_ascii_graphic());
    if visible && next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/inbox"
    }
}

/// The browser's sign-in token if it has one (a second tab, or a redirect loading the page
/// again, must not void the form already shown), else a new one.
fn sign_in_token(headers: &HeaderMap) -> String {
    cookie(headers, SIGN_IN_COOKIE)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .map_or_else(|| hex::encode(rand::random::<[u8; 32]>()), str::to_owned)
}

/// `GET /sign-in`.
pub async fn sign_in_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Form,
) -> Response {
    let next = safe_next(form.value("next")).to_owned();
    sign_in_again(&state, &headers, &next, "", StatusCode::OK)
}

/// The sign-in page, with `error` (if not empty) in its error summary.
pub(super) fn sign_in_again(
    state: &AppState,
    headers: &HeaderMap,
    next: &str,
    error: &str,
    status: StatusCode,
) -> Response {
    let token = sign_in_token(headers);
    let error = (!error.is_empty()).then(|| error.to_owned());
    let mut response = sign_in_form(state, Lang::En, &token, next, error, status);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(headers, SIGN_IN_COOKIE, &token, 3600),
    );
    response
}

fn sign_in_form(
    state: &AppState,
    lang: Lang,
    token: &str,
    next: &str,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let t = Texts(lang);
    let errors: Vec<(String, String)> = error.into_iter().map(|e| ("username".into(), e)).collect();
    let body = maud::html! {
        form method="post" action="/sign-in" novalidate {
            input type="hidden" name="csrf" value=(token);
            input type="hidden" name="next" value=(next);
            (layout::text_input("username", &t.t("username"), "", &errors, "username"))
            (layout::password_input("password", &t.t("password"), "current-password"))
            button type="submit" class="govuk-button" data-module="govuk-button" { (t.t("sign-in-button")) }
        }
        @if let Some(oidc) = &state.oidc {
            p class="govuk-body" { (t.t("sign-in-or")) }
            a class="govuk-button govuk-button--secondary" role="button" draggable="false"
                href={ "/sign-in/oidc?next=" (super::forms::encode(next)) } { (oidc.label()) }
        }
    };
    Page {
        lang,
        title: t.t("sign-in-title"),
        visitor: None,
        errors,
        body,
    }
    .render(status)
}

/// Starts a session for `user` (signed in by `method`: password or OIDC) and sends the browser
/// on to `next`.
pub(super) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    user: &homeward_activities::users::User,
    next: &str,
    method: &'static str,
) -> Response {
    match state.store.start_session(&user.id, Utc::now()).await {
        Ok(session) => {
            tracing::info!(user = %user.id, method, "signed in");
            let mut response = Redirect::to(next).into_response();
            let h = response.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(headers, COOKIE, &session, 36_000),
            );
            h.append(
                header::SET_COOKIE,
                set_cookie(headers, SIGN_IN_COOKIE, "", 0),
            );
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot start a session");
            layout::bare_error(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// `POST /sign-in`: username, password, the form's CSRF token.
pub async fn sign_in(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
    form: Form,
) -> Response {
    let headers = &parts.headers;
    let token = cookie(headers, SIGN_IN_COOKIE)
        .unwrap_or_default()
        .to_owned();
    let next = safe_next(form.value("next")).to_owned();
    let t = Texts(Lang::En);
    if !same(form.value("csrf"), &token) {
        return sign_in_form(
            &state,
            Lang::En,
            &token,
            &next,
            Some(t.t("form-expired")),
            StatusCode::FORBIDDEN,
        );
    }
    let refused = |status| {
        sign_in_form(
            &state,
            Lang::En,
            &token,
            &next,
            Some(t.t("sign-in-refused")),
            status,
        )
    };
    let now = Utc::now();
    match state
        .store
        .sign_in(form.value("username").trim(), form.value("password"), now)
        .await
    {
        Ok(SignIn::Accepted(user)) => signed_in(&state, headers, &user, &next, "password").await,
        Ok(SignIn::Refused) => {
            // Failed sign-ins from one address also count against the API's back-off.
            if state
                .limits
                .failed_authentication(client_ip(&parts.extensions))
                .is_err()
            {
                return refused(StatusCode::TOO_MANY_REQUESTS);
            }
            refused(StatusCode::UNAUTHORIZED)
        }
        Ok(SignIn::Locked(until)) => sign_in_form(
            &state,
            Lang::En,
            &token,
            &next,
            Some(t.t_with(
                "sign-in-locked",
                &[("time", &until.format("%H:%M UTC").to_string())],
            )),
            StatusCode::TOO_MANY_REQUESTS,
        ),
        Err(e) => {
            tracing::error!(error = %e, "sign-in failed");
            layout::bare_error(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// `POST /sign-out`.
pub async fn sign_out(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    form: Form,
) -> Response {
    if let Some(refused) = visitor.csrf_refusal(&form) {
        return refused;
    }
    if let Some(token) = cookie(&headers, COOKIE)
        && let Err(e) = state.store.end_session(token).await
    {
        tracing::error!(error = %e, "cannot end a session");
    }
    let mut response = Redirect::to("/sign-in").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&headers, COOKIE, "", 0));
    response
}

/// `POST /language`: the visitor's interface language.
pub async fn set_language(State(state): State<AppState>, visitor: Visitor, form: Form) -> Response {
    if let Some(refused) = visitor.csrf_refusal(&form) {
        return refused;
    }
    let Some(lang) = Lang::parse(form.value("language")) else {
        return layout::bare_error(StatusCode::BAD_REQUEST);
    };
    if let Err(e) = state
        .store
        .set_language(&visitor.caller.actor.id, lang.code())
        .await
    {
        tracing::error!(error = %e, "cannot set a language");
        return layout::bare_error(StatusCode::SERVICE_UNAVAILABLE);
    }
    Redirect::to(safe_next(form.value("next"))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next("/cases/HW-1"), "/cases/HW-1");
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil",
            "",
        ] {
            assert_eq!(safe_next(bad), "/inbox", "{bad}");
        }
    }

    #[test]
    fn cookies_are_secure_except_on_loopback() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        let c = set_cookie(&h, COOKIE, "t", 60);
        assert!(!c.to_str().unwrap().contains("Secure"));
        assert!(c.to_str().unwrap().contains("HttpOnly; SameSite=Lax"));
        h.insert(
            header::HOST,
            HeaderValue::from_static("homeward.example.org"),
        );
        assert!(
            set_cookie(&h, COOKIE, "t", 60)
                .to_str()
                .unwrap()
                .ends_with("; Secure")
        );
    }
}
