-- The sales of a business day, and the register's most recent sales, are found by their
-- time. `at` is RFC 3339 in Japan time (always +09:00), so its text sorts in time order and
-- a date prefix bounds a day as text: '2026-11-28' <= at < '2026-11-29' is that Japan day.
-- Without this index the Z report and the recent-sales list scan every sale ever made.
-- It costs each commit one more b-tree page or so; a sale is looked up by time far more
-- often than one is written.
CREATE INDEX sales_at ON sales (at);
