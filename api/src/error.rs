//! `ApiError`: the one error type of every handler, and the only place that knows HTTP status
//! codes. Every error body is `{ "error": code, "message": text, "fields": { name: problem } }`.

use std::collections::BTreeMap;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use homeward_activities::StoreError;
use homeward_activities::vault::VaultError;
use homeward_workflows::domain::DomainError;

/// What a client is told of a vault failure: never more than that it failed.
fn vault_message(e: &VaultError) -> String {
    match e {
        VaultError::Erased => "this case's personal data was erased".into(),
        VaultError::NotFound => "no personal record for that member".into(),
        VaultError::Store(StoreError::Database(_)) => {
            "the case store is unavailable; retry later".into()
        }
        _ => "internal error".into(),
    }
}

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `400 Bad Request`: the body is not valid JSON, or fields are missing or wrong. Each bad
    /// field is named with what was expected.
    #[error("{message}")]
    BadRequest {
        /// A summary.
        message: String,
        /// Field name to problem.
        fields: BTreeMap<String, String>,
    },
    /// `401 Unauthorized`: no valid API key.
    #[error("{0}")]
    Unauthorized(String),
    /// `403 Forbidden`: the caller's role may not do this, or four-eyes forbids it.
    #[error("{0}")]
    Forbidden(String),
    /// `422 Unprocessable Entity`: well-formed, but the workflow's validator refused the content.
    #[error("{0}")]
    Unprocessable(String),
    /// `404 Not Found`: no such resource.
    #[error("{0}")]
    NotFound(String),
    /// `410 Gone`: it existed and was erased (a case's personal data).
    #[error("{0}")]
    Gone(String),
    /// `409 Conflict`: the request collides with existing state.
    #[error("{0}")]
    Conflict(String),
    /// `413 Payload Too Large`: the body exceeds `api.max_body_bytes`.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// `415 Unsupported Media Type`: the body is not declared as JSON.
    #[error("send the body as JSON with Content-Type: application/json")]
    UnsupportedMediaType,
    /// `429 Too Many Requests`: over a rate limit or the failed-authentication back-off; the
    /// `Retry-After` header says when to try again.
    #[error("too many requests; retry in {} s", retry_after.as_secs().max(1))]
    TooManyRequests {
        /// How long to wait.
        retry_after: std::time::Duration,
    },
    /// `503 Service Unavailable`: Temporal or the database cannot be reached; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// The person vault failed: erased (`410`), no such record (`404`), a key that does not
    /// open the data (`500`, logged), or the store (as `Store`).
    #[error("{}", vault_message(.0))]
    Vault(#[from] homeward_activities::vault::VaultError),
    /// The case store failed: `503` (retry later) when the database cannot be reached, `500`
    /// when it holds something it should not; logged in full, the client sees a generic
    /// message either way.
    #[error("the case store is unavailable; retry later")]
    Store(#[from] homeward_activities::StoreError),
    /// `500 Internal Server Error`: logged in full; the client sees a generic message.
    #[error("internal error")]
    Internal(String),
}

/// Every error's body (also its OpenAPI schema).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code: invalid_request, unauthorized, forbidden, not_found, conflict,
    /// unprocessable, payload_too_large, unsupported_media_type, too_many_requests,
    /// unavailable, internal.
    error: String,
    /// What went wrong, for people.
    message: String,
    /// Field or parameter name to problem, for 400s.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    fields: BTreeMap<String, String>,
}

impl ApiError {
    /// A 400 naming exactly one field.
    pub fn field(field: impl Into<String>, problem: impl Into<String>) -> Self {
        let mut fields = BTreeMap::new();
        fields.insert(field.into(), problem.into());
        Self::invalid(fields)
    }

    /// A 400 naming every bad field.
    pub fn invalid(fields: BTreeMap<String, String>) -> Self {
        let names: Vec<&str> = fields.keys().map(String::as_str).collect();
        Self::BadRequest {
            message: format!("invalid or missing fields: {}", names.join(", ")),
            fields,
        }
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "invalid_request"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::Unprocessable(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Gone(_) => (StatusCode::GONE, "gone"),
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
            }
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Store(StoreError::Database(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            ApiError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::Vault(VaultError::Erased) => (StatusCode::GONE, "gone"),
            ApiError::Vault(VaultError::NotFound) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Vault(VaultError::Store(StoreError::Database(_))) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            ApiError::Vault(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        ApiError::field(e.field, e.problem)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let fields = match &self {
            ApiError::BadRequest { fields, .. } => fields.clone(),
            _ => BTreeMap::new(),
        };
        match &self {
            ApiError::Internal(detail) => tracing::error!(error = %detail, "request failed"),
            ApiError::Store(e) => tracing::error!(error = %e, "case store failed"),
            ApiError::Vault(e @ (VaultError::Key(_) | VaultError::Store(_))) => {
                tracing::error!(error = %e, "person vault failed")
            }
            _ => {}
        }
        let message = match &self {
            ApiError::Store(StoreError::Database(_)) => self.to_string(),
            ApiError::Store(_) => "internal error".to_owned(),
            _ => self.to_string(),
        };
        let body = ErrorBody {
            error: code.to_owned(),
            message,
            fields,
        };
        let mut response = (status, Json(body)).into_response();
        if let ApiError::TooManyRequests { retry_after } = &self {
            let seconds = retry_after.as_secs().max(1).to_string();
            if let Ok(v) = axum::http::HeaderValue::from_str(&seconds) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        response
    }
}
