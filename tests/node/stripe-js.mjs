// The Stripe.js stand-in in a real browser: the example shop (examples/konbini-stripe-js) on
// its own origin, loaded in Chromium on a phone, makes a PaymentIntent on its server with the
// secret key and confirms it in the page with the publishable key, with handleActions true
// (the voucher shown over the page) and false (the page shows next_action itself);
// retrievePaymentIntent answers only what Stripe shows a publishable key; errors come back as
// {error}; the publishable key anywhere else is Stripe's 401. Run by tests/it/network.rs
// against a fresh network (NETWORK_URL, STRIPE_KEY, STRIPE_PUBLISHABLE_KEY); prints
// `ok: stripe.js`.
import assert from 'node:assert/strict';
import { launch, PHONE, DESKTOP } from './browser.mjs';
import { start } from '../../examples/konbini-stripe-js/server.mjs';

const network = process.env.NETWORK_URL;
const secretKey = process.env.STRIPE_KEY;
const publishableKey = process.env.STRIPE_PUBLISHABLE_KEY;
assert.ok(network && secretKey && publishableKey, 'NETWORK_URL, STRIPE_KEY, STRIPE_PUBLISHABLE_KEY');

// What a publishable key is shown of a PaymentIntent (crates/network/src/http/publishable.rs).
const PUBLISHABLE_FIELDS = [
  'amount', 'automatic_payment_methods', 'canceled_at', 'cancellation_reason', 'capture_method',
  'client_secret', 'confirmation_method', 'created', 'currency', 'description',
  'last_payment_error', 'livemode', 'next_action', 'payment_method', 'payment_method_types',
  'processing', 'receipt_email', 'setup_future_usage', 'shipping', 'status', 'id', 'object',
].sort();
const SECRET_KEY_REQUIRED =
  'This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.';

async function api(method, path, params, key = secretKey) {
  const body = params ? new URLSearchParams(params) : undefined;
  const r = await fetch(`${network}${path}`, { method, headers: { Authorization: `Bearer ${key}` }, body });
  return { status: r.status, body: await r.json() };
}

// The script itself, as a page's <script> gets it.
const script = await fetch(`${network}/js/v3/stripe.js`);
assert.equal(script.status, 200);
assert.match(script.headers.get('content-type'), /^text\/javascript/);
assert.match(script.headers.get('cache-control'), /max-age=\d+/);
assert.match(await script.text(), /confirmKonbiniPayment/);

