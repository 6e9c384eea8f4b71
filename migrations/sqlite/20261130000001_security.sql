-- Security fixes (issue 17). Codes and timestamps only; no personal data.

-- Audit rows the workflow writes itself (one per accepted decision) carry a key, so a retried
-- write records each decision once: `<ref>:decision:<n>`.
ALTER TABLE audit_events ADD COLUMN source_key TEXT;
CREATE UNIQUE INDEX audit_events_source_key ON audit_events (source_key);

-- A partner user works for an office (the host country that hands cases over) in a country of
-- origin.
ALTER TABLE users ADD COLUMN country TEXT;

-- Keys can expire, and show when they were last used.
ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;

-- Payment webhook events already acted on, by the provider's event id: a replayed event is
-- acknowledged and ignored.
CREATE TABLE webhook_events (
    event_id     TEXT PRIMARY KEY,
    received_at  TEXT NOT NULL
);
