-- Linked cases (issue "Families and groups that travel together"): cases of one family split
-- across cases, or of a group travelling together. Each link is stored in both directions, so
-- each case reads its own links with one indexed query; `departs_together` is the decision that
-- holds for both. Every link and unlink is also an audit row on both cases.
CREATE TABLE case_links (
    reference         TEXT NOT NULL,
    linked            TEXT NOT NULL,
    kind              TEXT NOT NULL,
    departs_together  INTEGER NOT NULL,
    created_by        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    PRIMARY KEY (reference, linked)
);
