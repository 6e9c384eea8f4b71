//! `/codec/decode` and `/codec/encode`: Temporal's codec-server protocol, so that authorised
//! people can read the (encrypted) histories in the Temporal Web UI. Admins and auditors only
//! (bearer API key; the UI sends one when configured to pass its user's token). `homeward dev`
//! also serves them under a random path (`/codec/dev/<token>`) it gives its own local UI, which
//! has no sign-in of its own: the dev stack is one person's machine.
//!
//! CORS lets the UI's origin (`api.codec_origins`) call these from the browser.

use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::routing::post;
use axum::{Json, Router};
use tower_http::cors::{AllowOrigin, CorsLayer};

use homeward_activities::codec::{CodecServerError, JsonPayloads};
use homeward_workflows::tasks::Role;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::state::AppState;

/// The codec routes, with CORS for `origins`.
pub fn router(origins: &[String]) -> Router<AppState> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            axum::http::header::CONTENT_TYPE,
            HeaderName::from_static("x-namespace"),
        ])
        .allow_credentials(true);
    Router::new()
        .route("/codec/decode", post(decode))
        .route("/codec/encode", post(encode))
        .route("/codec/dev/{token}/decode", post(dev_decode))
        .route("/codec/dev/{token}/encode", post(dev_encode))
        .layer(cors)
}

fn bad(e: CodecServerError) -> ApiError {
    match e {
        CodecServerError::Base64(field) => ApiError::field(field, "is not base64"),
        CodecServerError::Payload(_) => {
            ApiError::Unprocessable("a payload does not decode with the configured keys".into())
        }
    }
}

fn readers(caller: &Caller) -> Result<(), ApiError> {
    caller.require(&[Role::Admin, Role::Auditor])
}

/// Decrypts payloads for the Web UI (admins and auditors).
async fn decode(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<JsonPayloads>,
) -> Result<Json<JsonPayloads>, ApiError> {
    readers(&caller)?;
    tracing::info!(user = %caller.actor.id, n = body.payloads.len(), "payloads decoded for the web UI");
    state.payload_keys.decode_json(body).map(Json).map_err(bad)
}

/// Encrypts payloads the Web UI sends (admins and auditors).
async fn encode(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<JsonPayloads>,
) -> Result<Json<JsonPayloads>, ApiError> {
    readers(&caller)?;
    state.payload_keys.encode_json(body).map(Json).map_err(bad)
}

fn dev_token(state: &AppState, token: &str) -> Result<(), ApiError> {
    use sha2::{Digest, Sha256};
    match &state.dev_codec_token {
        // Compared as hashes: equal length, no early exit on the first differing byte.
        Some(t) if Sha256::digest(t.as_bytes()) == Sha256::digest(token.as_bytes()) => Ok(()),
        _ => Err(ApiError::NotFound("no such endpoint".into())),
    }
}

async fn dev_decode(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<JsonPayloads>,
) -> Result<Json<JsonPayloads>, ApiError> {
    dev_token(&state, &token)?;
    state.payload_keys.decode_json(body).map(Json).map_err(bad)
}

async fn dev_encode(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<JsonPayloads>,
) -> Result<Json<JsonPayloads>, ApiError> {
    dev_token(&state, &token)?;
    state.payload_keys.encode_json(body).map(Json).map_err(bad)
}
