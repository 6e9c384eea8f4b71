//! The contract between a case and whoever lists cases without waking them (the API's lists
//! and inbox, the dev server, the benchmark): the search attributes a case publishes (names
//! and types, registered once from [`SEARCH_ATTRIBUTES`]) and the memo that shows its open
//! tasks. Defined here once; nothing else spells an attribute's name.
//!
//! Nothing here identifies a person or singles out a vulnerability: stages, the roles whose
//! work waits, programme, countries and due dates. Task types stay in the memo (and, once a
//! payload codec encrypts it, out of the server's plain sight).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use temporalio_common::search_attributes::{SearchAttributeKey, Timestamp};

use crate::domain::Stage;
use crate::tasks::{Role, Task, TaskType};

/// The stage a case is at (keyword).
pub const STAGE: &str = "HomewardStage";
/// Its programme (keyword).
pub const PROGRAMME: &str = "HomewardProgramme";
/// Its host country, the office (keyword).
pub const HOST_COUNTRY: &str = "HomewardHostCountry";
/// Its country of origin (keyword).
pub const ORIGIN_COUNTRY: &str = "HomewardOriginCountry";
/// The roles whose work waits on the case (keyword list).
pub const WAITING_ON: &str = "HomewardWaitingOn";
/// The open task types, as runs recorded before `protected-decisions` published them (keyword
/// list; such runs are found by it until they end, new runs empty it).
pub const OPEN_TASKS_RECORDED: &str = "HomewardOpenTasks";
/// The earliest due date among its open tasks, or [`NO_DEADLINE`] (datetime).
pub const NEXT_DUE: &str = "HomewardNextDue";

/// How a search attribute is indexed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An exact-match string.
    Keyword,
    /// A list of exact-match strings.
    KeywordList,
    /// A point in time.
    Datetime,
}

impl Kind {
    /// The name the Temporal CLI takes (`--search-attribute Name=Kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Keyword => "Keyword",
            Kind::KeywordList => "KeywordList",
            Kind::Datetime => "Datetime",
        }
    }
}

/// Every custom search attribute, for registration with a server.
pub const SEARCH_ATTRIBUTES: [(&str, Kind); 7] = [
    (STAGE, Kind::Keyword),
    (PROGRAMME, Kind::Keyword),
    (HOST_COUNTRY, Kind::Keyword),
    (ORIGIN_COUNTRY, Kind::Keyword),
    (OPEN_TASKS_RECORDED, Kind::KeywordList),
    (WAITING_ON, Kind::KeywordList),
    (NEXT_DUE, Kind::Datetime),
];

/// Typed keys, for the workflow's upserts.
pub mod keys {
    use super::*;
    /// [`STAGE`].
    pub const STAGE_KEY: SearchAttributeKey<String> = SearchAttributeKey::keyword(STAGE);
    /// [`PROGRAMME`].
    pub const PROGRAMME_KEY: SearchAttributeKey<String> = SearchAttributeKey::keyword(PROGRAMME);
    /// [`HOST_COUNTRY`].
    pub const HOST_KEY: SearchAttributeKey<String> = SearchAttributeKey::keyword(HOST_COUNTRY);
    /// [`ORIGIN_COUNTRY`].
    pub const ORIGIN_KEY: SearchAttributeKey<String> = SearchAttributeKey::keyword(ORIGIN_COUNTRY);
    /// [`OPEN_TASKS_RECORDED`].
    pub const OPEN_TASKS_KEY: SearchAttributeKey<Vec<String>> =
        SearchAttributeKey::keyword_list(OPEN_TASKS_RECORDED);
    /// [`WAITING_ON`].
    pub const WAITING_ON_KEY: SearchAttributeKey<Vec<String>> =
        SearchAttributeKey::keyword_list(WAITING_ON);
    /// [`NEXT_DUE`].
    pub const NEXT_DUE_KEY: SearchAttributeKey<Timestamp> = SearchAttributeKey::datetime(NEXT_DUE);
}

/// `HomewardNextDue` of a case with no dated task. The server refuses to unset a Datetime
/// attribute, and a stale date would make the case look overdue; "never" keeps
/// `HomewardNextDue < now` exact.
pub const NO_DEADLINE: &str = "2999-12-31T00:00:00Z";

/// The memo key under which a case publishes its open tasks for inbox listings.
pub const INBOX_MEMO: &str = "homeward_open_tasks";

/// What a case publishes in its memo for lists and inboxes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseMemo {
    /// When the case was opened (a continued run starts later).
    pub opened_at: DateTime<Utc>,
    /// Its open tasks.
    pub open_tasks: Vec<TaskSummary>,
}

/// What an inbox shows of an open task: what, for whom, by when. Published in the workflow's
/// memo, so carries no personal data and no free text (a partner's message stays in the case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TaskSummary {
    /// Unique within the case.
    pub id: u32,
    /// What is asked.
    pub task_type: TaskType,
    /// The stage that opened it.
    pub stage: Stage,
    /// Who may complete it.
    pub role: Role,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// When it is due.
    pub due_at: Option<DateTime<Utc>>,
    /// Who asked for it: they may not complete it (four-eyes).
    pub requested_by: Option<String>,
}

impl From<&Task> for TaskSummary {
    fn from(t: &Task) -> Self {
        Self {
            id: t.id,
            task_type: t.task_type,
            stage: t.stage,
            role: t.role,
            opened_at: t.opened_at,
            due_at: t.due_at,
            requested_by: t.requested_by.clone(),
        }
    }
}
