//! Homeward's HTTP API.
//!
//! - [`app`] builds the router (tests call it directly); [`serve`] runs it until `shutdown`.
//! - [`error::ApiError`] is the only place that knows HTTP status codes.
//! - [`routes`]: one module per resource; handlers only start, query, signal or update
//!   workflows, and read the case store.

pub mod audit;
pub mod auth;
pub mod error;
pub mod fields;
pub mod json;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod person_input;
pub mod query;
pub mod routes;
pub mod state;
pub mod views;
pub mod visibility;
pub mod web;

use std::future::Future;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::limit::RequestBodyLimitLayer;

pub use error::ApiError;
pub use metrics::ApiMetrics;
pub use state::AppState;

/// The whole API as a router, ready to serve or to call with `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    let limit = state.max_body_bytes;
    Router::new()
        .merge(routes::health::router())
        .merge(routes::cases::router())
        .merge(routes::tasks::router())
        .merge(routes::programmes::router())
        .merge(routes::inbox::router())
        .merge(routes::people::router())
        .merge(routes::codec::router(&state.codec_origins))
        .merge(routes::reports::router())
        .merge(routes::webhooks::router())
        .merge(routes::links::router())
        .merge(routes::suppliers::router())
        .merge(routes::access::router())
        .merge(openapi::router())
        .merge(web::router())
        .fallback(fallback)
        .layer(RequestBodyLimitLayer::new(limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::rate_limit,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

/// Counts requests by matched route (never the raw path: it carries case references).
/// An unknown path: JSON under `/api/`, a page (or sign-in) elsewhere.
async fn fallback(State(state): State<AppState>, req: Request) -> Response {
    use axum::extract::FromRequestParts;
    use axum::response::IntoResponse;
    if req.uri().path().starts_with("/api/") || req.uri().path().starts_with("/codec/") {
        return ApiError::NotFound("no such endpoint".into()).into_response();
    }
    let (mut parts, _) = req.into_parts();
    match web::session::Visitor::from_request_parts(&mut parts, &state).await {
        Ok(visitor) => web::pages::not_found(visitor).await,
        Err(to_sign_in) => to_sign_in,
    }
}

async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    let status = response.status();
    state
        .metrics
        .requests
        .with_label_values(&[route.as_str(), status.as_str()])
        .inc();
    // A body over the limit is cut off by the limit layer with a bare 413; give it our shape.
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return axum::response::IntoResponse::into_response(ApiError::PayloadTooLarge {
            limit: state.max_body_bytes,
        });
    }
    response
}

/// Only `/healthz`, `/readyz` and `/metrics`: what a standalone worker process serves.
pub fn health_app(state: AppState) -> Router {
    Router::new()
        .merge(routes::health::router())
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .with_state(state)
}

/// Serves `router` on an already-bound listener until `shutdown` completes, then finishes the
/// requests in flight. Each request knows its peer's address (for the rate limits).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
