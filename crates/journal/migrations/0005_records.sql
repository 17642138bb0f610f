-- Non-sale records: what happened at the register that is not a payment. A slip removed
-- from a sale before it was completed (a void), a sale the clerk cancelled, and the day
-- close (精算, the Z report). They are never sent to the payment network as confirmations,
-- and they never take a sale's number: the sales keep their own chain and its seq without
-- gaps, which is what the network checks of each terminal. These records have a hash chain
-- of their own, like the verdicts (`record.rs`: SHA-256 over the previous record's hash and
-- this one's fields), with its head in `meta.record_head_seq/record_head_hash`, and each
-- names the last sale committed before it (`sale_seq`; a void of a completed sale is
-- written in that sale's transaction and names it), which places it among the sales.
--
-- A business day is the run of sales and records between two closes: the close's
-- `sale_seq` is the last sale of its day, and the records before it (after the previous
-- close) are its day's. A day is closed at most once (the unique index).
CREATE TABLE records (
    seq            INTEGER PRIMARY KEY NOT NULL,  -- 1, 2, 3 ... without gaps
    kind           TEXT NOT NULL
                   CHECK (kind = 'void' OR kind = 'cancel' OR kind = 'close'),
    at             TEXT NOT NULL,                 -- RFC 3339, Japan time
    sale_seq       INTEGER NOT NULL CHECK (sale_seq >= 0),
    business_date  TEXT,                          -- a close's day, 'YYYY-MM-DD'; else NULL
    body           TEXT NOT NULL,                 -- the record's content, canonical JSON
    hash           TEXT NOT NULL,
    CHECK ((kind = 'close') = (business_date IS NOT NULL))
) STRICT;
CREATE UNIQUE INDEX records_closed_day ON records (business_date);
CREATE INDEX records_closes ON records (seq) WHERE kind = 'close';

INSERT INTO meta (key, value) VALUES
    ('record_head_seq', '0'),
    ('record_head_hash', '');

-- The sales a journal held before it had records were reported by the Z reports of the
-- release that wrote them (one per day, printed by F4): the first day close of this schema
-- covers the sales after them, never the whole history again.
INSERT INTO meta (key, value)
    SELECT 'records_after_sale', CAST(COALESCE(MAX(seq), 0) AS TEXT) FROM sales;

-- The slips in conflict or rejected by the network whose alert the clerk acknowledged: the
-- register lists the others on its main screen until they are. Not part of any chain: an
-- acknowledgement changes no money, only what the screen still shows.
CREATE TABLE acknowledged (
    sale_seq  INTEGER NOT NULL,
    idx       INTEGER NOT NULL,
    at        TEXT NOT NULL,                      -- when, RFC 3339, Japan time
    PRIMARY KEY (sale_seq, idx),
    FOREIGN KEY (sale_seq, idx) REFERENCES slips (sale_seq, idx)
) STRICT, WITHOUT ROWID;

-- The slips the network would not credit (conflict) or refused (rejected): few, and looked
-- for on every refresh of the register's screen, so kept in a small index of their own
-- (a partial index holds only the rows its WHERE admits).
CREATE INDEX outbox_trouble ON outbox (sale_seq, idx)
    WHERE state = 'conflict' OR state = 'rejected';
