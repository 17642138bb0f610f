-- A delivery taken by a webhook worker to send is claimed until a time (the network's clock,
-- unix seconds): no other worker takes it meanwhile, and if the one that took it stops, the
-- claim lapses and the delivery is sent again. One SQLite network has one worker per endpoint
-- and never overlaps with itself, but the storage's rule is the same on every backend (a
-- PostgreSQL store is shared by several nodes).
ALTER TABLE deliveries ADD COLUMN claimed_until INTEGER;
