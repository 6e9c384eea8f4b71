//! Lists of cases from Temporal's visibility store: each ReturnCase publishes its stage,
//! programme, countries, the roles whose work waits and next due date as search attributes
//! (what can be filtered; never task types, which can single out a child or a medical case)
//! and its open tasks as a memo (what is shown). One list call answers a page; no
//! workflow is queried and none is woken up.
//!
//! Every value put into a query has been parsed into a domain type first (a stage, a country
//! code, a task type), so none can carry quotes or query syntax.

use chrono::{DateTime, Utc};
use serde::Serialize;
use temporalio_client::NamespacedClient;
use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::{Code, IntoRequest};
use temporalio_common::protos::temporal::api::common::v1::Payload;
use temporalio_common::protos::temporal::api::workflow::v1::WorkflowExecutionInfo;
use temporalio_common::protos::temporal::api::workflowservice::v1::ListWorkflowExecutionsRequest;

use homeward_activities::codec::PayloadCodecKeys;
use homeward_workflows::domain::CaseRef;
use homeward_workflows::ids::RETURN_CASE_PREFIX;
use homeward_workflows::visibility::{self as sa, CaseMemo, INBOX_MEMO, TaskSummary};

use crate::error::ApiError;
use crate::state::AppState;

/// One case as a list shows it: codes and dates, no personal data.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseSummary {
    /// The case's public reference.
    pub reference: CaseRef,
    /// `open` while its workflow runs, `closed` after.
    pub status: &'static str,
    /// The stage it last published.
    pub stage: Option<String>,
    /// Its programme.
    pub programme: Option<String>,
    /// Host country (the office).
    pub host_country: Option<String>,
    /// Country of origin.
    pub origin_country: Option<String>,
    /// When the case was opened (its first run started).
    pub opened_at: Option<DateTime<Utc>>,
    /// The earliest due date among its open tasks.
    pub next_due: Option<DateTime<Utc>>,
    /// Its open tasks.
    pub open_tasks: Vec<TaskSummary>,
    /// A restricted case (named staff only; absent: not restricted).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restricted: bool,
}

impl CaseSummary {
    /// The case as a list shows it to someone not named on it: its reference, status and
    /// stage, and that it is restricted.
    pub fn redacted(self) -> Self {
        Self {
            programme: None,
            origin_country: None,
            opened_at: None,
            next_due: None,
            open_tasks: Vec::new(),
            restricted: true,
            ..self
        }
    }
}

/// One page of a list and the token of the next, if any.
#[derive(Debug, Clone)]
pub struct Page {
    /// The cases on this page.
    pub cases: Vec<CaseSummary>,
    /// Opaque; pass it back for the next page.
    pub next_page_token: Option<String>,
}

/// Quotes a value that was parsed into a domain type (so holds no quote of its own).
pub fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', ""))
}

/// Lists one page of ReturnCase workflows matching `filter` (a visibility query, or empty).
pub async fn list_page(
    state: &AppState,
    filter: &str,
    page_size: i32,
    page_token: Option<&str>,
) -> Result<Page, ApiError> {
    let mut query = String::from("WorkflowType = 'ReturnCase'");
    if !filter.is_empty() {
        query.push_str(" AND ");
        query.push_str(filter);
    }
    let next_page_token = match page_token {
        Some(token) => open_token(state, token)
            .ok_or_else(|| ApiError::field("page_token", "is not a token this API gave out"))?,
        None => Vec::new(),
    };
    let mut client = state.temporal.clone();
    let request = ListWorkflowExecutionsRequest {
        namespace: client.namespace(),
        page_size,
        next_page_token,
        query,
    }
    .into_request();
    let response = client
        .list_workflow_executions(request)
        .await
        .map_err(|status| match status.code() {
            Code::InvalidArgument if page_token.is_some() => {
                ApiError::field("page_token", "is not a token this API gave out")
            }
            Code::InvalidArgument => {
                ApiError::Internal(format!("visibility query refused: {}", status.message()))
            }
            code => {
                tracing::warn!(?code, "temporal visibility unavailable");
                ApiError::Unavailable("the workflow engine is unavailable; retry later".into())
            }
        })?
        .into_inner();
    Ok(Page {
        cases: response
            .executions
            .iter()
            .filter_map(|info| summary(&state.payload_keys, info))
            .collect(),
        next_page_token: (!response.next_page_token.is_empty())
            .then(|| seal_token(state, &response.next_page_token)),
    })
}

