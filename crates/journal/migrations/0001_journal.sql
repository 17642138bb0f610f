-- The register's journal: every completed sale, its slips, one outbox row per slip and one
-- print job per sale, all written in the sale's one transaction. Never edit this file once
-- released: a schema change is a new numbered file.

-- Facts about the journal itself: 'journal_id' (made once, at creation), 'created_at',
-- 'head_seq' and 'head_hash' (the last sale, so that deleting it is caught), and
-- 'replay:<log sha256>': where a replay of that scan log got to ('<offset> <line>
-- <finished> <state JSON>'), written in the same transaction as each sale it committed, so
-- a killed replay resumes exactly there. All in one small table: one page per commit.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

INSERT INTO meta (key, value) VALUES
    ('journal_id', lower(hex(randomblob(16)))),
    ('created_at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ('head_seq', '0'),
    ('head_hash', '');

CREATE TABLE sales (
    seq           INTEGER PRIMARY KEY NOT NULL,   -- 1, 2, 3 ... without gaps
    at            TEXT NOT NULL,                  -- RFC 3339, Japan time
    terminal      TEXT NOT NULL,
    store_code    TEXT NOT NULL,
    store_chain   TEXT,
    store_name    TEXT NOT NULL,
    total_yen     INTEGER NOT NULL CHECK (total_yen >= 0),
    tendered_yen  INTEGER NOT NULL CHECK (tendered_yen >= total_yen),
    change_yen    INTEGER NOT NULL CHECK (change_yen = tendered_yen - total_yen),
    prev_hash     TEXT NOT NULL,                  -- hash of seq - 1 (zeros for seq 1)
    hash          TEXT NOT NULL                   -- SHA-256 of prev_hash and the sale's content
) STRICT;

-- A slip's id ('<journal_id>-<seq>-<idx>', the upstream idempotency key) is derived from its
-- key, never stored apart from it. WITHOUT ROWID: one b-tree per table, fewer pages per commit.
CREATE TABLE slips (
    sale_seq            INTEGER NOT NULL REFERENCES sales (seq),
    idx                 INTEGER NOT NULL,          -- 1-based position in the sale
    at                  TEXT NOT NULL,             -- when it was scanned or keyed in
    barcode             TEXT,                      -- the 44 digits, or NULL for a keyed-in payment
    chain               TEXT,                      -- keyed-in: the chain, payment code, confirmation number,
    payment_code        TEXT,                      --   and the network's payment id and merchant
    confirmation_number TEXT,
    payment             TEXT,
    merchant            TEXT,
    amount_yen          INTEGER NOT NULL CHECK (amount_yen > 0),
    stamp               INTEGER NOT NULL CHECK (stamp IN (0, 1)),
    -- What makes two slips the same payment (checks 5 and 6): derived, so it cannot be
    -- edited apart from what it is derived from. The same text as `Slip::pay_key`.
    pay_key             TEXT NOT NULL GENERATED ALWAYS AS (
                            CASE WHEN barcode IS NOT NULL THEN 'barcode:' || barcode
                                 ELSE 'payment:' || payment END) VIRTUAL,
    PRIMARY KEY (sale_seq, idx),
    CHECK ((barcode IS NULL) = (payment IS NOT NULL))
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX slips_pay_key ON slips (pay_key);

-- Store-and-forward: one row per slip; the sync task moves it out of 'pending'.
CREATE TABLE outbox (
    sale_seq         INTEGER NOT NULL,
    idx              INTEGER NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sent', 'conflict', 'rejected')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL DEFAULT 0,   -- unix milliseconds
    last_error       TEXT,
    PRIMARY KEY (sale_seq, idx),
    FOREIGN KEY (sale_seq, idx) REFERENCES slips (sale_seq, idx)
) STRICT, WITHOUT ROWID;

-- One print job per sale: a receipt is printed only for a committed sale, and a job stays
-- queued until the printer took it (paper out, no printer configured).
CREATE TABLE print_queue (
    sale_seq    INTEGER PRIMARY KEY NOT NULL REFERENCES sales (seq),
    state       TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'printed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT
) STRICT;
