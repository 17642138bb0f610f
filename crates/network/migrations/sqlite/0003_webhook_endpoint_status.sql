-- Webhook delivery per endpoint (issue 21): each endpoint has a worker of its own that takes
-- its due deliveries in event order, and an endpoint that keeps failing is disabled as
-- Stripe disables one. The status and the failure streak are columns, not part of the
-- endpoint's document, so that an attempt's outcome is a one-row update and a restart keeps
-- them.
ALTER TABLE webhook_endpoints ADD COLUMN status TEXT NOT NULL DEFAULT 'enabled'
    CHECK (status IN ('enabled', 'disabled'));
-- Failed attempts in a row since the last delivered one.
ALTER TABLE webhook_endpoints ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
-- When (the network's clock, unix seconds) the first of those failed; NULL while healthy.
ALTER TABLE webhook_endpoints ADD COLUMN failing_since INTEGER;

-- One endpoint's undelivered deliveries, by due time and event: what its worker reads.
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint, next_at, event_seq)
    WHERE delivered = 0;
