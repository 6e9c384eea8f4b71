-- Foundation tables. Timestamps are RFC 3339 UTC text (`2026-11-28T20:57:00.000000Z`) so the
-- same queries run on SQLite and PostgreSQL through sqlx's Any driver and sort correctly.

-- One row per case: what lists, inboxes and statistics read. No personal data here.
CREATE TABLE cases (
    reference       TEXT PRIMARY KEY,
    workflow_id     TEXT NOT NULL UNIQUE,
    programme       TEXT NOT NULL,
    host_country    TEXT NOT NULL,
    origin_country  TEXT NOT NULL,
    household_size  INTEGER NOT NULL,
    stage           TEXT NOT NULL,
    opened_at       TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX cases_stage ON cases (stage);
CREATE INDEX cases_programme ON cases (programme);

-- Personal data, kept apart so it can be encrypted (key_version) and purged on its own.
CREATE TABLE case_personal_data (
    reference    TEXT PRIMARY KEY REFERENCES cases (reference),
    key_version  INTEGER NOT NULL DEFAULT 0,
    payload      TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- Append-only record of every decision and state change: who, what, when, outcome.
CREATE TABLE audit_events (
    id           BIGSERIAL PRIMARY KEY,
    case_ref     TEXT,
    actor        TEXT NOT NULL,
    role         TEXT NOT NULL,
    action       TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    detail       TEXT,
    occurred_at  TEXT NOT NULL
);
CREATE INDEX audit_events_case ON audit_events (case_ref, id);

CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    office      TEXT,
    created_at  TEXT NOT NULL
);

-- API keys are stored as SHA-256 hashes of 256-bit random secrets; the secret is shown once.
CREATE TABLE api_keys (
    key_hash    TEXT PRIMARY KEY,
    prefix      TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX api_keys_user ON api_keys (user_id);
