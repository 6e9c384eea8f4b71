//! Authentication: `Authorization: Bearer <API key>`, checked against the hashed keys in the
//! case store (revoked and expired keys are refused from the next request on: nothing is
//! cached). The authenticated user becomes the actor of every decision, so a client cannot
//! claim another identity. Failed attempts from one address are counted: past
//! `api.failed_auth_per_minute` they are answered 429 until the allowance refills.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use homeward_workflows::tasks::{Actor, Role};

use crate::error::ApiError;
use crate::limits::client_ip;
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
    Role::parse(raw)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let refused = |why: &str| match state
            .limits
            .failed_authentication(client_ip(&parts.extensions))
        {
            Ok(()) => ApiError::Unauthorized(why.to_owned()),
            Err(retry_after) => {
                tracing::warn!("failed authentications over the allowance; backing off");
                ApiError::TooManyRequests { retry_after }
            }
        };
        let Some(header) = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Err(refused("send Authorization: Bearer <API key>"));
        };
        let Some(key) = header
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|k| !k.is_empty())
        else {
            return Err(refused("the Authorization header must be Bearer <API key>"));
        };
        let user = state.store.authenticate(key, chrono::Utc::now()).await?;
        let Some(user) = user else {
            return Err(refused("unknown, revoked or expired API key"));
        };
        let role = parse_role(&user.role)
            .ok_or_else(|| ApiError::Internal(format!("user {} has an unknown role", user.id)))?;
        Ok(Caller {
            actor: Actor {
                id: user.id,
                role,
                office: user.office,
                country: user.country,
                supervisor: user.supervisor,
            },
        })
    }
}
