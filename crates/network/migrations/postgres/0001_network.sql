-- The payment network simulator's store on PostgreSQL: the SQLite schema as it stands after
-- its migration 0004 (confirmations keyed per terminal, webhook endpoint status), in one
-- file because no PostgreSQL store older than this exists. Objects are kept as JSON
-- documents in TEXT, not JSONB: the API renders them, and events replay them, byte for byte
-- as they were written (JSONB would reorder their keys); the columns the network searches by
-- sit beside them, and the two searched fields inside a document have expression indexes.
-- Integers are BIGINT throughout (the client maps them to i64, as SQLite's are).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- seq is the payment's number: it is what the bill barcode's free area carries. Given as
-- MAX(seq) + 1 inside a serializable unit, so numbers stay dense, as on SQLite.
CREATE TABLE payment_intents (
    seq     BIGINT PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    created BIGINT NOT NULL,
    -- When the scheduler must look at it next (expiry plus grace, a test-mode success).
    due_at  BIGINT,
    doc     TEXT NOT NULL
);
CREATE INDEX payment_intents_due ON payment_intents (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX payment_intents_voucher ON payment_intents (((doc::jsonb) #>> '{voucher,token}'));

-- Payment codes handed out per chain. `live`: the payment holding it is payable with this
-- code on its current voucher (set when claimed; cleared by the payment's next save once it
-- is no longer so). The partial unique index is the rule "a code is unique among the
-- payable payments of a chain", kept by the database whichever node claims it.
CREATE TABLE payment_codes (
    chain  TEXT NOT NULL,
    code   TEXT NOT NULL,
    pi_seq BIGINT NOT NULL REFERENCES payment_intents (seq),
    live   BOOLEAN NOT NULL DEFAULT TRUE,
    PRIMARY KEY (chain, code, pi_seq)
);
CREATE UNIQUE INDEX payment_codes_live ON payment_codes (chain, code) WHERE live;
CREATE INDEX payment_codes_pi ON payment_codes (pi_seq) WHERE live;

-- A charge carries its balance transaction (txn_id, available_on) in its document.
CREATE TABLE charges (
    seq    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id     TEXT NOT NULL UNIQUE,
    txn_id TEXT NOT NULL UNIQUE,
    pi_seq BIGINT NOT NULL REFERENCES payment_intents (seq),
    doc    TEXT NOT NULL
);

CREATE TABLE refunds (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    pi_seq  BIGINT NOT NULL REFERENCES payment_intents (seq),
    created BIGINT NOT NULL,
    due_at  BIGINT,
    doc     TEXT NOT NULL
);
CREATE INDEX refunds_due ON refunds (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX refunds_pi ON refunds (pi_seq);
CREATE INDEX refunds_token ON refunds (((doc::jsonb) ->> 'token'));

-- Every confirmation a terminal sent that the network kept (accepted or conflict), by the
-- slip id the terminal chose, scoped to that terminal. A collection for another biller has
-- no pi_seq.
CREATE TABLE confirmations (
    terminal    TEXT NOT NULL,
    id          TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('accepted', 'conflict')),
    reason      TEXT,
    pi_seq      BIGINT,
    chain       TEXT NOT NULL,
    store       TEXT NOT NULL,
    amount      BIGINT NOT NULL,
    paid_at     TEXT NOT NULL,
    barcode     TEXT,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (terminal, id)
);
CREATE INDEX confirmations_collected ON confirmations (barcode)
    WHERE pi_seq IS NULL AND barcode IS NOT NULL;

-- Each terminal's journal chain as the network saw it.
CREATE TABLE terminal_chain (
    terminal TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    prev     TEXT NOT NULL,
    hash     TEXT NOT NULL,
    PRIMARY KEY (terminal, seq)
);

CREATE TABLE chain_flags (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    terminal TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('gap', 'fork')),
    detail   TEXT NOT NULL,
    at       BIGINT NOT NULL
);
CREATE INDEX chain_flags_terminal ON chain_flags (terminal, id);

-- An event keeps a snapshot of its object as stored (kind + the record's document); the
-- Stripe Event JSON is rendered from it when listed or delivered, the same bytes each time.
CREATE TABLE events (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    type    TEXT NOT NULL,
    created BIGINT NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('payment_intent', 'charge', 'refund')),
    doc     TEXT NOT NULL
);

CREATE TABLE webhook_endpoints (
    id            TEXT PRIMARY KEY,
    created       BIGINT NOT NULL,
    doc           TEXT NOT NULL,
    status        TEXT NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
    -- Failed attempts in a row since the last delivered one.
    failures      BIGINT NOT NULL DEFAULT 0,
    -- When (the network's clock, unix seconds) the first of those failed; NULL while healthy.
    failing_since BIGINT
);

-- claimed_until: a node that took the delivery to send it holds it until then (network
-- clock, unix seconds); no other node takes it meanwhile, and if that node dies the claim
-- lapses and another sends it.
CREATE TABLE deliveries (
    event_seq     BIGINT NOT NULL REFERENCES events (seq),
    endpoint      TEXT NOT NULL,
    delivered     BOOLEAN NOT NULL DEFAULT FALSE,
    attempts      BIGINT NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    last_status   INTEGER,
    last_error    TEXT,
    claimed_until BIGINT,
    PRIMARY KEY (event_seq, endpoint)
);
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint, next_at, event_seq)
    WHERE NOT delivered;

CREATE TABLE idempotency (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    status      INTEGER NOT NULL,
    body        TEXT NOT NULL,
    created     BIGINT NOT NULL
);
CREATE INDEX idempotency_created ON idempotency (created);
