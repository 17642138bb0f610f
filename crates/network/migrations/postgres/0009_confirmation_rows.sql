-- Nothing else writes these tables while their rows move (a node of an older build still
-- running would otherwise commit a code or a due time between a copy and a drop below).
LOCK TABLE payment_intents, payment_codes IN EXCLUSIVE MODE;
-- The codes payable now, in a table of their own. Before, `payment_codes.live` said which
-- were, and paying a payment updated its four code rows to `live = FALSE`: four new row
-- versions and four entries in the primary key's index per payment paid, with PostgreSQL
-- cleaning the dead ones out of the index again (found with perf on `bench network --db`).
-- Now a code is payable while its row in `payable_codes` stands: claimed by inserting it
-- (the key is the rule "a code is unique among the payable payments of a chain"), given up
-- by deleting it, which writes no index entry. `payment_codes` keeps, unchanging, every
-- payment that ever held a code, for a register that scans one no longer payable.
CREATE TABLE payable_codes (
    chain  TEXT NOT NULL,
    code   TEXT NOT NULL,
    pi_seq BIGINT NOT NULL,
    PRIMARY KEY (chain, code)
);
CREATE INDEX payable_codes_pi ON payable_codes (pi_seq);
INSERT INTO payable_codes (chain, code, pi_seq)
    SELECT chain, code, pi_seq FROM payment_codes WHERE live;
DROP INDEX payment_codes_live;
DROP INDEX payment_codes_pi;
ALTER TABLE payment_codes DROP COLUMN live;
-- The foreign keys of the rows a payment's own unit writes beside it go: a charge, the
-- payment's codes (held and payable), and an event's deliveries (written in the statement
-- that writes the event). Each row written checked its key with a query of its own that
-- also locked the row it points at (`FOR KEY SHARE`), a row the same unit had just written:
-- about a tenth of the server's time per confirmation (perf, `bench network --db`). The
-- network writes these rows only with, or from, the row they point at, and nothing deletes
-- payments or events.
ALTER TABLE charges DROP CONSTRAINT charges_pi_seq_fkey;
ALTER TABLE payment_codes DROP CONSTRAINT payment_codes_pi_seq_fkey;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_event_seq_fkey;
-- A payment's due time (when the scheduler must look at it next) in a table of its own,
-- rows only for payments that have one. Paying a payment cleared `due_at`, a column with an
-- index, so its row's new version could never be a HOT update: it took new entries in every
-- index of the table. Now paying deletes its `payment_dues` row and rewrites the payment's
-- document in place on its page (HOT: no index entry), with room left on each page for
-- that (fillfactor 70, for the pages written from now on). With the two changes above,
-- 90-100 us of the server's CPU per confirmation became 82-94 (`bench network --db`).
CREATE TABLE payment_dues (
    seq    BIGINT PRIMARY KEY,
    due_at BIGINT NOT NULL
);
CREATE INDEX payment_dues_at ON payment_dues (due_at);
INSERT INTO payment_dues (seq, due_at)
    SELECT seq, due_at FROM payment_intents WHERE due_at IS NOT NULL;
DROP INDEX payment_intents_due;
ALTER TABLE payment_intents DROP COLUMN due_at;
ALTER TABLE payment_intents SET (fillfactor = 70);
