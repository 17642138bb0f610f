// Checkout Sessions and Payment Links through the official Stripe Node.js library,
// unmodified, with the hosted pages driven in a real browser (Debian's Chromium through
// playwright-core, tests/node/browser.mjs). Run by tests/it/network.rs with NETWORK_URL,
// STRIPE_KEY, TERMINAL_ID and TERMINAL_SECRET set; prints "ok: checkout" when every check
// passed. Every webhook is checked with the library's own signature verifier.
import Stripe from 'stripe';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { launch, PHONE, DESKTOP } from './browser.mjs';

const url = new URL(process.env.NETWORK_URL);
const KEY = process.env.STRIPE_KEY;
const stripe = new Stripe(KEY, {
  host: url.hostname,
  port: Number(url.port),
  protocol: 'http',
  maxNetworkRetries: 0,
  telemetry: false,
});

// The merchant's webhook endpoint: every event checked by stripe.webhooks.constructEvent.
let secret = '';
const received = [];
let refusedHooks = 0;
const shop = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    if (req.url.startsWith('/thanks')) {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><h1 id="thanks">Thanks</h1>');
      return;
    }
    try {
      received.push(stripe.webhooks.constructEvent(body, req.headers['stripe-signature'], secret));
      res.writeHead(200).end();
    } catch (e) {
      refusedHooks++;
      console.error(`webhook refused: ${e.message}`);
      res.writeHead(400).end();
    }
  });
});
await new Promise((r) => shop.listen(0, '127.0.0.1', r));
const shopUrl = `http://127.0.0.1:${shop.address().port}`;
secret = (await stripe.webhookEndpoints.create({ url: `${shopUrl}/webhooks`, enabled_events: ['*'] })).secret;

