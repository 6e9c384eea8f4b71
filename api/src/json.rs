//! A JSON extractor whose rejections are the API's own error shape, naming the field at fault.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// Like `axum::Json`, but a rejection is an [`ApiError`]: malformed JSON, a wrong type or an
/// unknown field becomes a 400 that says where; an oversized body a 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let mime = v.split(';').next().unwrap_or_default().trim();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = state.max_body_bytes;
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::PayloadTooLarge { limit })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a body, reporting the path of the first bad value (`household_size`, `members[2].age`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let problem = inner.to_string();
        // Strip serde_json's " at line 1 column 12" suffix: the field name says where.
        let problem = match problem.rfind(" at line ") {
            Some(i) => problem[..i].to_owned(),
            None => problem,
        };
        if inner.is_syntax() || inner.is_eof() {
            ApiError::field("body", format!("malformed JSON: {problem}"))
        } else if path == "." {
            ApiError::field("body", problem)
        } else {
            ApiError::field(path, problem)
        }
    })
}
