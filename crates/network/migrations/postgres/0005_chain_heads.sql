-- One row per terminal that sent journal links, written by every batch that adds links
-- before it reads the chain: two batches of one terminal on two nodes are put in order (the
-- second waits, then runs again from a snapshot with the first's links), so a fork between
-- them is seen. `batches` counts the batches that went through.
CREATE TABLE terminal_chain_heads (
    terminal TEXT PRIMARY KEY,
    batches  BIGINT NOT NULL
);
