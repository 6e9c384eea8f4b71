//! Work management: who holds a task, and the open-task projection the inbox reads.
//!
//! A task belongs to a role in an office (or to the partner a case was handed over to) until
//! someone takes it: they *claim* it, or a supervisor *assigns* it to a colleague; whoever holds
//! it may *release* it. One Update, `assign_task`, does all three (`assignee`: the actor
//! themselves, someone else, or nobody); [`check_assignment`] is its validator. While a task is
//! held, only its holder or a supervisor may complete it ([`check_holder`]).
//!
//! The case writes its open tasks to the case store ([`TaskProjection`], one row per task),
//! numbered by a revision that only grows, so a late or replayed write never overwrites a newer
//! one; `homeward reindex` builds the same rows from the case's query.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{CaseRef, Intake};
use crate::tasks::{Actor, RejectionCode, Role, Task, TaskRejection, TaskType};

/// Who should hold a task, as submitted through the `assign_task` Update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskAssignment {
    /// The task.
    pub task_id: u32,
    /// Who asks (authenticated by the API).
    pub actor: Actor,
    /// The new holder: the actor (a claim), a colleague (an assignment; the API checked they
    /// exist, in this office, with the task's role), or nobody (a release).
    pub assignee: Option<String>,
}

impl TaskAssignment {
    /// What the assignment does, for the audit trail.
    pub fn action(&self) -> &'static str {
        match &self.assignee {
            None => "task_released",
            Some(a) if *a == self.actor.id => "task_claimed",
            Some(_) => "task_assigned",
        }
    }
}

fn rejection(code: RejectionCode, message: impl Into<String>) -> TaskRejection {
    TaskRejection::new(code, message)
}

/// The validator of `assign_task`: the task is open; a claim is by someone of the task's role
/// who did not request it (four-eyes) and does not take it from a colleague unless a
/// supervisor; assigning to someone else or releasing a colleague's task needs a supervisor of
/// the office (any staff role); anyone may release their own.
pub fn check_assignment(tasks: &[Task], a: &TaskAssignment) -> Result<(), TaskRejection> {
    let task = tasks.iter().find(|t| t.id == a.task_id).ok_or_else(|| {
        rejection(
            RejectionCode::TaskNotOpen,
            format!("task {} is not open", a.task_id),
        )
    })?;
    let actor = &a.actor;
    let supervises = actor.supervisor && actor.role != Role::Partner;
    let holder = task.assignee.as_deref();
    match a.assignee.as_deref() {
        Some(me) if me == actor.id => {
            if actor.role != task.role {
                return Err(rejection(
                    RejectionCode::WrongRole,
                    format!(
                        "a {} task can only be taken by {}",
                        task.task_type,
                        task.role.as_str()
                    ),
                ));
            }
            if task.requested_by.as_deref() == Some(me) {
                return Err(rejection(
                    RejectionCode::FourEyes,
                    "whoever requested an approval cannot take it",
                ));
            }
            match holder {
                Some(h) if h != me && !supervises => Err(claimed(task, h)),
                _ => Ok(()),
            }
        }
        Some(other) => {
            if !supervises {
                return Err(rejection(
                    RejectionCode::WrongRole,
                    "only a supervisor can assign a task to someone else",
                ));
            }
            if task.requested_by.as_deref() == Some(other) {
                return Err(rejection(
                    RejectionCode::FourEyes,
                    "whoever requested an approval cannot be given it",
                ));
            }
            Ok(())
        }
        None => match holder {
            Some(h) if h != actor.id && !supervises => Err(rejection(
                RejectionCode::WrongRole,
                format!(
                    "task {} is held by a colleague ({h}); only they or a supervisor can release it",
                    task.id
                ),
            )),
            _ if actor.role != task.role && !supervises => Err(rejection(
                RejectionCode::WrongRole,
                format!("a {} task is not yours to release", task.task_type),
            )),
            _ => Ok(()),
        },
    }
}

fn claimed(task: &Task, holder: &str) -> TaskRejection {
    rejection(
        RejectionCode::Claimed,
        format!(
            "task {} is held by a colleague ({holder}); ask them or a supervisor to release it",
            task.id
        ),
    )
}

/// A held task may be completed only by its holder or a supervisor.
pub fn check_holder(task: &Task, actor: &Actor) -> Result<(), TaskRejection> {
    match task.assignee.as_deref() {
        Some(h) if h != actor.id && !actor.supervisor => Err(claimed(task, h)),
        _ => Ok(()),
    }
}

