-- The payment network simulator's store. Objects are kept as JSON documents (the shape the
-- API returns is built from them), with the columns the network searches by beside them.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- seq is the payment's number: it is what the bill barcode's free area carries.
CREATE TABLE payment_intents (
    seq     INTEGER PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    -- When the scheduler must look at it next (expiry plus grace, a test-mode success).
    due_at  INTEGER,
    doc     TEXT NOT NULL
);
CREATE INDEX payment_intents_due ON payment_intents (due_at) WHERE due_at IS NOT NULL;

-- Payment codes handed out per chain, never changed afterwards. A code is payable while its
-- payment is requires_action with this code on its current voucher; a new claim checks the
-- earlier holders of the code, so codes are unique among payable payments of a chain without
-- any update when a payment is paid (which would rewrite random pages of this table).
CREATE TABLE payment_codes (
    chain  TEXT NOT NULL,
    code   TEXT NOT NULL,
    pi_seq INTEGER NOT NULL REFERENCES payment_intents (seq),
    PRIMARY KEY (chain, code, pi_seq)
) WITHOUT ROWID;

-- A charge carries its balance transaction (txn_id, available_on) in its document.
CREATE TABLE charges (
    seq    INTEGER PRIMARY KEY,
    id     TEXT NOT NULL UNIQUE,
    txn_id TEXT NOT NULL UNIQUE,
    pi_seq INTEGER NOT NULL REFERENCES payment_intents (seq),
    doc    TEXT NOT NULL
);

CREATE TABLE refunds (
    seq     INTEGER PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    pi_seq  INTEGER NOT NULL REFERENCES payment_intents (seq),
    created INTEGER NOT NULL,
    due_at  INTEGER,
    doc     TEXT NOT NULL
);
CREATE INDEX refunds_due ON refunds (due_at) WHERE due_at IS NOT NULL;

-- Every confirmation a terminal sent that the network kept (accepted or conflict), by the
-- slip id the terminal chose. A collection for another biller has no pi_seq.
CREATE TABLE confirmations (
    id          TEXT PRIMARY KEY,
    terminal    TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('accepted', 'conflict')),
    reason      TEXT,
    pi_seq      INTEGER,
    chain       TEXT NOT NULL,
    store       TEXT NOT NULL,
    amount      INTEGER NOT NULL,
    paid_at     TEXT NOT NULL,
    barcode     TEXT,
    received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX confirmations_barcode ON confirmations (barcode) WHERE barcode IS NOT NULL;

-- Each terminal's journal chain as the network saw it.
CREATE TABLE terminal_chain (
    terminal TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    prev     TEXT NOT NULL,
    hash     TEXT NOT NULL,
    PRIMARY KEY (terminal, seq)
) WITHOUT ROWID;

CREATE TABLE chain_flags (
    id       INTEGER PRIMARY KEY,
    terminal TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('gap', 'fork')),
    detail   TEXT NOT NULL,
    at       INTEGER NOT NULL
);

-- An event keeps a snapshot of its object as stored (kind + the record's document); the
-- Stripe Event JSON is rendered from it when listed or delivered, the same bytes each time.
CREATE TABLE events (
    seq     INTEGER PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    type    TEXT NOT NULL,
    created INTEGER NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('payment_intent', 'charge', 'refund')),
    doc     TEXT NOT NULL
);

CREATE TABLE webhook_endpoints (
    id      TEXT PRIMARY KEY,
    created INTEGER NOT NULL,
    doc     TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE deliveries (
    event_seq   INTEGER NOT NULL REFERENCES events (seq),
    endpoint    TEXT NOT NULL,
    delivered   INTEGER NOT NULL DEFAULT 0,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    last_status INTEGER,
    last_error  TEXT,
    PRIMARY KEY (event_seq, endpoint)
) WITHOUT ROWID;
CREATE INDEX deliveries_due ON deliveries (next_at) WHERE delivered = 0;

CREATE TABLE idempotency (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT NOT NULL,
    created     INTEGER NOT NULL
) WITHOUT ROWID;
