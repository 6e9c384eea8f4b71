//! `homeward reindex`: rebuilds the open-task projection from the engine, for a restored or
//! lost case store, or for cases whose runs were recorded before cases wrote their own tasks.
//! Every open ReturnCase is listed from visibility and asked for its view (a query: it wakes
//! no case and changes nothing); its tasks are written under the case's own revision, so a
//! newer write by the case itself is never overwritten; rows of cases no longer open go.

use anyhow::Context;
use temporalio_client::grpc::WorkflowService;
use temporalio_client::tonic::IntoRequest;
use temporalio_client::{Client, NamespacedClient, WorkflowQueryOptions};
use temporalio_common::protos::temporal::api::workflowservice::v1::ListWorkflowExecutionsRequest;

use homeward_activities::CaseStore;
use homeward_workflows::domain::CaseRef;
use homeward_workflows::ids::return_case_workflow_id;
use homeward_workflows::return_case::ReturnCase;
use homeward_workflows::work::TaskProjection;

/// What a rebuild did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reindexed {
    /// Open cases found.
    pub cases: usize,
    /// Cases whose rows were written (the rest were current already).
    pub written: usize,
    /// Open tasks among them.
    pub tasks: usize,
    /// Rows dropped for cases no longer open.
    pub dropped: u64,
}

/// Every open case's reference, from visibility.
async fn open_cases(client: &Client) -> anyhow::Result<Vec<CaseRef>> {
    let mut token = Vec::new();
    let mut refs = Vec::new();
    loop {
        let mut c = client.clone();
        let request = ListWorkflowExecutionsRequest {
            namespace: c.namespace(),
            page_size: 1000,
            next_page_token: token,
            query: "WorkflowType = 'ReturnCase' AND ExecutionStatus = 'Running'".into(),
        }
        .into_request();
        let page = c
            .list_workflow_executions(request)
            .await
            .context("failed to list the open cases")?
            .into_inner();
        for info in &page.executions {
            if let Some(id) = info.execution.as_ref().map(|e| e.workflow_id.as_str())
                && let Some(r) = id
                    .strip_prefix(homeward_workflows::ids::RETURN_CASE_PREFIX)
                    .and_then(|r| CaseRef::parse(r).ok())
            {
                refs.push(r);
            }
        }
        if page.next_page_token.is_empty() {
            refs.sort();
            refs.dedup();
            return Ok(refs);
        }
        token = page.next_page_token;
    }
}

/// Rebuilds the projection (see the module's description).
pub async fn rebuild(client: &Client, store: &CaseStore) -> anyhow::Result<Reindexed> {
    let open = open_cases(client).await?;
    let mut done = Reindexed {
        cases: open.len(),
        ..Reindexed::default()
    };
    for reference in &open {
        let view = match client
            .get_workflow_handle::<ReturnCase>(return_case_workflow_id(reference))
            .query(ReturnCase::view, (), WorkflowQueryOptions::default())
            .await
        {
            Ok(v) => v,
            // Closed between the list and the query: its rows go below, with the others.
            Err(temporalio_client::errors::WorkflowQueryError::NotFound(_)) => continue,
            Err(e) => return Err(e).with_context(|| format!("failed to query {reference}")),
        };
        let tasks = if view.closure.is_some() {
            &[][..]
        } else {
            &view.tasks[..]
        };
        let projection =
            TaskProjection::of(&view.reference, &view.intake, tasks, view.tasks_revision);
        if store.project_tasks(&projection).await? {
            done.written += 1;
        }
        done.tasks += projection.tasks.len();
    }
    // Rows of cases not listed as open: dropped once the case says it is closed (or is gone);
    // a case opened since the list keeps the rows it wrote itself.
    for reference in store.cases_with_tasks().await? {
        if open.binary_search(&reference).is_ok() {
            continue;
        }
        let closed = match client
            .get_workflow_handle::<ReturnCase>(return_case_workflow_id(&reference))
            .query(ReturnCase::view, (), WorkflowQueryOptions::default())
            .await
        {
            Ok(view) => view.closure.is_some(),
            Err(temporalio_client::errors::WorkflowQueryError::NotFound(_)) => true,
            Err(e) => return Err(e).with_context(|| format!("failed to query {reference}")),
        };
        if closed {
            done.dropped += store.drop_tasks_of(&reference).await?;
        }
    }
    Ok(done)
}
