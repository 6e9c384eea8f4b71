//! `/healthz` (the process is up), `/readyz` (Temporal and the database answer) and `/metrics`.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use temporalio_client::NamespacedClient;
use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::IntoRequest;
use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest;

use crate::state::AppState;

/// How long a readiness probe waits for each dependency.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The health routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = matches!(
        tokio::time::timeout(PROBE_TIMEOUT, state.store.ping()).await,
        Ok(Ok(()))
    );
    let temporal = temporal_ready(&state).await;
    let status = if database && temporal {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    (
        status,
        Json(json!({ "database": word(database), "temporal": word(temporal) })),
    )
}

/// Asks the frontend to describe our namespace: proves both the connection and the namespace.
async fn temporal_ready(state: &AppState) -> bool {
    let mut client = state.temporal.clone();
    let namespace = client.namespace();
    let request = DescribeNamespaceRequest {
        namespace,
        ..Default::default()
    }
    .into_request();
    matches!(
        tokio::time::timeout(PROBE_TIMEOUT, client.describe_namespace(request)).await,
        Ok(Ok(_))
    )
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = state.metrics.render();
    if let Some(addr) = state.sdk_metrics_addr {
        // The SDK runtime serves its own registry on loopback; merge it into ours.
        let url = format!("http://{addr}/metrics");
        static SCRAPER: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
        match SCRAPER
            .get_or_init(reqwest::Client::new)
            .get(url)
            .timeout(PROBE_TIMEOUT)
            .send()
            .await
        {
            Ok(resp) => text.push_str(&resp.text().await.unwrap_or_default()),
            Err(e) => tracing::warn!(error = %e, "temporal runtime metrics unavailable"),
        }
    }
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
}
