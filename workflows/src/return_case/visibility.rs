//! Publishing the case for lists and inboxes (the contract is `crate::visibility`): stage, the
//! roles whose work waits and the next due date as search attributes (queried), the open
//! tasks as a memo (shown). Each is published only when it changed: every publication is a
//! history event. Runs recorded before `protected-decisions` published task types instead of
//! roles, and keep doing so to their end.

use chrono::{DateTime, Utc};
use temporalio_common::search_attributes::Timestamp;

use super::effects::Ctx;
use crate::tasks::Role;
use crate::visibility::keys::{
    HOST_KEY, NEXT_DUE_KEY, OPEN_TASKS_KEY, ORIGIN_KEY, PROGRAMME_KEY, STAGE_KEY, WAITING_ON_KEY,
};
use crate::visibility::{CaseMemo, INBOX_MEMO, NO_DEADLINE, TaskSummary};

/// What a run last published to visibility.
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    /// The search attributes that change: stage, roles waited on (or, in runs recorded
    /// before, task types), next due date.
    attributes: (String, Vec<String>, DateTime<Utc>),
    /// The memo: the open tasks.
    tasks: Vec<TaskSummary>,
}

/// Publishes what changed since the last publication of this run.
pub(super) fn refresh(ctx: &Ctx) {
    let (stage, tasks, previous) = ctx.state(|s| {
        (
            s.stage.as_str().to_owned(),
            s.tasks.iter().map(TaskSummary::from).collect::<Vec<_>>(),
            s.published.clone(),
        )
    });
    let roles_only = ctx.state(|s| s.patches.protected_decisions);
    let sequenced = ctx.state(|s| s.patches.child_sequence);
    let mut waiting: Vec<String> = tasks
        .iter()
        .map(|t| {
            if sequenced && t.task_type.singles_out_a_child() {
                // A role that waits only on a child's case (a child protection officer; the
                // partner before hand-over, for the family assessment) would single the child
                // out, and so would a consent stage that waits on nobody: listed as the
                // officer's case, awaiting the assessment (the inbox has the true role).
                Role::ReturnOfficer.as_str().to_owned()
            } else if roles_only {
                t.role.as_str().to_owned()
            } else {
                t.task_type.as_str().to_owned()
            }
        })
        .collect();
    waiting.sort();
    waiting.dedup();
    let due = tasks
        .iter()
        .filter_map(|t| t.due_at)
        .min()
        .unwrap_or_else(|| {
            DateTime::parse_from_rfc3339(NO_DEADLINE)
                .map(|d| d.with_timezone(&Utc))
                .unwrap_or_default()
        });
    let current = Published {
        attributes: (stage, waiting, due),
        tasks,
    };
    if previous.as_ref().map(|p| &p.attributes) != Some(&current.attributes) {
        let (stage, waiting, due) = current.attributes.clone();
        let mut updates = vec![
            STAGE_KEY.value_set(stage),
            if roles_only {
                WAITING_ON_KEY.value_set(waiting)
            } else {
                OPEN_TASKS_KEY.value_set(waiting)
            },
            NEXT_DUE_KEY.value_set(Timestamp::new(
                due.timestamp(),
                i32::try_from(due.timestamp_subsec_nanos()).unwrap_or(0),
            )),
        ];
        if previous.is_none() && roles_only {
            // A case continued from a run that published task types carries them over.
            updates.push(OPEN_TASKS_KEY.value_set(Vec::new()));
        }
        if previous.is_none() {
            let (programme, host, origin) = ctx.state(|s| {
                (
                    s.case.intake.programme.to_string(),
                    s.case.intake.host_country.to_string(),
                    s.case.intake.origin_country.to_string(),
                )
            });
            updates.push(PROGRAMME_KEY.value_set(programme));
            updates.push(HOST_KEY.value_set(host));
            updates.push(ORIGIN_KEY.value_set(origin));
        }
        ctx.upsert_search_attributes(updates);
    }
    if previous.as_ref().map(|p| &p.tasks) != Some(&current.tasks) {
        // Serialising plain summaries cannot fail; were it to, only the inbox entry goes stale.
        let memo = CaseMemo {
            opened_at: ctx.state(|s| s.case.opened_at),
            open_tasks: current.tasks.clone(),
        };
        let _ = ctx.upsert_memo([(INBOX_MEMO, Some(temporalio_common::MemoValue::new(memo)))]);
    }
    ctx.state_mut(|s| s.published = Some(current));
}
