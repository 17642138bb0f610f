// Customers and their konbini PaymentMethods through the official Stripe Node.js library,
// unmodified: create, retrieve, update (events with previous_attributes), list and search
// with auto-paging forward and backward, payment methods attached and detached, a payment
// using them (and expanding them), a deleted customer's stub, Stripe's errors, and every
// webhook checked with the library's own signature verifier. Run by tests/it/network.rs
// with NETWORK_URL and STRIPE_KEY set; prints "ok: customers".
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
  enabled_events: [
    'customer.created', 'customer.updated', 'customer.deleted',
    'payment_method.attached', 'payment_method.detached', 'payment_method.updated',
  ],
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

const taro = await stripe.customers.create({
  name: '山田 太郎',
  email: 'taro@example.jp',
  phone: '09012345678',
  address: { country: 'JP', state: '東京都', city: '渋谷区', postal_code: '150-0002' },
  preferred_locales: ['ja'],
  metadata: { member: 'gold' },
});
assert.equal(taro.object, 'customer');
assert.match(taro.id, /^cus_/);
assert.equal(taro.address.state, '東京都');
assert.equal(taro.invoice_settings.default_payment_method, null);
assert.deepEqual([taro.balance, taro.delinquent, taro.tax_exempt], [0, false, 'none']);
assert.equal((await eventFor('customer.created', taro.id)).data.object.email, 'taro@example.jp');

const renamed = await stripe.customers.update(taro.id, { name: '山田 太郎 様', metadata: { member: '', since: '2026' } });
assert.deepEqual(renamed.metadata, { since: '2026' });
const updated = await eventFor('customer.updated', taro.id);
assert.deepEqual(updated.data.previous_attributes, { name: '山田 太郎', metadata: { member: 'gold', since: null } });

// Lists and search, auto-paged both ways against the full set.
const made = [taro.id];
for (let i = 0; i < 5; i++) {
  made.push((await stripe.customers.create({
    name: `Customer ${i}`, email: i % 2 ? 'odd@example.jp' : `even${i}@example.jp`, phone: `0312345${i}`,
    metadata: { batch: 'b' },
  })).id);
}
const forward = await stripe.customers.list({ limit: 2 }).autoPagingToArray({ limit: 100 });
assert.deepEqual(forward.map((c) => c.id), [...made].reverse());
const backward = await stripe.customers.list({ limit: 2, ending_before: made[0] }).autoPagingToArray({ limit: 100 });
assert.deepEqual(backward.map((c) => c.id), made.slice(1));
const odd = await stripe.customers.list({ email: 'odd@example.jp' });
assert.deepEqual(odd.data.map((c) => c.id), [made[4], made[2]]);
const since = await stripe.customers.list({ created: { gte: taro.created } , limit: 100 });
assert.equal(since.data.length, 6);
const found = await stripe.customers
  .search({ query: "metadata['batch']:'b' AND email~'even'", limit: 1 })
  .autoPagingToArray({ limit: 100 });
assert.deepEqual(found.map((c) => c.id), [made[5], made[3], made[1]]);
const byPhone = await stripe.customers.search({ query: "phone~'123452' OR name~'田 太郎'" });
assert.deepEqual(byPhone.data.map((c) => c.id), [made[3], taro.id]);
await assert.rejects(
  stripe.customers.search({ query: 'status:"x"' }),
  (e) => e.type === 'StripeInvalidRequestError' && e.param === 'query',
);

// A konbini PaymentMethod: made, attached, listed, updated, used, detached.
const pm = await stripe.paymentMethods.create({
  type: 'konbini',
  billing_details: { name: '山田 太郎', email: 'taro@example.jp' },
});
assert.deepEqual([pm.type, pm.customer, pm.billing_details.name], ['konbini', null, '山田 太郎']);
assert.deepEqual(pm.konbini, {});
await assert.rejects(
  stripe.paymentMethods.update(pm.id, { metadata: { a: '1' } }),
  (e) => e.type === 'StripeInvalidRequestError' && /not attached/.test(e.message),
);
const attached = await stripe.paymentMethods.attach(pm.id, { customer: taro.id });
assert.equal(attached.customer, taro.id);
await eventFor('payment_method.attached', pm.id);
const second = await stripe.paymentMethods.create({ type: 'konbini', billing_details: { name: 'Taro', email: 't2@example.jp' } });
await stripe.paymentMethods.attach(second.id, { customer: taro.id });
const ofTaro = await stripe.customers.listPaymentMethods(taro.id, { limit: 1 }).autoPagingToArray({ limit: 10 });
assert.deepEqual(ofTaro.map((p) => p.id), [second.id, pm.id]);
const listed = await stripe.paymentMethods.list({ customer: taro.id, type: 'konbini' });
assert.deepEqual(listed.data.map((p) => p.id), [second.id, pm.id]);
assert.equal((await stripe.customers.retrievePaymentMethod(taro.id, pm.id)).id, pm.id);
const pmUpdated = await stripe.paymentMethods.update(pm.id, { billing_details: { phone: '09012345678' } });
assert.equal(pmUpdated.billing_details.phone, '09012345678');
const pmEvent = await eventFor('payment_method.updated', pm.id);
assert.deepEqual(pmEvent.data.previous_attributes, { billing_details: { phone: null } });

