-- Only slips of other billers are looked up by barcode (a payment of this network is found
-- by the number its barcode carries). Indexing only those keeps each confirmation of a
-- payment from rewriting a page at a random place in the index.
DROP INDEX confirmations_barcode;
CREATE INDEX confirmations_collected ON confirmations (barcode)
    WHERE pi_seq IS NULL AND barcode IS NOT NULL;