/// Applies an accepted assignment to the case's tasks.
pub fn apply(tasks: &mut [Task], a: &TaskAssignment, at: DateTime<Utc>) {
    if let Some(task) = tasks.iter_mut().find(|t| t.id == a.task_id)
        && task.assignee != a.assignee
    {
        task.claimed_at = a.assignee.as_ref().map(|_| at);
        task.assignee = a.assignee.clone();
    }
}

/// One open task, as the inbox reads it. No personal data: the subject is a member's index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenTaskRow {
    /// The task number within the case.
    pub task_id: u32,
    /// What is asked.
    pub task_type: TaskType,
    /// Who may complete it.
    pub role: Role,
    /// The member, tranche or follow-up it concerns.
    pub subject: Option<u32>,
    /// When it opened.
    pub opened_at: DateTime<Utc>,
    /// When it is due.
    pub due_at: Option<DateTime<Utc>>,
    /// Who asked for it (four-eyes).
    pub requested_by: Option<String>,
    /// Who holds it.
    pub assignee: Option<String>,
    /// Since when.
    pub claimed_at: Option<DateTime<Utc>>,
}

/// A case's open tasks at one revision: what the case store keeps for the inbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskProjection {
    /// The case.
    pub reference: CaseRef,
    /// Grows with every change of the case's tasks; an older write is ignored.
    pub revision: u64,
    /// The office (host country).
    pub host_country: String,
    /// The country of origin (a partner's tasks are found by it).
    pub origin_country: String,
    /// The programme (its overdue grace applies).
    pub programme: String,
    /// Every open task; none once the case closed.
    pub tasks: Vec<OpenTaskRow>,
}

impl TaskProjection {
    /// The projection of a case's open tasks (the workflow's state, or its query's answer;
    /// pass none for a closed case).
    pub fn of(reference: &CaseRef, intake: &Intake, tasks: &[Task], revision: u64) -> Self {
        Self {
            reference: reference.clone(),
            revision,
            host_country: intake.host_country.to_string(),
            origin_country: intake.origin_country.to_string(),
            programme: intake.programme.to_string(),
            tasks: rows(tasks),
        }
    }
}

