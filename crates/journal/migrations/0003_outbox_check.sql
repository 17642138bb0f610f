-- The outbox's state rule, written as comparisons instead of an IN list. SQLite checks a
-- CHECK constraint's IN list by filling a temporary b-tree with the list's values for every
-- row it writes (EXPLAIN of the sync task's verdict UPDATE shows OpenEphemeral and four
-- IdxInserts inside the row loop). That made each verdict the sync task records, and each
-- slip's outbox row at commit, about 2.5 times as costly: with the bundled SQLite 3.53.2 a
-- one-million-row UPDATE took 0.79 s with the IN list and 0.29 s with the comparisons.
-- The same rule and the same rows: the table is rebuilt as SQLite's ALTER TABLE page says
-- for changes ALTER cannot make (create the new table, copy, drop the old, rename).
CREATE TABLE outbox_new (
    sale_seq         INTEGER NOT NULL,
    idx              INTEGER NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state = 'pending' OR state = 'sent' OR state = 'conflict'
                            OR state = 'rejected'),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL DEFAULT 0,   -- unix milliseconds
    last_error       TEXT,
    PRIMARY KEY (sale_seq, idx),
    FOREIGN KEY (sale_seq, idx) REFERENCES slips (sale_seq, idx)
) STRICT, WITHOUT ROWID;

INSERT INTO outbox_new (sale_seq, idx, state, attempts, next_attempt_at, last_error)
    SELECT sale_seq, idx, state, attempts, next_attempt_at, last_error FROM outbox;

DROP TABLE outbox;

ALTER TABLE outbox_new RENAME TO outbox;
