// Products and Prices through the official Stripe Node.js library, unmodified: one-time and
// recurring JPY prices, `default_price_data`, lookup keys, updates, the list filters,
// auto-paging forward and backward, search, Stripe's errors, and the `product.*` /
// `price.*` webhooks checked with the library's own signature verifier. Run by
// tests/it/network.rs with NETWORK_URL and STRIPE_KEY set; prints "ok: catalog".
import Stripe from 'stripe';
import assert from 'node:assert/strict';
import http from 'node:http';

const url = new URL(process.env.NETWORK_URL);
const stripe = new Stripe(process.env.STRIPE_KEY, {
  host: url.hostname,
  port: Number(url.port),
  protocol: 'http',
  maxNetworkRetries: 0,
  telemetry: false,
});

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
  enabled_events: ['product.created', 'product.updated', 'product.deleted', 'price.created', 'price.updated'],
});
secret = endpoint.secret;

async function eventFor(type, id, check = () => true) {
  for (let i = 0; i < 200; i++) {
    const e = received.find((e) => e.type === type && e.data.object.id === id && check(e));
    if (e) return e;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no ${type} for ${id} among ${received.map((e) => e.type)}`);
}

// A product with its default price made in the same request.
const onigiri = await stripe.products.create({
  name: 'おにぎり 鮭',
  description: 'Salmon rice ball',
  metadata: { sku: 'ONI-1' },
  default_price_data: { currency: 'jpy', unit_amount: 160 },
});
assert.equal(onigiri.object, 'product');
assert.equal(onigiri.active, true);
assert.match(onigiri.default_price, /^price_/);
const withPrice = await stripe.products.retrieve(onigiri.id, { expand: ['default_price'] });
assert.equal(withPrice.default_price.unit_amount, 160);
assert.equal(withPrice.default_price.currency, 'jpy');
assert.equal(withPrice.default_price.type, 'one_time');
assert.equal(withPrice.default_price.product, onigiri.id);

// A recurring price with a lookup key, and a second one-time price.
const monthly = await stripe.prices.create({
  product: onigiri.id,
  currency: 'jpy',
  unit_amount: 3000,
  recurring: { interval: 'month' },
  lookup_key: 'onigiri-club',
  nickname: 'Club',
});
assert.equal(monthly.type, 'recurring');
assert.deepEqual(
  [monthly.recurring.interval, monthly.recurring.interval_count, monthly.recurring.usage_type],
  ['month', 1, 'licensed'],
);
assert.equal(Number(monthly.unit_amount_decimal.toString()), 3000); // a Decimal in stripe-node 23
const big = await stripe.prices.create({ product: onigiri.id, currency: 'jpy', unit_amount: 1200 });

// The lookup key moves only when asked.
await assert.rejects(
  stripe.prices.create({ product: onigiri.id, currency: 'jpy', unit_amount: 2800, recurring: { interval: 'month' }, lookup_key: 'onigiri-club' }),
  (e) => e.type === 'StripeInvalidRequestError' && e.param === 'lookup_key',
);
const cheaper = await stripe.prices.create({
  product: onigiri.id, currency: 'jpy', unit_amount: 2800, recurring: { interval: 'month' },
  lookup_key: 'onigiri-club', transfer_lookup_key: true,
});
const byKey = await stripe.prices.list({ lookup_keys: ['onigiri-club'] });
assert.deepEqual(byKey.data.map((p) => p.id), [cheaper.id]);
assert.equal((await stripe.prices.retrieve(monthly.id)).lookup_key, null);

// List filters.
const recurring = await stripe.prices.list({ product: onigiri.id, type: 'recurring' });
assert.deepEqual(recurring.data.map((p) => p.id), [cheaper.id, monthly.id]);
const oneTime = await stripe.prices.list({ product: onigiri.id, type: 'one_time', expand: ['data.product'] });
assert.deepEqual(oneTime.data.map((p) => p.id), [big.id, onigiri.default_price]);
assert.equal(oneTime.data[0].product.name, 'おにぎり 鮭');
const monthlyOnly = await stripe.prices.list({ recurring: { interval: 'month' }, currency: 'jpy' });
assert.equal(monthlyOnly.data.length, 2);

// Updates: the product's name and metadata, a price archived; events with previous_attributes.
const renamed = await stripe.products.update(onigiri.id, { name: 'おにぎり 鮭 (大)', metadata: { sku: '' , size: 'L' } });
assert.equal(renamed.name, 'おにぎり 鮭 (大)');
assert.deepEqual(renamed.metadata, { size: 'L' });
const updated = await eventFor('product.updated', onigiri.id);
assert.equal(updated.data.previous_attributes.name, 'おにぎり 鮭');
assert.deepEqual(updated.data.previous_attributes.metadata, { sku: 'ONI-1', size: null });
const archived = await stripe.prices.update(monthly.id, { active: false, metadata: { note: 'old' } });
assert.equal(archived.active, false);
// The transfer of its lookup key sent one price.updated, the archiving another.
const moved = await eventFor('price.updated', monthly.id, (e) => 'lookup_key' in e.data.previous_attributes);
assert.equal(moved.data.previous_attributes.lookup_key, 'onigiri-club');
const archivedEvent = await eventFor('price.updated', monthly.id, (e) => 'active' in e.data.previous_attributes);
assert.deepEqual(archivedEvent.data.previous_attributes, { active: true, metadata: { note: null } });
assert.deepEqual(
  (await stripe.prices.list({ product: onigiri.id, active: false })).data.map((p) => p.id),
  [monthly.id],
);
await eventFor('product.created', onigiri.id);
await eventFor('price.created', cheaper.id);

// Auto-paging over several pages, forward and backward, against the full set.
const made = [onigiri.id];
for (let i = 0; i < 5; i++) {
  made.push((await stripe.products.create({ name: `幕の内弁当 ${i}`, type: i < 2 ? 'good' : 'service', shippable: i < 2 })).id);
}
const forward = await stripe.products.list({ limit: 2 }).autoPagingToArray({ limit: 100 });
assert.deepEqual(forward.map((p) => p.id), [...made].reverse());
const backward = await stripe.products.list({ limit: 2, ending_before: made[0] }).autoPagingToArray({ limit: 100 });
assert.deepEqual(backward.map((p) => p.id), made.slice(1));
const goods = await stripe.products.list({ type: 'good', shippable: true });
assert.deepEqual(goods.data.map((p) => p.id), [made[2], made[1]]);
const ids = await stripe.products.list({ ids: [made[3], made[5]] });
assert.deepEqual(ids.data.map((p) => p.id), [made[5], made[3]]);
const pricesForward = await stripe.prices.list({ limit: 1 }).autoPagingToArray({ limit: 100 });
const pricesBackward = await stripe.prices
  .list({ limit: 1, ending_before: pricesForward[pricesForward.length - 1].id })
  .autoPagingToArray({ limit: 100 });
assert.deepEqual(pricesBackward.map((p) => p.id), pricesForward.slice(0, -1).reverse().map((p) => p.id));

// Search, auto-paged through next_page.
const bento = await stripe.products.search({ query: "name~'内弁当' AND active:'true'", limit: 2 }).autoPagingToArray({ limit: 100 });
assert.deepEqual(bento.map((p) => p.id), made.slice(1).reverse());
const club = await stripe.prices.search({ query: `product:'${onigiri.id}' AND type:'recurring' AND active:'true'` });
assert.deepEqual(club.data.map((p) => p.id), [cheaper.id]);
const bySku = await stripe.products.search({ query: "metadata['size']:'L'" });
assert.deepEqual(bySku.data.map((p) => p.id), [onigiri.id]);

// Stripe's errors.
await assert.rejects(
  stripe.prices.create({ product: onigiri.id, currency: 'usd', unit_amount: 500 }),
  (e) => e.type === 'StripeInvalidRequestError' && e.param === 'currency' && /jpy/.test(e.message),
);
await assert.rejects(
  stripe.products.create({ name: 'x', colour: 'red' }),
  (e) => e.code === 'parameter_unknown' && e.param === 'colour',
);
await assert.rejects(stripe.products.create({ description: 'no name' }), (e) => e.code === 'parameter_missing' && e.param === 'name');
await assert.rejects(stripe.prices.create({ currency: 'jpy', unit_amount: 100 }), (e) => e.code === 'parameter_missing' && e.param === 'product');
await assert.rejects(stripe.products.retrieve('prod_missing'), (e) => e.statusCode === 404 && e.code === 'resource_missing' && e.param === 'id');
await assert.rejects(
  stripe.prices.create({ product: 'prod_missing', currency: 'jpy', unit_amount: 100 }),
  (e) => e.code === 'resource_missing' && e.param === 'product',
);
await assert.rejects(
  stripe.products.del(onigiri.id),
  (e) => e.type === 'StripeInvalidRequestError' && e.message === 'This product cannot be deleted because it has one or more user-created prices.',
);
const gone = await stripe.products.del(made[5]);
assert.deepEqual([gone.id, gone.deleted], [made[5], true]);
await eventFor('product.deleted', made[5]);
await assert.rejects(stripe.products.retrieve(made[5]), (e) => e.code === 'resource_missing');

server.close();
console.log('ok: catalog');
