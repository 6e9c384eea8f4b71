-- What M&E statistics and idempotent case opening read. Numbers and codes only, no personal data.

-- Every stage a case entered, when (workflow time): median days per stage.
CREATE TABLE case_stage_history (
    reference   TEXT NOT NULL REFERENCES cases (reference),
    stage       TEXT NOT NULL,
    entered_at  TEXT NOT NULL,
    PRIMARY KEY (reference, stage, entered_at)
);

-- One row per paid tranche: grants disbursed per currency.
CREATE TABLE grant_payments (
    reference     TEXT NOT NULL REFERENCES cases (reference),
    tranche       INTEGER NOT NULL,
    amount_minor  BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    paid_at       TEXT NOT NULL,
    PRIMARY KEY (reference, tranche)
);

-- One row per answered monitoring follow-up: RSS averages.
CREATE TABLE rss_scores (
    reference     TEXT NOT NULL REFERENCES cases (reference),
    follow_up     INTEGER NOT NULL,
    economic      DOUBLE PRECISION NOT NULL,
    social        DOUBLE PRECISION NOT NULL,
    psychosocial  DOUBLE PRECISION NOT NULL,
    composite     DOUBLE PRECISION NOT NULL,
    scored_at     TEXT NOT NULL,
    PRIMARY KEY (reference, follow_up)
);

-- Idempotency-Key of POST /api/v1/cases, per user (hashed: a client's key is opaque to us).
CREATE TABLE idempotency_keys (
    key_hash      TEXT PRIMARY KEY,
    request_hash  TEXT NOT NULL,
    reference     TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
