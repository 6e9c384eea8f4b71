-- Delivery receipts from the notification gateway (issue "Partner messages"): what became of each
-- message, by its idempotency key (`<ref>:<template>:<n>[:officer]`). No recipient, no text:
-- the key names the case and the notice; the latest receipt wins.
CREATE TABLE message_receipts (
    idempotency_key  TEXT PRIMARY KEY,
    reference        TEXT NOT NULL,
    delivery         TEXT NOT NULL,
    error_code       TEXT,
    received_at      TEXT NOT NULL
);
CREATE INDEX message_receipts_case ON message_receipts (reference);
