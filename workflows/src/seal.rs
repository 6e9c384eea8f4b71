//! Decision seals: the API signs every decision it sends a case, and the worker refuses a
//! decision without a valid seal, so Temporal is not the only trust boundary. Someone who can
//! reach the Temporal namespace directly (a leaked mTLS certificate, the Web UI's "update"
//! button) cannot invent an actor and close a case: they do not hold the decision key.
//!
//! A seal is an HMAC-SHA256 (RustCrypto `hmac` + `sha2`) over the workflow ID, the Update's
//! name, the time the API issued it, and a digest of the decision itself (its canonical JSON:
//! actor, task, outcome, reason). It travels in the Update's header [`SEAL_HEADER`], is checked
//! by [`DecisionGate`] (a workflow interceptor the worker registers with its key) before the
//! workflow's own validator runs, and is refused when missing, wrong, or more than
//! [`TOLERANCE`] away from workflow time. Validators do not run on replay, so recorded
//! decisions (sealed or from before seals existed) replay unchanged.
//!
//! Pure computation: no I/O, no clock (workflow time comes from the interceptor context).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_workflow::workflow_interceptors::{
    SyncWorkflowInterceptorContext, ValidateUpdateInput, ValidateUpdateResult, WorkflowInterceptor,
    WorkflowInterceptorConstructor, WorkflowNext,
};

use crate::return_case::{EarlyClosure, Withdrawal};
use crate::tasks::{RejectionCode, TaskCompletion, TaskRejection};

/// The Update header that carries a decision's seal.
pub const SEAL_HEADER: &str = "homeward-decision-seal";

/// How far a seal's issue time may be from workflow time: long enough for a queued Update,
/// short enough that a seal read from a history cannot be used again later.
pub const TOLERANCE: Duration = Duration::from_secs(300);

/// The key decisions are sealed with (32 random bytes; `keys.decisions`). Its `Debug` never
/// prints it.
#[derive(Clone)]
pub struct DecisionKey(Arc<[u8]>);

impl std::fmt::Debug for DecisionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecisionKey([REDACTED])")
    }
}

/// A seal as carried in the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    /// When the API issued the decision (its clock).
    pub issued_at: DateTime<Utc>,
    /// HMAC-SHA256, hex.
    pub tag: String,
}

/// Why a seal was refused (the message the validator answers with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// No seal header.
    #[error("the decision carries no seal: decisions are accepted only through the Homeward API")]
    Missing,
    /// A header that is not a seal.
    #[error("the decision's seal is malformed")]
    Malformed,
    /// Issued too long before (or after) workflow time.
    #[error("the decision's seal has expired; send the decision again")]
    Stale,
    /// The tag does not match: another key, or a changed decision.
    #[error("the decision's seal does not match the decision")]
    Mismatch,
    /// An Update this gate does not know how to check.
    #[error("the decision is of an unknown kind")]
    Unknown,
}

impl DecisionKey {
    /// The key from its bytes; at least 32 of them.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        (bytes.len() >= 32).then(|| Self(Arc::from(bytes)))
    }

    fn mac(
        &self,
        workflow_id: &str,
        update: &str,
        issued_at: DateTime<Utc>,
        digest: &[u8],
    ) -> Hmac<Sha256> {
        // HMAC takes keys of any length; `new_from_slice` cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for part in [
            b"homeward-decision-v1".as_slice(),
            workflow_id.as_bytes(),
            update.as_bytes(),
            issued_at.timestamp_micros().to_string().as_bytes(),
            digest,
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac
    }

    /// Seals `decision` (any of the decision Updates' inputs) for `update` on `workflow_id`.
    pub fn seal<T: Serialize>(
        &self,
        workflow_id: &str,
        update: &str,
        decision: &T,
        issued_at: DateTime<Utc>,
    ) -> Seal {
        let tag = self
            .mac(workflow_id, update, issued_at, &digest(decision))
            .finalize()
            .into_bytes();
        Seal {
            issued_at,
            tag: hex::encode(tag),
        }
    }

    /// Checks a seal against the decision and workflow time (constant-time compare).
    pub fn check<T: Serialize>(
        &self,
        workflow_id: &str,
        update: &str,
        decision: &T,
        seal: &Seal,
        now: DateTime<Utc>,
    ) -> Result<(), SealError> {
        let skew = (now - seal.issued_at).abs();
        if skew.to_std().map_or(true, |s| s > TOLERANCE) {
            return Err(SealError::Stale);
        }
        let tag = hex::decode(&seal.tag).map_err(|_| SealError::Malformed)?;
        self.mac(workflow_id, update, seal.issued_at, &digest(decision))
            .verify_slice(&tag)
            .map_err(|_| SealError::Mismatch)
    }

    /// An HMAC-SHA256 tag of `data` for another `purpose` than decisions (the API signs the
    /// list page tokens it hands out with it, so it can refuse a forged one at once).
    pub fn tag(&self, purpose: &str, data: &[u8]) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for part in [purpose.as_bytes(), data] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// Checks a tag made by [`DecisionKey::tag`] (constant time).
    pub fn check_tag(&self, purpose: &str, data: &[u8], tag: &[u8]) -> bool {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        for part in [purpose.as_bytes(), data] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.verify_slice(tag).is_ok()
    }

    /// The header payload carrying `seal`.
    pub fn header(seal: &Seal) -> Payload {
        Payload {
            metadata: [("encoding".to_owned(), b"json/plain".to_vec())].into(),
            data: serde_json::to_vec(seal).unwrap_or_default(),
            ..Default::default()
        }
    }
}

