-- The person vault (issue 12). Personal data lives only here, encrypted: each case's data key
-- is stored wrapped by a key-encryption key (kek_id names which); each member's record is
-- sealed with the data key. Erasure empties `wrapped` (crypto-shredding) and deletes the
-- records and index entries.
CREATE TABLE case_keys (
    reference     TEXT PRIMARY KEY REFERENCES cases (reference),
    kek_id        TEXT NOT NULL,
    wrapped       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    rewrapped_at  TEXT,
    erased_at     TEXT
);
CREATE INDEX case_keys_kek ON case_keys (kek_id);

CREATE TABLE people (
    reference   TEXT NOT NULL REFERENCES cases (reference),
    member      INTEGER NOT NULL,
    sealed      TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (reference, member)
);

-- The blind index: keyed HMACs of normalised names with birth dates, and of document numbers.
CREATE TABLE person_index (
    digest     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    reference  TEXT NOT NULL REFERENCES cases (reference),
    member     INTEGER NOT NULL,
    PRIMARY KEY (digest, reference, member)
);
CREATE INDEX person_index_case ON person_index (reference, member);
