-- Issue 18, the customer's side online: customers, their payment methods, products and
-- prices, kept (as every object) as a JSON document in Stripe's shape, in TEXT, with the
-- columns the network lists by beside it (the SQLite schema's 0007). `seq` is each table's
-- order of creation, which lists page by.

-- A deleted customer is kept (`deleted`): a payment that names it expands to its stub.
CREATE TABLE customers (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    created BIGINT NOT NULL,
    email   TEXT,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    doc     TEXT NOT NULL
);
CREATE INDEX customers_email ON customers (email, seq) WHERE NOT deleted;

CREATE TABLE payment_methods (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    created  BIGINT NOT NULL,
    customer TEXT,
    doc      TEXT NOT NULL
);
CREATE INDEX payment_methods_customer ON payment_methods (customer, seq)
    WHERE customer IS NOT NULL;

CREATE TABLE products (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id      TEXT NOT NULL UNIQUE,
    created BIGINT NOT NULL,
    active  BOOLEAN NOT NULL,
    doc     TEXT NOT NULL
);

-- A lookup key names one price at a time (`transfer_lookup_key` moves it); with several
-- nodes, the unique index settles two at once (the loser runs again and sees the winner).
CREATE TABLE prices (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    created    BIGINT NOT NULL,
    product    TEXT NOT NULL,
    active     BOOLEAN NOT NULL,
    lookup_key TEXT,
    doc        TEXT NOT NULL
);
CREATE INDEX prices_product ON prices (product, seq);
CREATE UNIQUE INDEX prices_lookup_key ON prices (lookup_key) WHERE lookup_key IS NOT NULL;

-- Events take the new kinds of objects (and those of Checkout Sessions and Payment Links,
-- which come next), and an update's `previous_attributes`. The CHECK written inline in 0001
-- is named by PostgreSQL's rule, `<table>_<column>_check`.
ALTER TABLE events DROP CONSTRAINT events_kind_check,
    ADD CONSTRAINT events_kind_check CHECK (kind IN ('payment_intent', 'charge', 'refund',
        'customer', 'payment_method', 'product', 'price', 'checkout_session', 'payment_link'));
ALTER TABLE events ADD COLUMN previous TEXT;
CREATE INDEX events_type ON events (type, seq);
