-- Terminals registered in the store (by `POST /v1/test_helpers/terminals`, which `konbini
-- fleet` uses), beside those of the `--terminal ID=SECRET` flags: every node over one
-- database knows them.
CREATE TABLE terminals (
    id         TEXT PRIMARY KEY,
    secret     TEXT NOT NULL,
    created    BIGINT NOT NULL
);
