-- Issue 18, the customer's side online: customers, their payment methods, products and
-- prices, kept (as every object) as a JSON document in Stripe's shape with the columns the
-- network lists by beside it. `seq` is each table's order of creation, which lists page by.

-- A deleted customer is kept (`deleted` = 1): a payment that names it expands to its stub.
-- `email` is as given (Stripe's list filter on email is case-sensitive).
CREATE TABLE customers (
    seq     INTEGER PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    email   TEXT,
    deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    doc     TEXT NOT NULL
);
CREATE INDEX customers_email ON customers (email, seq) WHERE deleted = 0;

CREATE TABLE payment_methods (
    seq      INTEGER PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    created  INTEGER NOT NULL,
    customer TEXT,
    doc      TEXT NOT NULL
);
CREATE INDEX payment_methods_customer ON payment_methods (customer, seq)
    WHERE customer IS NOT NULL;

CREATE TABLE products (
    seq     INTEGER PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    active  INTEGER NOT NULL CHECK (active IN (0, 1)),
    doc     TEXT NOT NULL
);

-- A lookup key names one price at a time (`transfer_lookup_key` moves it).
CREATE TABLE prices (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    created    INTEGER NOT NULL,
    product    TEXT NOT NULL,
    active     INTEGER NOT NULL CHECK (active IN (0, 1)),
    lookup_key TEXT,
    doc        TEXT NOT NULL
);
CREATE INDEX prices_product ON prices (product, seq);
CREATE UNIQUE INDEX prices_lookup_key ON prices (lookup_key) WHERE lookup_key IS NOT NULL;

-- Events take the new kinds of objects (and those of Checkout Sessions and Payment Links,
-- which come next), and an update's `previous_attributes`. SQLite cannot change a CHECK:
-- the table is rebuilt (create the new one, copy, drop the old, rename), the procedure of
-- SQLite's ALTER TABLE page. `deliveries.event_seq` references `events`: the store runs its
-- migrations with foreign keys off, as that procedure asks, and checks them before turning
-- them on (storage/sqlite/mod.rs), so the drop does not touch the deliveries.
CREATE TABLE events_new (
    seq      INTEGER PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    type     TEXT NOT NULL,
    created  INTEGER NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('payment_intent', 'charge', 'refund', 'customer',
                                           'payment_method', 'product', 'price',
                                           'checkout_session', 'payment_link')),
    doc      TEXT NOT NULL,
    previous TEXT
);

INSERT INTO events_new (seq, id, type, created, kind, doc)
    SELECT seq, id, type, created, kind, doc FROM events;

DROP TABLE events;

ALTER TABLE events_new RENAME TO events;

CREATE INDEX events_type ON events (type, seq);