async function until(what, check) {
  for (let i = 0; i < 300; i++) {
    const found = check();
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; got ${received.map((e) => e.type)}`);
}
const eventOf = (type, id) => until(`${type} of ${id}`, () => received.find((e) => e.type === type && e.data.object.id === id));

async function advanceClock(seconds) {
  const r = await fetch(new URL('/v1/test_helpers/clock', url), {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: `advance_seconds=${seconds}`,
  });
  assert.equal(r.status, 200, await r.text());
}

// Merchant strings with HTML in them: every page must show them as text.
const EVIL = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">';
const tea = await stripe.prices.create({ currency: 'jpy', unit_amount: 800, product_data: { name: 'Green tea' } });
const monthly = await stripe.prices.create({ currency: 'jpy', unit_amount: 800, recurring: { interval: 'month' }, product_data: { name: 'Tea club' } });

// --- Refusals, as Stripe refuses them, each naming its param.
const line = (over = {}) => ({ price_data: { currency: 'jpy', unit_amount: 1000, product_data: { name: 'Cake' }, ...over }, quantity: 1 });
const refused = async (params, check) => assert.rejects(stripe.checkout.sessions.create({ mode: 'payment', ...params }), (e) => {
  assert.equal(e.type, 'StripeInvalidRequestError', e.message);
  check(e);
  return true;
});
await refused({ line_items: [line({ currency: 'usd' })] }, (e) => {
  assert.equal(e.param, 'line_items[0][price_data][currency]');
  assert.match(e.message, /usd/);
});
await refused({ line_items: [{ price: monthly.id, quantity: 1 }] }, (e) => assert.equal(e.param, 'line_items[0][price]'));
await refused({ line_items: [line({ unit_amount: 100 })] }, (e) => assert.deepEqual([e.code, e.param], ['amount_too_small', 'line_items']));
await refused({ line_items: [line({ unit_amount: 300001 })] }, (e) => assert.deepEqual([e.code, e.param], ['amount_too_large', 'line_items']));
await refused({ line_items: [line()], expires_at: Math.floor(Date.now() / 1000) + 600 }, (e) => assert.equal(e.param, 'expires_at'));
await refused({ line_items: [line()], shipping_address_collection: { allowed_countries: ['JP'] } }, (e) => {
  assert.equal(e.code, 'parameter_unknown');
  assert.equal(e.param, 'shipping_address_collection[allowed_countries][0]');
});
await refused({ line_items: [{ price: 'price_missing', quantity: 1 }] }, (e) => assert.equal(e.param, 'line_items[0][price]'));
// The library sends Stripe-Version 2026-10-28.endive, which no longer takes payment_method_types.
await refused({ line_items: [line()], payment_method_types: ['konbini'] }, (e) => {
  assert.deepEqual([e.code, e.param], ['payment_method_types_no_longer_supported', 'payment_method_types']);
});

// --- A session with a Price and a price_data line.
const session = await stripe.checkout.sessions.create({
  mode: 'payment',
  line_items: [
    { price: tea.id, quantity: 2 },
    { price_data: { currency: 'jpy', unit_amount: 500, product_data: { name: EVIL, description: 'Fresh "today" & <b>soft</b>' } }, quantity: 1 },
  ],
  customer_email: 'hanako@example.jp',
  allowed_payment_method_types: ['konbini'],
  payment_method_options: { konbini: { expires_after_days: 2 } },
  success_url: `${shopUrl}/thanks?session_id={CHECKOUT_SESSION_ID}`,
  cancel_url: `${shopUrl}/cart`,
  metadata: { order: 'A-1' },
  payment_intent_data: { description: 'Order A-1', metadata: { order: 'A-1' } },
});
assert.equal(session.object, 'checkout.session');
assert.deepEqual([session.status, session.payment_status, session.amount_total, session.payment_intent], ['open', 'unpaid', 2100, null]);
assert.equal(session.url, `${url.origin}/checkout/${session.id}`);
const items = await stripe.checkout.sessions.listLineItems(session.id);
assert.deepEqual(items.data.map((li) => [li.description, li.quantity, li.amount_total]), [['Green tea', 2, 1600], [EVIL, 1, 500]]);
assert.equal(items.data[0].price.id, tea.id);
const expanded = await stripe.checkout.sessions.retrieve(session.id, { expand: ['line_items.data.price.product'] });
assert.deepEqual(expanded.line_items.data.map((li) => li.price.product.name), ['Green tea', EVIL]);
// product_data made a Product, kept like any other.
assert.equal((await stripe.products.retrieve(items.data[1].price.product)).name, EVIL);
const withProducts = await stripe.checkout.sessions.listLineItems(session.id, { expand: ['data.price.product'] });
assert.equal(withProducts.data[0].price.product.id, tea.product);
const open = await stripe.checkout.sessions.list({ status: 'open' });
assert.deepEqual(open.data.map((s) => s.id), [session.id]);

// --- The customer in a browser, on a phone.
const browser = await launch();
const phone = await browser.newContext(PHONE);
const page = await phone.newPage();
page.on('dialog', () => { throw new Error('a merchant string ran as script'); });
let response = await page.goto(session.url);
assert.equal(response.status(), 200);
assert.equal(await page.locator('html').getAttribute('lang'), 'ja');
assert.equal(await page.locator('.item').nth(1).textContent(), EVIL, 'HTML in a product name is shown as text');
assert.equal(await page.locator('main img').count(), 0);
assert.equal(await page.evaluate(() => window.pwned), undefined);
assert.equal(await page.locator('.desc', { hasText: 'Fresh' }).textContent(), 'Fresh "today" & <b>soft</b>');
assert.equal(await page.locator('#total').textContent(), '¥2,100');
assert.equal(await page.locator('#email').inputValue(), 'hanako@example.jp');
assert.ok((await page.content()).includes('Konbini Demo Shop'));
// Fits a phone: nothing wider than the viewport.
assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth));

// A confirmation number the store network rejects: the form comes back with the message.
await page.fill('#name', '山田 花子');
await page.fill('#phone', '01234567890');
response = await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]).then(([r]) => r);
assert.equal(response.status(), 400);
assert.match(await page.locator('.error').textContent(), /確認番号/);
assert.equal(await page.locator('#name').inputValue(), '山田 花子');
assert.equal((await stripe.checkout.sessions.retrieve(session.id)).status, 'open', 'a refused submission keeps nothing');

await page.fill('#phone', '090-1234-5678');
await Promise.all([page.waitForURL(/\/vouchers\//), page.click('button[type=submit]')]);
assert.match(await page.locator('h1').first().textContent(), /コンビニお支払い票/);
const successHref = await page.locator('#success').getAttribute('href');
assert.equal(successHref, `${shopUrl}/thanks?session_id=${session.id}`);

// The session is complete and unpaid; its payment carries payment_intent_data.
const done = await stripe.checkout.sessions.retrieve(session.id, { expand: ['payment_intent.payment_method'] });
assert.deepEqual([done.status, done.payment_status, done.url], ['complete', 'unpaid', null]);
assert.deepEqual([done.customer_details.name, done.customer_details.email, done.customer_details.phone], ['山田 花子', 'hanako@example.jp', '09012345678']);
// customer_creation defaults to if_required: a one-time konbini payment makes no Customer.
assert.deepEqual([done.customer_creation, done.customer, done.payment_intent.customer], ['if_required', null, null]);
const pi = done.payment_intent;
assert.deepEqual([pi.status, pi.amount, pi.description, pi.metadata.order], ['requires_action', 2100, 'Order A-1', 'A-1']);
assert.equal(pi.payment_method.type, 'konbini');
assert.deepEqual([pi.payment_method.billing_details.name, pi.payment_method.billing_details.email], ['山田 花子', 'hanako@example.jp']);
const details = pi.next_action.konbini_display_details;
assert.equal(details.stores.lawson.confirmation_number, '09012345678');
assert.equal((await stripe.checkout.sessions.list({ payment_intent: pi.id })).data[0].id, session.id);
// A session's payment is confirmed by its page: the API refuses to confirm or cancel it.
await assert.rejects(stripe.paymentIntents.cancel(pi.id), (e) => e.code === 'payment_intent_unexpected_state');
const completed = await eventOf('checkout.session.completed', session.id);
assert.equal(completed.data.object.payment_status, 'unpaid');

// Completed: the page says so, links to its voucher, and cannot be submitted again.
await page.goto(session.url);
assert.match(await page.locator('.state').textContent(), /すでに完了/);
assert.match(await page.locator('#voucher').getAttribute('href'), /^\/vouchers\//);
const again = await fetch(session.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=x&email=x%40example.jp' });
assert.equal(again.status, 409);

// --- A register pays the voucher at Lawson through the signed terminal API.
const { payment_code, confirmation_number } = details.stores.lawson;
const batch = JSON.stringify({
  confirmations: [{ id: 'checkout-slip-1', store: '0001', chain: 'lawson', paid_at: new Date().toISOString(), amount: 2100, payment_code, confirmation_number }],
});
const t = Math.floor(Date.now() / 1000);
const path = '/terminal/v1/confirmations';
const v1 = crypto.createHmac('sha256', process.env.TERMINAL_SECRET).update(`${t}.POST.${path}.${batch}`).digest('hex');
const answer = await fetch(new URL(path, url), {
  method: 'POST',
  headers: { 'content-type': 'application/json', 'Konbini-Terminal': process.env.TERMINAL_ID, 'Konbini-Signature': `t=${t},v1=${v1}` },
  body: batch,
}).then((r) => r.json());
assert.equal(answer.results[0].status, 'accepted', JSON.stringify(answer));
assert.equal((await stripe.checkout.sessions.retrieve(session.id)).payment_status, 'paid');
const succeeded = await eventOf('checkout.session.async_payment_succeeded', session.id);
assert.equal(succeeded.data.object.payment_status, 'paid');
// In causal order, as the network recorded them (webhooks arrive up to 4 at a time, and
// Stripe promises no delivery order): the payment's events, then the session's.
const order = (await stripe.events.list({ limit: 100 })).data.map((e) => e.type).reverse();
assert.ok(order.indexOf('payment_intent.succeeded') < order.indexOf('checkout.session.async_payment_succeeded'), order.join());
assert.ok(order.indexOf('payment_intent.requires_action') < order.indexOf('checkout.session.completed'), order.join());

// --- A session nobody completes expires by the clock; another is expired by the merchant.
const lapsing = await stripe.checkout.sessions.create({ line_items: [line()], expires_at: Math.floor(Date.now() / 1000) + 31 * 60 });
const dropped = await stripe.checkout.sessions.create({ line_items: [line()] });
const expiredNow = await stripe.checkout.sessions.expire(dropped.id);
assert.deepEqual([expiredNow.status, expiredNow.url], ['expired', null]);
await assert.rejects(stripe.checkout.sessions.expire(dropped.id), (e) => e.statusCode === 400);
await eventOf('checkout.session.expired', dropped.id);
// A third is completed (by the form, posted as a browser would) and its voucher runs out.
const unpaid = await stripe.checkout.sessions.create({ line_items: [line()], payment_method_options: { konbini: { expires_after_days: 1 } } });
const posted = await fetch(unpaid.url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=Jiro&email=jiro%40example.jp' });
assert.equal(posted.status, 303);
assert.match(posted.headers.get('location'), /^\/vouchers\//);

await advanceClock(32 * 60);
await eventOf('checkout.session.expired', lapsing.id);
const lapsed = await stripe.checkout.sessions.retrieve(lapsing.id);
assert.deepEqual([lapsed.status, lapsed.url], ['expired', null]);
await page.goto(lapsing.url ?? `${url.origin}/checkout/${lapsing.id}`);
assert.match(await page.locator('.state').textContent(), /有効期限が切れています/);

await advanceClock(3 * 86400);
const failed = await eventOf('checkout.session.async_payment_failed', unpaid.id);
assert.deepEqual([failed.data.object.status, failed.data.object.payment_status], ['complete', 'unpaid']);

// --- Payment Links: each visit is a new session; a deactivated link shows its message.
const link = await stripe.paymentLinks.create({ line_items: [{ price: tea.id, quantity: 3 }], metadata: { campaign: 'winter' } });
assert.equal(link.object, 'payment_link');
assert.equal(link.active, true);
assert.deepEqual((await stripe.paymentLinks.listLineItems(link.id)).data.map((li) => li.amount_total), [2400]);
const desktop = await (await browser.newContext(DESKTOP)).newPage();
const visited = [];
for (let i = 0; i < 2; i++) {
  await desktop.goto(link.url);
  assert.match(desktop.url(), /\/checkout\/cs_test_/);
  assert.equal(await desktop.locator('#total').textContent(), '¥2,400');
  visited.push(desktop.url().split('/checkout/')[1]);
}
assert.notEqual(visited[0], visited[1]);
const fromLink = await stripe.checkout.sessions.list({ payment_link: link.id });
assert.deepEqual(fromLink.data.map((s) => s.id).sort(), [...visited].sort());
assert.ok(fromLink.data.every((s) => s.payment_link === link.id));
const off = await stripe.paymentLinks.update(link.id, { active: false, inactive_message: `Sold out ${EVIL}` });
assert.equal(off.active, false);
await desktop.goto(`${link.url}?lang=en`);
assert.equal(await desktop.locator('#inactive').textContent(), `Sold out ${EVIL}`);
assert.equal(await desktop.locator('main img').count(), 0);
assert.deepEqual((await stripe.paymentLinks.list({ active: false })).data.map((l) => l.id), [link.id]);
assert.equal((await stripe.paymentLinks.retrieve(link.id)).metadata.campaign, 'winter');

// --- customer_creation 'always': the page's details make a Customer (customer.created),
// named by the session and its PaymentIntent; a link passes it on to each session.
const always = await stripe.checkout.sessions.create({ line_items: [line()], customer_creation: 'always' });
assert.deepEqual([always.customer_creation, always.customer], ['always', null]);
await desktop.goto(always.url);
await desktop.fill('#name', 'Saburo <i>Ito</i>');
await desktop.fill('#email', 'saburo@example.jp');
await desktop.fill('#phone', '080-1111-2222');
await Promise.all([desktop.waitForURL(/\/vouchers\//), desktop.click('button[type=submit]')]);
const withCustomer = await stripe.checkout.sessions.retrieve(always.id, { expand: ['customer', 'payment_intent'] });
assert.equal(withCustomer.customer_creation, 'always');
const madeCustomer = withCustomer.customer;
assert.deepEqual([madeCustomer.object, madeCustomer.name, madeCustomer.email, madeCustomer.phone], ['customer', 'Saburo <i>Ito</i>', 'saburo@example.jp', '08011112222']);
assert.equal(withCustomer.payment_intent.customer, madeCustomer.id);
await eventOf('customer.created', madeCustomer.id);
assert.deepEqual((await stripe.checkout.sessions.list({ customer: madeCustomer.id })).data.map((s) => s.id), [always.id]);
assert.deepEqual((await stripe.paymentIntents.list({ customer: madeCustomer.id })).data.map((p) => p.id), [withCustomer.payment_intent.id]);
const alwaysLink = await stripe.paymentLinks.create({ line_items: [{ price: tea.id, quantity: 1 }], customer_creation: 'always' });
assert.equal(alwaysLink.customer_creation, 'always');
await desktop.goto(alwaysLink.url);
const linkSession = await stripe.checkout.sessions.retrieve(desktop.url().split('/checkout/')[1].split('?')[0]);
assert.deepEqual([linkSession.payment_link, linkSession.customer_creation], [alwaysLink.id, 'always']);
await assert.rejects(
  stripe.checkout.sessions.create({ line_items: [line()], customer_creation: 'sometimes' }),
  (e) => e.statusCode === 400 && e.param === 'customer_creation',
);

// --- English by ?lang=en, and a 404 page for an unknown session.
await page.goto(`${url.origin}/checkout/${dropped.id}?lang=en`);
assert.equal(await page.locator('html').getAttribute('lang'), 'en');
assert.match(await page.locator('.state').textContent(), /expired/);
response = await page.goto(`${url.origin}/checkout/cs_test_nope`);
assert.equal(response.status(), 404);
assert.match(response.headers()['content-type'], /text\/html/);

await browser.close();
shop.close();
assert.equal(refusedHooks, 0, 'every webhook passed the library signature check');
for (const type of ['checkout.session.completed', 'checkout.session.async_payment_succeeded', 'checkout.session.async_payment_failed', 'checkout.session.expired', 'payment_link.created', 'payment_link.updated']) {
  assert.ok(received.some((e) => e.type === type), `no ${type}`);
}
console.log('ok: checkout');
