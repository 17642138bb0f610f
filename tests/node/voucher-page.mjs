// The hosted voucher page in a real browser, as a customer opens it: on a phone (390 CSS px
// at device scale 2) and a desktop (1280 px at scale 1), and on smaller and denser phones, the bill barcode is laid out at a
// whole number of device pixels per module with its quiet zones, and a full-page screenshot
// of each is saved for tests/it/network.rs to read with zxing-cpp (and of a 320-pixel phone
// at scale 2 and a 360-pixel one at scale 3); the customer's and the
// merchant's names are shown in the page's language, markup in them as text; a cancelled
// voucher, an expired one and one past its deadline show no codes and no barcode.
// NETWORK_URL, STRIPE_KEY, OUT_DIR (screenshots and barcode.txt); prints `ok: voucher page`.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { launch, PHONE, DESKTOP } from './browser.mjs';

const network = process.env.NETWORK_URL;
const key = process.env.STRIPE_KEY;
const out = process.env.OUT_DIR;
assert.ok(network && key && out, 'NETWORK_URL, STRIPE_KEY, OUT_DIR');

async function api(method, path, params) {
  const r = await fetch(`${network}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}` },
    body: params ? new URLSearchParams(params) : undefined,
  });
  const body = await r.json();
  assert.ok(r.ok, `${method} ${path}: ${JSON.stringify(body)}`);
  return body;
}

async function voucher(name, extra = {}) {
  return api('POST', '/v1/payment_intents', {
    amount: '52000',
    currency: 'jpy',
    confirm: 'true',
    'payment_method_data[type]': 'konbini',
    'payment_method_data[billing_details][name]': name,
    'payment_method_data[billing_details][email]': 'customer@example.jp',
    'payment_method_options[konbini][product_description]': '<i>ご注文</i> #42',
    ...extra,
  });
}

async function waitStatus(id, status) {
  for (let i = 0; i < 100; i++) {
    const pi = await api('GET', `/v1/payment_intents/${id}`);
    if (pi.status === status) return pi;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`${id} never reached ${status}`);
}

// What the page shows of a voucher that can no longer be paid.
async function assertVoid(page, url, pi, words) {
  await page.goto(url);
  const text = await page.textContent('body');
  assert.match(await page.textContent('.state'), words, text);
  assert.equal(await page.locator('svg').count(), 0, 'no barcode');
  assert.equal(await page.locator('.code').count(), 0, 'no codes');
  const details = pi.next_action?.konbini_display_details;
  for (const store of Object.values(details?.stores ?? {})) {
    if (store) assert.equal(text.includes(store.payment_code), false, `code ${store.payment_code} shown`);
  }
  assert.equal(text.includes(details?.barcode ?? 'none'), false, 'barcode digits shown');
  assert.ok(text.includes('¥52,000'), 'the amount is still shown');
}

const name = '山田 <img src=x onerror="window.hacked=1">太郎';
const pi = await voucher(name);
const details = pi.next_action.konbini_display_details;
await writeFile(join(out, 'barcode.txt'), details.barcode);

