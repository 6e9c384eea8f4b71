-- Restricted cases (issue "Protection pathways", trafficking victims): information on a victim
-- of trafficking is shared on a need-to-know basis. A restricted case is opened only by the
-- staff named on it (the officer who opened it, then whom they or a supervisor name), by the
-- office's supervisors, and by auditors; lists show it to others without its details. Every
-- naming and removal is also an audit row.
CREATE TABLE restricted_cases (
    reference   TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);
CREATE TABLE case_access (
    reference   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    granted_by  TEXT NOT NULL,
    granted_at  TEXT NOT NULL,
    PRIMARY KEY (reference, user_id)
);
