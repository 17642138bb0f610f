-- What the network answered for the outbox, and when: a record appended for the rows an
-- answer moves out of 'pending', in the transaction that moves them, never changed or
-- deleted. One record covers a key range (`sale_seq, idx` to `last_sale_seq, last_idx`,
-- inclusive; one row when they are equal): the sync task writes a run of plain 'sent'
-- answers as one update of its key range, which moves exactly the range's rows still
-- pending, and records it as one record, not 500 (a record per slip cost the sync drain a
-- fifth of its rate). A row's state is the one the first record covering it says; a later
-- range passes over the rows already answered, as its update did.
--
-- The records are hash-chained like the sales (`record.rs`: SHA-256 over the previous
-- record's hash and this one's fields, seq included), and
-- `meta.verdict_head_seq/verdict_head_hash` catch a deleted last record. So
-- `journal verify` proves every state the outbox shows: 'pending' without a covering
-- record, else the first covering record's state (states only move forward, once). The
-- previous record's hash is not stored again in each row: it is the row before's `hash`.
--
-- Existing journals: the rows already out of 'pending' get their records when this
-- migration runs (Rust, `verdicts::record_existing`), with `answered_at` NULL: when the
-- network answered is not known.
CREATE TABLE verdicts (
    seq            INTEGER PRIMARY KEY NOT NULL,  -- 1, 2, 3 ... without gaps
    sale_seq       INTEGER NOT NULL,              -- the first outbox row it moved
    idx            INTEGER NOT NULL,
    last_sale_seq  INTEGER NOT NULL,              -- the last (the same row for one)
    last_idx       INTEGER NOT NULL,
    state          TEXT NOT NULL
                   CHECK (state = 'sent' OR state = 'conflict' OR state = 'rejected'),
    answered_at    INTEGER,                       -- unix milliseconds; NULL: not known
    detail         TEXT,                          -- the network's reason, if it gave one
    hash           TEXT NOT NULL                  -- SHA-256 of the previous hash and this record
) STRICT;

INSERT INTO meta (key, value) VALUES
    ('verdict_head_seq', '0'),
    ('verdict_head_hash', '');
