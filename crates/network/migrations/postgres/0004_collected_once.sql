-- A slip of another biller (no payment of ours: pi_seq NULL) is collected once: the second
-- terminal to send the same bar code is told it was collected before. With several writers
-- at repeatable read, two units could each read "not collected" and both insert; this index
-- makes the second insert fail, and its unit runs again and sees the first.
CREATE UNIQUE INDEX confirmations_collected_once ON confirmations (barcode)
    WHERE pi_seq IS NULL AND barcode IS NOT NULL AND status = 'accepted';
