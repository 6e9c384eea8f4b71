-- Suppliers of in-kind reintegration support (issue "Partner messages…", payments): the
-- businesses an office buys from for a returnee (a landlord, a school, a tool seller). An
-- in-kind disbursement pays a supplier against an invoice; the workflow holds only the
-- supplier's id, and the payment activity reads its name and account here at call time. A
-- supplier is a business, not a returnee: its record is not personal data of a case.
CREATE TABLE suppliers (
    id          TEXT PRIMARY KEY,
    office      TEXT NOT NULL,
    name        TEXT NOT NULL,
    iban        TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX suppliers_office ON suppliers (office, name);
