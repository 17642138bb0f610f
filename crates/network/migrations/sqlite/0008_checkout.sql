-- Checkout Sessions and Payment Links (issue 18, points 4 and 5). Each is kept as its JSON
-- document with the columns the network searches by beside it. A session's line items live
-- in its document (at most 100); `due_at` is its expiry while it is open (the scheduler's
-- work), and `pi_seq` the PaymentIntent its hosted page made (one session per payment).

CREATE TABLE checkout_sessions (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    created      INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('open', 'complete', 'expired')),
    due_at       INTEGER,
    pi_seq       INTEGER UNIQUE REFERENCES payment_intents (seq),
    payment_link TEXT,
    customer     TEXT,
    email        TEXT,
    doc          TEXT NOT NULL
);
CREATE INDEX checkout_sessions_due ON checkout_sessions (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX checkout_sessions_link ON checkout_sessions (payment_link, seq)
    WHERE payment_link IS NOT NULL;
CREATE INDEX checkout_sessions_customer ON checkout_sessions (customer, seq)
    WHERE customer IS NOT NULL;

-- `token` is the secret part of the link's address, /pay/{token}.
CREATE TABLE payment_links (
    seq     INTEGER PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    active  INTEGER NOT NULL CHECK (active IN (0, 1)),
    token   TEXT NOT NULL UNIQUE,
    doc     TEXT NOT NULL
);
