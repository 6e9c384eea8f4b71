//! What every handler shares.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use temporalio_client::Client;

use homeward_activities::CaseStore;
use homeward_activities::codec::PayloadCodecKeys;
use homeward_activities::vault::Vault;
use homeward_workflows::domain::ProgrammeId;
use homeward_workflows::programme::ProgrammeRules;
use homeward_workflows::seal::DecisionKey;

use crate::limits::Limits;
use crate::metrics::ApiMetrics;

/// The state behind every route. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Starts, queries and updates workflows.
    pub temporal: Client,
    /// The case store: users and keys, the audit trail, the case projection (scope checks,
    /// statistics).
    pub store: CaseStore,
    /// The task queue new cases' workflows run on.
    pub task_queue: String,
    /// The largest request body accepted.
    pub max_body_bytes: usize,
    /// The app's own Prometheus metrics.
    pub metrics: ApiMetrics,
    /// Where the Temporal SDK runtime's Prometheus text is served, if this process runs one.
    pub sdk_metrics_addr: Option<SocketAddr>,
    /// Programme rules by id, as loaded at start-up; a new case pins the current version.
    pub programmes: Arc<BTreeMap<ProgrammeId, ProgrammeRules>>,
    /// The secret payment webhooks are signed with (`partners.webhook_secret`); without one
    /// the webhook refuses everything and pending payments are settled by polling alone.
    pub payment_webhook_secret: Option<Arc<str>>,
    /// Seals every decision sent to a case (`keys.decisions`); also signs the list page
    /// tokens this API hands out, so a forged one is refused at once.
    pub decision_key: DecisionKey,
    /// Rate limits, the failed-authentication back-off and the heavy-read gate.
    pub limits: Arc<Limits>,
    /// The payload codec's keys: memos read from visibility are decrypted with them, and the
    /// codec endpoints (`/codec/decode`) serve them to the Temporal Web UI.
    pub payload_keys: PayloadCodecKeys,
    /// The person vault: personal data, encrypted per case.
    pub vault: Vault,
    /// Origins allowed to call the codec endpoints from a browser (the Temporal Web UI).
    pub codec_origins: Arc<Vec<String>>,
    /// `homeward dev` only: the secret path segment of the codec endpoints it gives its own
    /// local Web UI (`/codec/dev/<token>`). `None` everywhere else.
    pub dev_codec_token: Option<Arc<str>>,
    /// Sign-in through the organisation's OpenID Connect provider (`web.oidc`), if configured.
    pub oidc: Option<Arc<crate::web::oidc::Oidc>>,
}
