// The official Stripe Node.js library, unmodified, against `konbini network`: only its
// host, port and protocol are changed. Run by tests/it/network.rs with NETWORK_URL,
// STRIPE_KEY, TERMINAL_ID and TERMINAL_SECRET set. Prints "ok: lifecycle" when every check
// passed; any failed check throws and exits non-zero.
import Stripe from 'stripe';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';

const url = new URL(process.env.NETWORK_URL);
const stripe = new Stripe(process.env.STRIPE_KEY, {
  host: url.hostname,
  port: Number(url.port),
  protocol: 'http',
  maxNetworkRetries: 0,
  telemetry: false,
});

// A webhook endpoint that checks every signature with the library's own verifier.
let secret = '';
const received = [];
const server = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    try {
      received.push(stripe.webhooks.constructEvent(body, req.headers['stripe-signature'], secret));
      res.writeHead(200).end();
    } catch (e) {
      console.error(`webhook refused: ${e.message}`);
      res.writeHead(400).end();
    }
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const endpoint = await stripe.webhookEndpoints.create({
  url: `http://127.0.0.1:${server.address().port}/webhooks`,
  enabled_events: ['*'],
});
assert.match(endpoint.secret, /^whsec_/);
secret = endpoint.secret;

// No payment_method_types: on 2026-09-30.endive and later (the version this library pins)
// Stripe refuses it on PaymentIntents; konbini is this network's only method anyway.
const params = {
  amount: 1200,
  currency: 'jpy',
  payment_method_data: {
    type: 'konbini',
    billing_details: { name: '山田 太郎', email: 'taro@example.jp' },
  },
  payment_method_options: { konbini: { product_description: 'テスト商品', expires_after_days: 3 } },
  metadata: { order: '42' },
  confirm: true,
};
const pi = await stripe.paymentIntents.create(params, { idempotencyKey: 'node-order-42' });
assert.equal(pi.object, 'payment_intent');
assert.equal(pi.status, 'requires_action');
assert.equal(pi.next_action.type, 'konbini_display_details');
assert.equal(pi.metadata.order, '42');
// No types named: automatic payment methods (konbini, the only one here).
assert.deepEqual(pi.automatic_payment_methods, { allow_redirects: 'always', enabled: true });
const details = pi.next_action.konbini_display_details;
for (const chain of ['familymart', 'lawson', 'ministop', 'seicomart']) {
  assert.match(details.stores[chain].payment_code, /^\d+$/);
}
assert.match(details.hosted_voucher_url, /^http:\/\//);
const replay = await stripe.paymentIntents.create(params, { idempotencyKey: 'node-order-42' });
assert.equal(replay.id, pi.id, 'an idempotent replay returns the same payment');

// Stripe-shaped errors become the library's typed errors.
await assert.rejects(
  stripe.paymentIntents.create({ amount: 1200, currency: 'jpy', payment_method_types: ['konbini'] }),
  (e) => e.code === 'payment_method_types_no_longer_supported' && e.param === 'payment_method_types',
);
const allowed = await stripe.paymentIntents.create({ amount: 1200, currency: 'jpy', allowed_payment_method_types: ['konbini'] });
assert.deepEqual([allowed.allowed_payment_method_types, allowed.payment_method_types], [['konbini'], ['konbini']]);
assert.equal(allowed.automatic_payment_methods, null);
await assert.rejects(
  stripe.paymentIntents.create({ amount: 100, currency: 'jpy' }),
  (e) => e.type === 'StripeInvalidRequestError' && e.code === 'amount_too_small' && e.param === 'amount',
);
await assert.rejects(
  stripe.paymentIntents.create({ amount: 1200, currency: 'jpy', payment_method_options: { konbini: { expires_after_days: 2, expires_at: 4102444800 } } }),
  (e) => e.param === 'payment_method_options[konbini][expires_at]',
);
await assert.rejects(stripe.paymentIntents.retrieve('pi_missing'), (e) => e.statusCode === 404 && e.code === 'resource_missing');

// A register pays it at Lawson through the signed terminal API.
const { payment_code, confirmation_number } = details.stores.lawson;
const body = JSON.stringify({
  confirmations: [{
    id: 'node-slip-1', store: '0001', chain: 'lawson', paid_at: new Date().toISOString(),
    amount: 1200, payment_code, confirmation_number,
  }],
});
const t = Math.floor(Date.now() / 1000);
const path = '/terminal/v1/confirmations';
const v1 = crypto.createHmac('sha256', process.env.TERMINAL_SECRET).update(`${t}.POST.${path}.${body}`).digest('hex');
const answer = await fetch(new URL(path, url), {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'Konbini-Terminal': process.env.TERMINAL_ID, 'Konbini-Signature': `t=${t},v1=${v1}` },
  body,
}).then((r) => r.json());
assert.equal(answer.results[0].status, 'accepted', JSON.stringify(answer));

const paid = await stripe.paymentIntents.retrieve(pi.id, { expand: ['latest_charge.balance_transaction'] });
assert.equal(paid.status, 'succeeded');
assert.equal(paid.latest_charge.payment_method_details.konbini.store.chain, 'lawson');
assert.equal(typeof paid.latest_charge.balance_transaction.available_on, 'number');

// The webhook arrived and the library accepted its signature.
for (let i = 0; i < 200 && !received.some((e) => e.type === 'payment_intent.succeeded'); i++) {
  await new Promise((r) => setTimeout(r, 50));
}
const succeeded = received.find((e) => e.type === 'payment_intent.succeeded');
assert.ok(succeeded, `no payment_intent.succeeded among ${received.map((e) => e.type)}`);
assert.equal(succeeded.data.object.id, pi.id);

// Refunds: partial, then the test helper's expiry fails it.
const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 200 });
assert.equal(refund.status, 'requires_action');
const expired = await stripe.testHelpers.refunds.expire(refund.id);
assert.equal(expired.status, 'failed');

// Cancel, list with auto-pagination, events.
const other = await stripe.paymentIntents.create({ ...params, metadata: {} });
const canceled = await stripe.paymentIntents.cancel(other.id);
assert.equal(canceled.status, 'canceled');
const seen = [];
for await (const p of stripe.paymentIntents.list({ limit: 1 })) seen.push(p.id);
assert.deepEqual(seen, [other.id, allowed.id, pi.id]);
const events = await stripe.events.list({ limit: 100 });
assert.ok(events.data.some((e) => e.type === 'payment_intent.canceled'));

server.close();
console.log('ok: lifecycle');
