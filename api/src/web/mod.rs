//! The web interface for people (issue "A web interface"), served by `homeward api` at `/`
//! beside the JSON API under `/api/v1`: server-rendered HTML (maud) in the GOV.UK Design
//! System's patterns, no script needed, every asset compiled into the binary. Pages call the
//! JSON API's handlers, so a page can do nothing the API would refuse the same person.
//!
//! - [`session`]: sign-in (username and password), sessions, CSRF, sign-out, language.
//! - [`oidc`]: sign-in through the organisation's OpenID Connect provider (code + PKCE).
//! - [`pages`]: inbox, cases and person search, the case page with a form per task type,
//!   opening a case.
//! - [`forms`]: reading forms; each task type's form and its outcome.
//! - [`manage`]: the dashboard and its CSV, the audit export, users (admins).
//! - [`layout`]: the page shell and the design system's components.
//! - [`i18n`]: English, French, Arabic (Project Fluent files in `api/ui/`).

// A page's early return is a whole response (an error page, a redirect): boxing it would only
// add noise to every handler.
#[allow(clippy::result_large_err)]
pub mod forms;
pub mod i18n;
pub mod layout;
#[allow(clippy::result_large_err)]
pub mod manage;
#[allow(clippy::result_large_err)]
pub mod oidc;
#[allow(clippy::result_large_err)]
pub mod pages;
pub mod session;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::state::AppState;

/// The stylesheet: GOV.UK Frontend compiled with the system font (`scripts/build-css.sh`).
const CSS: &str = include_str!("../../assets/homeward.css");
/// Homeward's few additions to it.
const APP_CSS: &str = include_str!("../../assets/app.css");

async fn css(body: &'static str) -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        body,
    )
}

/// The web interface's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route(
            "/sign-in",
            get(session::sign_in_page).post(session::sign_in),
        )
        .route("/sign-in/oidc", get(oidc::start))
        .route("/sign-in/oidc/callback", get(oidc::callback))
        .route("/sign-out", post(session::sign_out))
        .route("/language", post(session::set_language))
        .route("/inbox", get(pages::inbox))
        .route("/cases", get(pages::cases))
        .route("/cases/new", get(pages::new_case).post(pages::open_case))
        .route("/cases/{reference}", get(pages::case))
        .route("/cases/{reference}/people", get(pages::people))
        .route("/cases/{reference}/tasks/{id}", post(pages::complete))
        .route(
            "/cases/{reference}/tasks/{id}/{action}",
            post(pages::claim_or_release),
        )
        .route(
            "/cases/{reference}/{action}",
            post(pages::withdraw_or_close),
        )
        .route("/dashboard", get(manage::dashboard))
        .route("/dashboard.csv", get(manage::dashboard_csv))
        .route("/dashboard/{chart}", get(manage::chart))
        .route("/audit", get(manage::audit))
        .route("/audit.csv", get(manage::audit_csv))
        .route("/users", get(manage::users).post(manage::create_user))
        .route("/users/deactivate", post(manage::deactivate))
        .route("/assets/homeward.css", get(|| css(CSS)))
        .route("/assets/app.css", get(|| css(APP_CSS)))
        // No icon; answered here so that browsers asking for one are not sent to sign in.
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
}