/// What the page tokens this API hands out are signed for.
const PAGE_TOKEN: &str = "homeward-page-token-v1";

/// A page token for the client: Temporal's token and our tag over it, so a token we did not
/// give out is refused here instead of reaching (and confusing) the server.
pub(crate) fn seal_token(state: &AppState, raw: &[u8]) -> String {
    format!(
        "{}.{}",
        hex::encode(raw),
        hex::encode(state.decision_key.tag(PAGE_TOKEN, raw))
    )
}

/// Temporal's token inside one of ours, if it is one.
pub(crate) fn open_token(state: &AppState, token: &str) -> Option<Vec<u8>> {
    let (raw, tag) = token.split_once('.')?;
    let (raw, tag) = (hex::decode(raw).ok()?, hex::decode(tag).ok()?);
    state
        .decision_key
        .check_tag(PAGE_TOKEN, &raw, &tag)
        .then_some(raw)
}

/// Every case matching `filter`, page after page, up to `cap`; `true` if the cap cut it short.
pub async fn list_all(
    state: &AppState,
    filter: &str,
    cap: usize,
) -> Result<(Vec<CaseSummary>, bool), ApiError> {
    let mut cases = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = list_page(state, filter, 1000, token.as_deref()).await?;
        cases.extend(page.cases);
        if cases.len() >= cap {
            cases.truncate(cap);
            return Ok((cases, page.next_page_token.is_some()));
        }
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => return Ok((cases, false)),
        }
    }
}

fn keyword(info: &WorkflowExecutionInfo, name: &str) -> Option<String> {
    let payload = info.search_attributes.as_ref()?.indexed_fields.get(name)?;
    serde_json::from_slice(&payload.data).ok()
}

/// A memo payload's JSON, decrypted through the payload codec first (a memo written before
/// the codec passes through).
fn json<T: serde::de::DeserializeOwned>(keys: &PayloadCodecKeys, payload: &Payload) -> Option<T> {
    let plain = keys.decode(payload.clone()).ok()?;
    serde_json::from_slice(&plain.data).ok()
}

fn summary(keys: &PayloadCodecKeys, info: &WorkflowExecutionInfo) -> Option<CaseSummary> {
    let workflow_id = &info.execution.as_ref()?.workflow_id;
    let reference = CaseRef::parse(workflow_id.strip_prefix(RETURN_CASE_PREFIX)?).ok()?;
    // Running = 1 in temporal.api.enums.v1.WorkflowExecutionStatus; continued-as-new runs are
    // not listed as separate cases (the query lists the latest run of each ID).
    let status = if info.status == 1 { "open" } else { "closed" };
    let memo: Option<CaseMemo> = info
        .memo
        .as_ref()
        .and_then(|m| m.fields.get(INBOX_MEMO))
        .and_then(|p| json(keys, p));
    let (opened_at, open_tasks) = match memo {
        Some(m) if status == "open" => (Some(m.opened_at), m.open_tasks),
        Some(m) => (Some(m.opened_at), Vec::new()),
        None => (None, Vec::new()),
    };
    let next_due = open_tasks.iter().filter_map(|t| t.due_at).min();
    Some(CaseSummary {
        reference,
        status,
        stage: keyword(info, sa::STAGE),
        programme: keyword(info, sa::PROGRAMME),
        host_country: keyword(info, sa::HOST_COUNTRY),
        origin_country: keyword(info, sa::ORIGIN_COUNTRY),
        opened_at,
        next_due,
        open_tasks,
        restricted: false,
    })
}