// The customer's default payment method, expanded.
const withDefault = await stripe.customers.update(taro.id, {
  invoice_settings: { default_payment_method: pm.id },
  expand: ['invoice_settings.default_payment_method'],
});
assert.equal(withDefault.invoice_settings.default_payment_method.id, pm.id);

// A payment with the customer and the attached payment method, expanded both ways.
const pi = await stripe.paymentIntents.create({
  amount: 1500, currency: 'jpy', customer: taro.id, payment_method: pm.id, confirm: true,
  expand: ['customer', 'payment_method.customer'],
});
assert.equal(pi.status, 'requires_action');
assert.equal(pi.customer.name, '山田 太郎 様');
assert.equal(pi.payment_method.id, pm.id);
assert.equal(pi.payment_method.customer.id, taro.id);
// A payment method attached to another customer cannot pay for this one.
await assert.rejects(
  stripe.paymentIntents.create({ amount: 1500, currency: 'jpy', customer: made[1], payment_method: pm.id }),
  (e) => e.param === 'payment_method',
);
// Confirming with payment_method_data leaves a konbini PaymentMethod behind.
const fresh = await stripe.paymentIntents.create({
  amount: 1200, currency: 'jpy', confirm: true,
  payment_method_data: { type: 'konbini', billing_details: { name: '佐藤 花子', email: 'hanako@example.jp' } },
});
const left = await stripe.paymentMethods.retrieve(fresh.payment_method);
assert.deepEqual([left.type, left.billing_details.name], ['konbini', '佐藤 花子']);

// Detaching: no longer the customer's, nor its default.
const detached = await stripe.paymentMethods.detach(pm.id);
assert.equal(detached.customer, null);
assert.equal((await eventFor('payment_method.detached', pm.id)).data.previous_attributes.customer, taro.id);
assert.equal((await stripe.customers.retrieve(taro.id)).invoice_settings.default_payment_method, null);
await assert.rejects(stripe.paymentMethods.detach(pm.id), (e) => /not attached/.test(e.message));

// Deleting: the stub, the event, the stub from a payment's expansion; no longer listed.
const deleted = await stripe.customers.del(taro.id);
assert.deepEqual([deleted.id, deleted.object, deleted.deleted], [taro.id, 'customer', true]);
assert.equal((await eventFor('customer.deleted', taro.id)).data.object.email, 'taro@example.jp');
const stub = await stripe.customers.retrieve(taro.id);
assert.equal(stub.deleted, true);
const again = await stripe.paymentIntents.retrieve(pi.id, { expand: ['customer'] });
assert.deepEqual([again.customer.id, again.customer.deleted], [taro.id, true]);
assert.ok(!(await stripe.customers.list({ limit: 100 })).data.some((c) => c.id === taro.id));

// Stripe's errors.
await assert.rejects(
  stripe.paymentIntents.create({ amount: 1200, currency: 'jpy', customer: 'cus_nobody' }),
  (e) => e.statusCode === 404 && e.code === 'resource_missing' && e.param === 'customer',
);
await assert.rejects(stripe.customers.retrieve('cus_nobody'), (e) => e.code === 'resource_missing' && e.param === 'id');
await assert.rejects(stripe.customers.create({ email: 'not an email' }), (e) => e.param === 'email');
await assert.rejects(stripe.customers.create({ nickname: 'x' }), (e) => e.code === 'parameter_unknown' && e.param === 'nickname');
await assert.rejects(stripe.paymentMethods.create({ type: 'card' }), (e) => e.param === 'type');
await assert.rejects(stripe.paymentMethods.attach(second.id, {}), (e) => e.code === 'parameter_missing' && e.param === 'customer');
await assert.rejects(stripe.customers.update(taro.id, { name: 'x' }), (e) => e.code === 'resource_missing');

server.close();
console.log('ok: customers');