const shop = await start({ network, secretKey, publishableKey, port: 0 });
assert.notEqual(new URL(shop.url).origin, new URL(network).origin, 'the shop is on another origin than the network');
const browser = await launch();
try {
  const context = await browser.newContext({ ...PHONE, locale: 'ja-JP' });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(shop.url);
  await page.waitForFunction(() => typeof window.Stripe === 'function' && window.stripe);

  // 1. handleActions true: the voucher over the page, in the page's language, until closed.
  await page.fill('#name', '山田 <b>太郎</b>');
  await page.fill('#email', 'taro@example.jp');
  await page.fill('#phone', '09012345678');
  await page.click('#pay');
  const overlay = page.locator('#konbini-stripe-voucher');
  await overlay.waitFor({ state: 'visible' });
  const voucher = page.frameLocator('#konbini-stripe-voucher iframe');
  await voucher.locator('section.slip svg.barcode').waitFor();
  const voucherCodes = await voucher.locator('td.code').allTextContents();
  assert.ok(voucherCodes.length >= 2, `codes on the voucher: ${voucherCodes}`);
  assert.equal(await voucher.locator('html').getAttribute('lang'), 'ja');
  // The customer's name as text, with the honorific; the markup in it is not markup.
  assert.equal((await voucher.locator('.customer').textContent()).trim(), '山田 <b>太郎</b> 様');
  assert.equal(await voucher.locator('.customer b').count(), 0);
  // Still waiting: the promise resolves only when the customer closes the voucher.
  assert.equal(await page.evaluate(() => window.lastResult === undefined), true);
  await page.click('[data-konbini-voucher-close]');
  await overlay.waitFor({ state: 'detached' });
  await page.waitForFunction(() => window.lastResult !== undefined);
  let result = await page.evaluate(() => window.lastResult);
  assert.equal(result.error, undefined, JSON.stringify(result.error));
  assert.equal(result.paymentIntent.status, 'requires_action');
  assert.deepEqual(Object.keys(result.paymentIntent).sort(), PUBLISHABLE_FIELDS);
  const details = result.paymentIntent.next_action.konbini_display_details;
  assert.equal(details.stores.lawson.confirmation_number, '09012345678');
  assert.ok(voucherCodes.includes(details.stores.lawson.payment_code), 'the overlay showed this payment');
  assert.match(await page.textContent('#message'), /requires_action/);
  const firstSecret = await page.evaluate(() => window.clientSecret);

  // 2. handleActions false: resolved at once with next_action; the page shows the codes.
  await page.evaluate(() => { window.lastResult = undefined; });
  await page.uncheck('#handle-actions');
  await page.fill('#phone', '');
  await page.click('#pay');
  await page.waitForFunction(() => window.lastResult !== undefined);
  result = await page.evaluate(() => window.lastResult);
  assert.equal(result.error, undefined, JSON.stringify(result.error));
  assert.equal(await overlay.count(), 0, 'no overlay with handleActions false');
  const own = result.paymentIntent.next_action.konbini_display_details;
  assert.equal(own.stores.familymart.confirmation_number.length, 11, 'a number is made when none is given');
  assert.equal(
    (await page.textContent('[data-chain="familymart"] .code')).trim(),
    `${own.stores.familymart.payment_code} / ${own.stores.familymart.confirmation_number}`,
  );
  assert.equal(await page.getAttribute('#voucher-link', 'href'), own.hosted_voucher_url);

  // 3. retrievePaymentIntent: the publishable subset, nothing of the merchant's own.
  await page.click('#check');
  await page.waitForFunction(() => window.lastRetrieve !== undefined);
  const retrieved = await page.evaluate(() => window.lastRetrieve);
  assert.equal(retrieved.error, undefined, JSON.stringify(retrieved.error));
  assert.deepEqual(Object.keys(retrieved.paymentIntent).sort(), PUBLISHABLE_FIELDS);
  for (const hidden of ['metadata', 'customer', 'latest_charge', 'payment_method_options', 'amount_received']) {
    assert.equal(hidden in retrieved.paymentIntent, false, hidden);
  }
  // The secret key sees the rest (the order id the shop's server put in metadata).
  const full = await api('GET', `/v1/payment_intents/${retrieved.paymentIntent.id}`);
  assert.match(full.body.metadata.order_id, /^\d+-\d+$/);
  assert.equal(full.body.payment_method_options.konbini.confirmation_number, null);

  // 4. Paid: Stripe's test number that succeeds at once, then read back until succeeded.
  const paid = await page.evaluate(async () => {
    const made = await fetch('/create-payment-intent', { method: 'POST' }).then((r) => r.json());
    const r = await window.stripe.confirmKonbiniPayment(made.clientSecret, {
      payment_method: { billing_details: { name: 'Hanako Sato', email: 'hanako@example.jp' } },
      payment_method_options: { konbini: { confirmation_number: '22222222220' } },
    }, { handleActions: false });
    if (r.error) return { error: r.error };
    for (let i = 0; i < 100; i++) {
      const back = await window.stripe.retrievePaymentIntent(made.clientSecret);
      if (back.error || back.paymentIntent.status !== 'requires_action') return back;
      await new Promise((done) => setTimeout(done, 100));
    }
    return { error: { message: 'still requires_action after 10 s' } };
  });
  assert.equal(paid.error, undefined, JSON.stringify(paid.error));
  assert.equal(paid.paymentIntent.status, 'succeeded');
  assert.equal(paid.paymentIntent.next_action, null);

  // 4b. A kept PaymentMethod: made in the page with createPaymentMethod (billing address
  // included), then confirmed by its id; and an address given inline to confirm.
  const ADDRESS = { country: 'JP', postal_code: '150-0001', state: '東京都', city: '渋谷区', line1: '神宮前1-1-1', line2: 'ハイツ <b>101</b>' };
  const kept = await page.evaluate(async (address) => {
    const out = {};
    const make = () => fetch('/create-payment-intent', { method: 'POST' }).then((r) => r.json());
    const made = await make();
    out.created = await window.stripe.createPaymentMethod({
      type: 'konbini', billing_details: { name: 'Kenji Mori', email: 'kenji@example.jp', phone: '09033334444', address },
    });
    out.byId = await window.stripe.confirmKonbiniPayment(made.clientSecret, {
      payment_method: out.created.paymentMethod && out.created.paymentMethod.id,
    }, { handleActions: false });
    const inline = await make();
    out.inline = await window.stripe.confirmKonbiniPayment(inline.clientSecret, {
      payment_method: { billing_details: { name: 'Yumi Aoki', email: 'yumi@example.jp', address } },
    }, { handleActions: false });
    const missing = await make();
    out.missing = await window.stripe.confirmKonbiniPayment(missing.clientSecret, { payment_method: 'pm_nosuchthing' });
    out.badType = await window.stripe.createPaymentMethod({ type: 'card', billing_details: { name: 'x' } });
    try {
      window.stripe.createPaymentMethod('konbini');
      out.thrownPm = null;
    } catch (e) {
      out.thrownPm = e.name;
    }
    return out;
  }, ADDRESS);
  assert.equal(kept.created.error, undefined, JSON.stringify(kept.created.error));
  const keptPm = kept.created.paymentMethod;
  assert.match(keptPm.id, /^pm_/);
  assert.deepEqual([keptPm.type, keptPm.billing_details.name, keptPm.billing_details.address], ['konbini', 'Kenji Mori', ADDRESS]);
  assert.equal(kept.byId.error, undefined, JSON.stringify(kept.byId.error));
  assert.deepEqual([kept.byId.paymentIntent.status, kept.byId.paymentIntent.payment_method], ['requires_action', keptPm.id]);
  let seen = await api('GET', `/v1/payment_intents/${kept.byId.paymentIntent.id}?expand[]=payment_method`);
  assert.equal(seen.body.payment_method.billing_details.email, 'kenji@example.jp');
  assert.equal(seen.body.next_action.konbini_display_details.stores.lawson.confirmation_number.length, 11);
  assert.equal(kept.inline.error, undefined, JSON.stringify(kept.inline.error));
  seen = await api('GET', `/v1/payment_intents/${kept.inline.paymentIntent.id}?expand[]=payment_method`);
  assert.deepEqual(seen.body.payment_method.billing_details.address, ADDRESS);
  assert.equal(seen.body.payment_method.billing_details.name, 'Yumi Aoki');
  assert.deepEqual([kept.missing.error.code, kept.missing.error.param], ['resource_missing', 'payment_method']);
  assert.equal(kept.missing.paymentIntent, undefined);
  assert.equal(kept.badType.error.param, 'type');
  assert.equal(kept.thrownPm, 'IntegrationError');

  // 5. Errors resolve as {error}, as Stripe.js resolves them; bad arguments throw.
  const errors = await page.evaluate(async ({ firstSecret }) => {
    const out = {};
    const made = await fetch('/create-payment-intent', { method: 'POST' }).then((r) => r.json());
    out.rejected = await window.stripe.confirmKonbiniPayment(made.clientSecret, {
      payment_method: { billing_details: { name: 'Rejected', email: 'r@example.jp' } },
      payment_method_options: { konbini: { confirmation_number: '01234567890' } },
    });
    out.overlayAfterError = document.getElementById('konbini-stripe-voucher') !== null;
    out.noEmail = await window.stripe.confirmKonbiniPayment(made.clientSecret, {
      payment_method: { billing_details: { name: 'No Email' } },
    }, { handleActions: false });
    // Another payment's id with this secret: the secret does not match.
    const otherId = made.clientSecret.split('_secret_')[0];
    const forged = firstSecret.replace(/^pi_[A-Za-z0-9]+/, otherId);
    out.forged = await window.stripe.retrievePaymentIntent(forged);
    try {
      window.stripe.retrievePaymentIntent('not-a-secret');
      out.thrown = null;
    } catch (e) {
      out.thrown = e.name;
    }
    try {
      window.Stripe('sk_test_whatever');
      out.secretThrown = null;
    } catch (e) {
      out.secretThrown = e.message;
    }
    return out;
  }, { firstSecret });
  assert.equal(errors.rejected.paymentIntent, undefined);
  assert.equal(errors.rejected.error.code, 'payment_intent_konbini_rejected_confirmation_number');
  assert.equal(errors.rejected.error.param, 'payment_method_options[konbini][confirmation_number]');
  assert.equal(errors.overlayAfterError, false);
  assert.equal(errors.noEmail.error.code, 'parameter_missing');
  assert.equal(errors.noEmail.error.param, 'payment_method_data[billing_details][email]');
  assert.equal(errors.forged.error.code, 'payment_intent_invalid_parameter');
  assert.equal(errors.forged.error.param, 'client_secret');
  assert.equal(
    errors.forged.error.message,
    'The client_secret provided does not match the client_secret associated with the PaymentIntent.',
  );
  assert.equal(errors.thrown, 'IntegrationError');
  assert.match(errors.secretThrown, /secret key/);

  // 6. The publishable key where only the secret key may go: Stripe's 401, from the page
  // (across origins) and from a server alike.
  const fromPage = await page.evaluate(async ({ network, publishableKey }) => {
    const auth = { Authorization: `Bearer ${publishableKey}` };
    const list = await fetch(`${network}/v1/payment_intents`, { headers: auth });
    const create = await fetch(`${network}/v1/payment_intents`, {
      method: 'POST', headers: auth, body: new URLSearchParams({ amount: '1200', currency: 'jpy' }),
    });
    return { list: [list.status, await list.json()], create: [create.status, await create.json()] };
  }, { network, publishableKey });
  for (const [status, body] of [fromPage.list, fromPage.create]) {
    assert.equal(status, 401);
    assert.deepEqual(body.error, { type: 'invalid_request_error', code: 'secret_key_required', message: SECRET_KEY_REQUIRED });
  }
  const piId = retrieved.paymentIntent.id;
  for (const [method, path, params] of [
    ['GET', '/v1/events'],
    ['GET', '/v1/payment_intents/search?query=status:%22succeeded%22'],
    ['POST', `/v1/payment_intents/${piId}`, { description: 'changed' }],
    ['POST', `/v1/payment_intents/${piId}/cancel`, {}],
    ['POST', '/v1/refunds', { payment_intent: piId }],
    ['POST', '/v1/webhook_endpoints', { url: 'https://example.com/hook', 'enabled_events[]': '*' }],
    ['POST', '/v1/test_helpers/clock', { advance_seconds: '60' }],
  ]) {
    const r = await api(method, path, params, publishableKey);
    assert.equal(r.status, 401, `${method} ${path}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'secret_key_required', `${method} ${path}`);
  }
  // Allowed, but only with the payment's client secret.
  const bare = await api('GET', `/v1/payment_intents/${piId}`, undefined, publishableKey);
  assert.equal(bare.status, 400);
  assert.equal(bare.body.error.code, 'parameter_missing');
  assert.equal(bare.body.error.param, 'client_secret');
  // A wrong publishable key is named as one.
  const wrong = await api('GET', `/v1/payment_intents/${piId}`, undefined, 'pk_test_wrongkey1234');
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error.message, 'Invalid API Key provided: pk_test_****1234');
  // Nothing the publishable key tried changed the payment.
  const after = await api('GET', `/v1/payment_intents/${piId}`);
  assert.equal(after.body.status, 'requires_action');
  assert.equal(after.body.description, full.body.description);

  // The same shop on a desktop, in English: the overlay's voucher follows the locale.
  const desk = await browser.newContext({ ...DESKTOP, locale: 'en-US' });
  const deskPage = await desk.newPage();
  deskPage.on('pageerror', (e) => pageErrors.push(e.message));
  await deskPage.goto(shop.url);
  await deskPage.waitForFunction(() => window.stripe);
  await deskPage.fill('#name', 'Jane Doe');
  await deskPage.fill('#email', 'jane@example.com');
  await deskPage.click('#pay');
  const deskVoucher = deskPage.frameLocator('#konbini-stripe-voucher iframe');
  await deskVoucher.locator('section.slip svg.barcode').waitFor();
  assert.equal(await deskVoucher.locator('html').getAttribute('lang'), 'en');
  assert.equal((await deskVoucher.locator('.customer').textContent()).trim(), 'Customer: Jane Doe');
  await deskPage.keyboard.press('Escape');
  await deskPage.waitForFunction(() => window.lastResult !== undefined);
  assert.equal((await deskPage.evaluate(() => window.lastResult)).paymentIntent.status, 'requires_action');

  assert.deepEqual(pageErrors, []);
  console.log('ok: stripe.js');
} finally {
  await browser.close();
  await shop.close();
}