/// SHA-256 of the decision's canonical JSON (object keys sorted), so the API and the worker
/// compute the same digest for the same decision whatever the field order.
fn digest<T: Serialize>(decision: &T) -> Vec<u8> {
    let canonical = serde_json::to_value(decision)
        .and_then(|v| serde_json::to_vec(&v))
        .unwrap_or_default();
    Sha256::digest(canonical).to_vec()
}

/// The workflow interceptor that checks every decision Update's seal before the workflow's own
/// validator sees it. Registered by the worker with the configured key.
#[derive(Debug, Clone)]
pub struct DecisionGate {
    key: DecisionKey,
}

impl DecisionGate {
    /// The constructor the worker registers (`register_workflow_interceptors`).
    pub fn constructor(key: DecisionKey) -> WorkflowInterceptorConstructor {
        WorkflowInterceptorConstructor::new(move |_ctx| DecisionGate { key: key.clone() })
    }

    fn check(
        &self,
        ctx: &SyncWorkflowInterceptorContext,
        input: &ValidateUpdateInput,
    ) -> Result<(), SealError> {
        let header = input.headers().get(SEAL_HEADER).ok_or(SealError::Missing)?;
        let seal: Seal = serde_json::from_slice(&header.data).map_err(|_| SealError::Malformed)?;
        let now = ctx
            .workflow_time()
            .map(DateTime::<Utc>::from)
            .ok_or(SealError::Stale)?;
        let (id, name) = (ctx.workflow_id(), input.name());
        if let Some(d) = input.input_ref::<TaskCompletion>() {
            self.key.check(id, name, d, &seal, now)
        } else if let Some(d) = input.input_ref::<Withdrawal>() {
            self.key.check(id, name, d, &seal, now)
        } else if let Some(d) = input.input_ref::<EarlyClosure>() {
            self.key.check(id, name, d, &seal, now)
        } else if let Some(d) = input.input_ref::<crate::work::TaskAssignment>() {
            self.key.check(id, name, d, &seal, now)
        } else {
            Err(SealError::Unknown)
        }
    }
}

impl WorkflowInterceptor for DecisionGate {
    fn validate_update(
        &self,
        ctx: SyncWorkflowInterceptorContext,
        input: ValidateUpdateInput,
        next: WorkflowNext<'_, ValidateUpdateInput, ValidateUpdateResult>,
    ) -> ValidateUpdateResult {
        match self.check(&ctx, &input) {
            Ok(()) => next.run(input),
            Err(e) => {
                let rejection = TaskRejection::new(RejectionCode::Unsealed, e.to_string());
                let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(rejection);
                Err(boxed.into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::{Actor, Role, TaskOutcome};
    use chrono::TimeZone;

    fn key(byte: u8) -> DecisionKey {
        DecisionKey::new(&[byte; 32]).unwrap()
    }

    fn approval(actor: &str) -> TaskCompletion {
        TaskCompletion {
            task_id: 4,
            actor: Actor {
                id: actor.into(),
                role: Role::Operations,
                office: Some("NLD".into()),
                country: None,
                supervisor: false,
            },
            reason: String::new(),
            outcome: TaskOutcome::Approval { approved: true },
        }
    }

    #[test]
    fn a_seal_holds_only_for_its_decision_its_case_its_key_and_its_time() {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
        let d = approval("u-ops");
        let seal = key(1).seal("return-case-HW-1", "complete_task", &d, at);
        let check = |k: &DecisionKey, wf: &str, d: &TaskCompletion, now| {
            k.check(wf, "complete_task", d, &seal, now)
        };
        assert_eq!(check(&key(1), "return-case-HW-1", &d, at), Ok(()));
        let later = at + chrono::Duration::minutes(4);
        assert_eq!(check(&key(1), "return-case-HW-1", &d, later), Ok(()));
        let too_late = at + chrono::Duration::minutes(6);
        assert_eq!(
            check(&key(1), "return-case-HW-1", &d, too_late),
            Err(SealError::Stale)
        );
        assert_eq!(
            check(&key(2), "return-case-HW-1", &d, at),
            Err(SealError::Mismatch)
        );
        assert_eq!(
            check(&key(1), "return-case-HW-2", &d, at),
            Err(SealError::Mismatch)
        );
        // Another actor, or the same actor's decision with another outcome.
        assert_eq!(
            check(&key(1), "return-case-HW-1", &approval("u-nobody"), at),
            Err(SealError::Mismatch)
        );
        let mut refused = d.clone();
        refused.outcome = TaskOutcome::Approval { approved: false };
        assert_eq!(
            check(&key(1), "return-case-HW-1", &refused, at),
            Err(SealError::Mismatch)
        );
    }

    #[test]
    fn a_short_key_is_refused() {
        assert!(DecisionKey::new(&[0; 16]).is_none());
        assert!(!format!("{:?}", key(7)).contains('7'));
    }
}