/// The rows of these open tasks.
pub fn rows(tasks: &[Task]) -> Vec<OpenTaskRow> {
    tasks
        .iter()
        .map(|t| OpenTaskRow {
            task_id: t.id,
            task_type: t.task_type,
            role: t.role,
            subject: t.subject,
            opened_at: t.opened_at,
            due_at: t.due_at,
            requested_by: t.requested_by.clone(),
            assignee: t.assignee.clone(),
            claimed_at: t.claimed_at,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Stage;
    use chrono::TimeZone;

    fn task(role: Role, requested_by: Option<&str>, assignee: Option<&str>) -> Task {
        Task {
            id: 1,
            task_type: match role {
                Role::Finance => TaskType::TrancheApproval,
                Role::Partner => TaskType::ArrivalConfirmation,
                _ => TaskType::EligibilityApproval,
            },
            stage: Stage::Consent,
            role,
            opened_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            due_at: None,
            requested_by: requested_by.map(str::to_owned),
            subject: None,
            note: None,
            assignee: assignee.map(str::to_owned),
            claimed_at: None,
        }
    }

    fn actor(id: &str, role: Role, supervisor: bool) -> Actor {
        Actor {
            id: id.into(),
            role,
            office: Some("NLD".into()),
            country: None,
            supervisor,
        }
    }

    fn assign(by: &Actor, to: Option<&str>) -> TaskAssignment {
        TaskAssignment {
            task_id: 1,
            actor: by.clone(),
            assignee: to.map(str::to_owned),
        }
    }

    fn code(r: Result<(), TaskRejection>) -> Option<RejectionCode> {
        r.err().map(|e| e.code)
    }

    #[test]
    fn a_claim_is_by_the_tasks_role_not_the_requester_and_not_over_a_colleague() {
        let ann = actor("u-ann", Role::Operations, false);
        let pool = [task(Role::Operations, Some("u-bob"), None)];
        assert_eq!(
            code(check_assignment(&pool, &assign(&ann, Some("u-ann")))),
            None
        );
        let officer = actor("u-oli", Role::ReturnOfficer, false);
        assert_eq!(
            code(check_assignment(&pool, &assign(&officer, Some("u-oli")))),
            Some(RejectionCode::WrongRole)
        );
        let bob = actor("u-bob", Role::Operations, false);
        assert_eq!(
            code(check_assignment(&pool, &assign(&bob, Some("u-bob")))),
            Some(RejectionCode::FourEyes)
        );
        let held = [task(Role::Operations, None, Some("u-cat"))];
        assert_eq!(
            code(check_assignment(&held, &assign(&ann, Some("u-ann")))),
            Some(RejectionCode::Claimed)
        );
        // Claiming what one holds already changes nothing and is accepted.
        let mine = [task(Role::Operations, None, Some("u-ann"))];
        assert_eq!(
            code(check_assignment(&mine, &assign(&ann, Some("u-ann")))),
            None
        );
        // A supervisor of the role may take it over.
        let sue = actor("u-sue", Role::Operations, true);
        assert_eq!(
            code(check_assignment(&held, &assign(&sue, Some("u-sue")))),
            None
        );
        assert_eq!(
            code(check_assignment(&[], &assign(&ann, Some("u-ann")))),
            Some(RejectionCode::TaskNotOpen)
        );
    }

    #[test]
    fn only_a_supervisor_assigns_to_others_or_releases_a_colleagues_task() {
        let ann = actor("u-ann", Role::Operations, false);
        let sue = actor("u-sue", Role::ReturnOfficer, true);
        let pool = [task(Role::Operations, Some("u-bob"), None)];
        assert_eq!(
            code(check_assignment(&pool, &assign(&ann, Some("u-cat")))),
            Some(RejectionCode::WrongRole)
        );
        // A supervisor of the office, of any staff role, assigns; never to the requester.
        assert_eq!(
            code(check_assignment(&pool, &assign(&sue, Some("u-cat")))),
            None
        );
        assert_eq!(
            code(check_assignment(&pool, &assign(&sue, Some("u-bob")))),
            Some(RejectionCode::FourEyes)
        );
        let held = [task(Role::Operations, None, Some("u-cat"))];
        assert_eq!(
            code(check_assignment(&held, &assign(&ann, None))),
            Some(RejectionCode::WrongRole)
        );
        assert_eq!(code(check_assignment(&held, &assign(&sue, None))), None);
        let cat = actor("u-cat", Role::Operations, false);
        assert_eq!(code(check_assignment(&held, &assign(&cat, None))), None);
        // A partner is never a supervisor of an office.
        let partner = actor("u-par", Role::Partner, true);
        let arrival = [task(Role::Partner, None, Some("u-pat"))];
        assert_eq!(
            code(check_assignment(&arrival, &assign(&partner, Some("u-x")))),
            Some(RejectionCode::WrongRole)
        );
    }

    #[test]
    fn a_held_task_is_completed_only_by_its_holder_or_a_supervisor() {
        let held = task(Role::Finance, None, Some("u-fay"));
        assert!(check_holder(&held, &actor("u-fay", Role::Finance, false)).is_ok());
        assert_eq!(
            code(check_holder(&held, &actor("u-fin", Role::Finance, false))),
            Some(RejectionCode::Claimed)
        );
        assert!(check_holder(&held, &actor("u-sup", Role::Finance, true)).is_ok());
        assert!(
            check_holder(
                &task(Role::Finance, None, None),
                &actor("u-fin", Role::Finance, false)
            )
            .is_ok()
        );
    }

    #[test]
    fn applying_records_the_holder_and_since_when_and_a_release_clears_both() {
        let at = Utc.with_ymd_and_hms(2026, 2, 1, 9, 0, 0).unwrap();
        let ann = actor("u-ann", Role::Operations, false);
        let mut tasks = vec![task(Role::Operations, None, None)];
        apply(&mut tasks, &assign(&ann, Some("u-ann")), at);
        assert_eq!(tasks[0].assignee.as_deref(), Some("u-ann"));
        assert_eq!(tasks[0].claimed_at, Some(at));
        apply(&mut tasks, &assign(&ann, None), at);
        assert_eq!(
            (tasks[0].assignee.clone(), tasks[0].claimed_at),
            (None, None)
        );
        assert_eq!(assign(&ann, None).action(), "task_released");
        assert_eq!(assign(&ann, Some("u-ann")).action(), "task_claimed");
        assert_eq!(assign(&ann, Some("u-x")).action(), "task_assigned");
    }
}
