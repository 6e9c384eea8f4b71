//! Authentication: `Authorization: Bearer <API key>`, checked against the hashed keys in the
//! case store. The authenticated user becomes the actor of every decision, so a client cannot
//! claim another identity.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use homeward_workflows::tasks::{Actor, Role};

use crate::error::ApiError;
use crate::state::AppState;

/// The caller, authenticated.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user's id, role and office, as the workflow sees them.
    pub actor: Actor,
}

impl Caller {
    /// Refuses callers whose role is not in `allowed`.
    pub fn require(&self, allowed: &[Role]) -> Result<(), ApiError> {
        if allowed.contains(&self.actor.role) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "the {} role cannot do this",
                self.actor.role.as_str()
            )))
        }
    }
}

/// Parses a stored role name.
pub fn parse_role(raw: &str) -> Option<Role> {
    serde_json::from_value(serde_json::Value::String(raw.to_owned())).ok()
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::Unauthorized("send Authorization: Bearer <API key>".into()))?;
        let key = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("the Authorization header must be Bearer <API key>".into())
            })?;
        let user = state
            .store
            .authenticate(key)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .ok_or_else(|| ApiError::Unauthorized("unknown or revoked API key".into()))?;
        let role = parse_role(&user.role)
            .ok_or_else(|| ApiError::Internal(format!("user {} has an unknown role", user.id)))?;
        Ok(Caller {
            actor: Actor {
                id: user.id,
                role,
                office: user.office,
            },
        })
    }
}
