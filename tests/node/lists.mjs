// Lists through the official Stripe Node.js library, unmodified: auto-paging forward and
// backward (`ending_before`) over several pages, the list filters, and search. Run by
// tests/it/network.rs with NETWORK_URL and STRIPE_KEY set; prints "ok: lists" when every
// check passed.
import Stripe from 'stripe';
import assert from 'node:assert/strict';

const url = new URL(process.env.NETWORK_URL);
const stripe = new Stripe(process.env.STRIPE_KEY, {
  host: url.hostname,
  port: Number(url.port),
  protocol: 'http',
  maxNetworkRetries: 0,
  telemetry: false,
});

// A payment names a kept customer.
const oddCustomer = (await stripe.customers.create({ name: 'Odd' })).id;
const evenCustomer = (await stripe.customers.create({ name: 'Even' })).id;
const made = [];
for (let i = 0; i < 7; i++) {
  const pi = await stripe.paymentIntents.create({
    amount: 1200 + i,
    currency: 'jpy',
    customer: i % 2 ? oddCustomer : evenCustomer,
  });
  made.push(pi.id);
}
const newestFirst = [...made].reverse();

const forward = await stripe.paymentIntents.list({ limit: 2 }).autoPagingToArray({ limit: 100 });
assert.deepEqual(forward.map((p) => p.id), newestFirst);

// Backward from the oldest: every newer one, each once, oldest first (the library walks each
// page from its last element to its first).
const backward = await stripe.paymentIntents
  .list({ limit: 2, ending_before: made[0] })
  .autoPagingToArray({ limit: 100 });
assert.deepEqual(backward.map((p) => p.id), made.slice(1));

// One page before a cursor: the objects just newer than it, newest first.
const page = await stripe.paymentIntents.list({ limit: 2, ending_before: made[2] });
assert.deepEqual(page.data.map((p) => p.id), [made[4], made[3]]);
assert.equal(page.has_more, true);

const odd = await stripe.paymentIntents
  .list({ customer: oddCustomer, limit: 2 })
  .autoPagingToArray({ limit: 100 });
assert.deepEqual(odd.map((p) => p.id), [made[5], made[3], made[1]]);

// Search, auto-paged by the library through next_page.
const found = await stripe.paymentIntents
  .search({ query: `customer:'${oddCustomer}' AND amount>1201`, limit: 2 })
  .autoPagingToArray({ limit: 100 });
assert.deepEqual(found.map((p) => p.id), [made[5], made[3]]);
const first = await stripe.paymentIntents.search({ query: 'amount>=1200', limit: 3 });
assert.equal(first.object, 'search_result');
assert.equal(first.has_more, true);
assert.equal(typeof first.next_page, 'string');
await assert.rejects(
  stripe.paymentIntents.search({ query: 'status:succeeded' }),
  (e) => e.type === 'StripeInvalidRequestError' && e.param === 'query',
);

console.log('ok: lists');
