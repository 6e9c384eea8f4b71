-- A supervisor's (and an auditor's) view of an office's open tasks, every role, earliest due
-- first: without it the inbox sorts the office's rows (93 ms p50 at 1,000,000 rows on
-- PostgreSQL, docs/BENCHMARKS.md).
CREATE INDEX open_tasks_office ON open_tasks (host_country, due_at, reference, task_id);
