-- Work management (issue "Work management"): the open-task projection the inbox reads, one
-- row per open task, written by each case when its tasks change (never older over newer: the
-- revision per case), rebuilt by `homeward reindex`; supervisors per office.
CREATE TABLE task_revisions (
    reference  TEXT PRIMARY KEY,
    revision   BIGINT NOT NULL
);

CREATE TABLE open_tasks (
    reference       TEXT NOT NULL,
    task_id         INTEGER NOT NULL,
    task_type       TEXT NOT NULL,
    role            TEXT NOT NULL,
    host_country    TEXT NOT NULL,
    origin_country  TEXT NOT NULL,
    programme       TEXT NOT NULL,
    subject         INTEGER,
    opened_at       TEXT NOT NULL,
    -- '9999-12-31T00:00:00.000000Z' when the task has no due date (sorts last).
    due_at          TEXT NOT NULL,
    requested_by    TEXT,
    assignee        TEXT,
    claimed_at      TEXT,
    -- When the office's supervisors were told it is overdue (once per task).
    escalated_at    TEXT,
    PRIMARY KEY (reference, task_id)
);
-- The inbox: a role's queue in an office, earliest due first (keyset pagination).
CREATE INDEX open_tasks_queue ON open_tasks (host_country, role, due_at, reference, task_id);
-- One person's tasks.
CREATE INDEX open_tasks_holder ON open_tasks (assignee, due_at, reference, task_id);
-- The overdue sweep.
CREATE INDEX open_tasks_unescalated ON open_tasks (due_at) WHERE escalated_at IS NULL;

ALTER TABLE users ADD COLUMN supervisor INTEGER NOT NULL DEFAULT 0;