// Smaller and denser phones than the PHONE preset: the symbol still fits, on whole pixels.
const SMALL = { viewport: { width: 320, height: 568 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
const DENSE = { viewport: { width: 360, height: 780 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };
const DEVICE_PX_PER_MODULE = { phone: 2, desktop: 2, small: 2, dense: 3 };

const browser = await launch();
try {
  for (const [label, preset] of [['phone', PHONE], ['desktop', DESKTOP], ['small', SMALL], ['dense', DENSE]]) {
    const context = await browser.newContext(preset);
    const page = await context.newPage();
    await page.goto(details.hosted_voucher_url);
    // Every module a whole number of device pixels (two, on both), from a whole pixel.
    const layout = await page.evaluate(() => {
      const svg = document.querySelector('svg.barcode');
      const box = svg.getBoundingClientRect();
      const modules = svg.viewBox.baseVal.width;
      const dpr = window.devicePixelRatio;
      return {
        dpr, modules, left: box.left * dpr, width: box.width * dpr, height: box.height * dpr,
        rendering: getComputedStyle(svg).shapeRendering,
        clientWidth: document.documentElement.clientWidth,
        scroll: document.querySelector('.slip').scrollWidth - document.querySelector('.slip').clientWidth,
      };
    });
    assert.equal(layout.width / layout.modules, DEVICE_PX_PER_MODULE[label], `${label}: ${JSON.stringify(layout)}`);
    assert.ok(Number.isInteger(layout.left), `${label}: left edge at ${layout.left} device px`);
    assert.ok(Number.isInteger(layout.height), `${label}: ${JSON.stringify(layout)}`);
    assert.equal(layout.rendering, 'crispedges');
    assert.equal(layout.scroll, 0, `${label}: the barcode fits without scrolling`);
    // Quiet zones: ten white modules each side of the first and last bar.
    const bars = await page.evaluate(() =>
      [...document.querySelectorAll('svg.barcode g rect')].map((r) => [r.x.baseVal.value, r.width.baseVal.value]));
    assert.equal(bars[0][0], 10);
    assert.equal(layout.modules - (bars.at(-1)[0] + bars.at(-1)[1]), 10);
    // Names in the page's language; markup as text, nothing injected.
    assert.equal(await page.getAttribute('html', 'lang'), 'ja');
    assert.equal((await page.textContent('.customer')).trim(), `${name} 様`);
    assert.match(await page.textContent('.merchant'), /^お支払い先: Konbini Demo Shop$/);
    assert.equal(await page.locator('img, i').count(), 0);
    assert.equal(await page.evaluate(() => window.hacked), undefined);
    assert.ok((await page.textContent('body')).includes('<i>ご注文</i> #42'));
    await page.screenshot({ path: join(out, `voucher-${label}.png`), fullPage: true });
    await context.close();
  }
  // In English: the same names, the words around them in English.
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  await page.goto(`${details.hosted_voucher_url}?lang=en`);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal((await page.textContent('.customer')).trim(), `Customer: ${name}`);
  assert.equal((await page.textContent('.merchant')).trim(), 'Pay to: Konbini Demo Shop');
  assert.ok((await page.textContent('body')).includes('Payment code'));
  assert.equal(await page.locator('svg.barcode').count(), 1);

  // Cancelled: no codes, no barcode (and a screenshot with nothing to read).
  const cancelled = await voucher('Cancelled Customer');
  await api('POST', `/v1/payment_intents/${cancelled.id}/cancel`, {});
  await assertVoid(page, `${cancelled.next_action.konbini_display_details.hosted_voucher_url}?lang=en`, cancelled, /cancelled/);
  await page.screenshot({ path: join(out, 'voucher-cancelled.png'), fullPage: true });
  await page.goto(`${cancelled.next_action.konbini_display_details.hosted_voucher_url}`);
  assert.match(await page.textContent('.state'), /取り消されました/);

  // Expired (Stripe's test number that expires at once): no codes, no barcode.
  const expired = await voucher('Expired Customer', { 'payment_method_options[konbini][confirmation_number]': '33333333330' });
  await waitStatus(expired.id, 'requires_payment_method');
  await assertVoid(page, `${expired.next_action.konbini_display_details.hosted_voucher_url}?lang=en`, expired, /expired/);

  // Paid: the page says so, and shows nothing to pay with.
  const paid = await voucher('Paid Customer', { 'payment_method_options[konbini][confirmation_number]': '22222222220' });
  await waitStatus(paid.id, 'succeeded');
  await page.goto(`${paid.next_action.konbini_display_details.hosted_voucher_url}?lang=en`);
  assert.match(await page.textContent('.state'), /complete/);
  assert.equal(await page.locator('svg, .code').count(), 0);

  // Past its deadline but within the grace (a store that took the cash in time may still
  // confirm): the customer is told it has expired, and sees no codes.
  const late = await voucher('Late Customer');
  const now = (await api('GET', '/v1/test_helpers/clock')).now;
  const deadline = late.next_action.konbini_display_details.expires_at;
  await api('POST', '/v1/test_helpers/clock', { advance_seconds: String(deadline - now + 60) });
  assert.equal((await api('GET', `/v1/payment_intents/${late.id}`)).status, 'requires_action');
  await assertVoid(page, late.next_action.konbini_display_details.hosted_voucher_url, late, /期限を過ぎた/);
  console.log('ok: voucher page');
} finally {
  await browser.close();
}
