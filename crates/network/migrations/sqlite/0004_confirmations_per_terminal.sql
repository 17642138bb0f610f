-- Slip ids are scoped to the terminal that sent them: (terminal, id) is a confirmation's
-- idempotency key (network-api.md). With the id alone as the key, terminal T02 could confirm
-- a payment under an id that T01's journal would use later, and T01's real slip was then
-- refused `idempotency_mismatch`. The same rows, rebuilt as SQLite's ALTER TABLE page says
-- for changes ALTER cannot make (create the new table, copy, drop the old, rename).
CREATE TABLE confirmations_new (
    terminal    TEXT NOT NULL,
    id          TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('accepted', 'conflict')),
    reason      TEXT,
    pi_seq      INTEGER,
    chain       TEXT NOT NULL,
    store       TEXT NOT NULL,
    amount      INTEGER NOT NULL,
    paid_at     TEXT NOT NULL,
    barcode     TEXT,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (terminal, id)
) WITHOUT ROWID;

INSERT INTO confirmations_new (terminal, id, fingerprint, status, reason, pi_seq, chain, store,
                               amount, paid_at, barcode, received_at)
    SELECT terminal, id, fingerprint, status, reason, pi_seq, chain, store, amount, paid_at,
           barcode, received_at
    FROM confirmations;

DROP TABLE confirmations;

ALTER TABLE confirmations_new RENAME TO confirmations;

CREATE INDEX confirmations_collected ON confirmations (barcode)
    WHERE pi_seq IS NULL AND barcode IS NOT NULL;
