-- Checkout Sessions and Payment Links (issue 18, points 4 and 5), as on SQLite (its
-- 0008_checkout.sql): each kept as its JSON document in TEXT with the columns the network
-- searches by beside it. `seq` is given as MAX(seq) + 1 inside the unit: two nodes racing
-- for one number meet the primary key, and the loser runs again.

CREATE TABLE checkout_sessions (
    seq          BIGINT PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    created      BIGINT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('open', 'complete', 'expired')),
    due_at       BIGINT,
    pi_seq       BIGINT UNIQUE REFERENCES payment_intents (seq),
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

CREATE TABLE payment_links (
    seq     BIGINT PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    created BIGINT NOT NULL,
    active  BOOLEAN NOT NULL,
    token   TEXT NOT NULL UNIQUE,
    doc     TEXT NOT NULL
);
