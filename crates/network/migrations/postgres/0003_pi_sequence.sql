-- A PaymentIntent's number (`payment_intents.seq`, also the bill barcode's payment number)
-- comes from a sequence: with several nodes, reading MAX(seq) + 1 made every pair of
-- concurrent creations a serialization conflict (both read the same maximum), and under
-- four clients a creation could lose twelve races in a row. A sequence is outside
-- transactions: numbers are unique, increasing in the order they are drawn, and a rolled
-- back creation leaves a gap (nothing reads them as dense).
CREATE SEQUENCE payment_intents_seq_gen AS BIGINT;
SELECT setval('payment_intents_seq_gen', COALESCE(MAX(seq), 0) + 1, false) FROM payment_intents;
