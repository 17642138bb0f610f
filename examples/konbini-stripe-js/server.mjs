// A small merchant for the konbini network's Stripe.js stand-in: its server makes a
// PaymentIntent with the secret key, and its page (index.html) confirms it in the browser with
// the publishable key through the network's /js/v3/stripe.js, as a shop does with Stripe.
//
//   NETWORK_URL=http://127.0.0.1:4242 node examples/konbini-stripe-js/server.mjs
//   # shop on http://127.0.0.1:4243
//
// Environment: NETWORK_URL (default http://127.0.0.1:4242), STRIPE_SECRET_KEY (default
// sk_test_konbini), STRIPE_PUBLISHABLE_KEY (default pk_test_konbini), PORT (default 4243; 0
// picks a free one). Node.js 18 or later, no packages. tests/node/stripe-js.mjs imports
// `start` and drives the page in Chromium.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const HERE = new URL('.', import.meta.url);

// The cart is the server's: a page never names its own price. The product description is
// what the store's receipt prints (at most 22 characters).
const CART = { amount: 1980, description: '抹茶ラテ 3本セット / Matcha latte, set of 3', product: '抹茶ラテ 3本セット' };

const escapeHtml = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

// POST /v1/payment_intents with the secret key, as a server-side Stripe library would
// (stripe-node: stripe.paymentIntents.create({...})).
async function createPaymentIntent(network, secretKey, orderId) {
  const body = new URLSearchParams({
    amount: String(CART.amount),
    currency: 'jpy',
    // No payment_method_types: from API version 2026-09-30.endive on Stripe refuses it on
    // PaymentIntents (konbini is the network's only method anyway).
    description: CART.description,
    'payment_method_options[konbini][product_description]': CART.product,
    'metadata[order_id]': orderId,
  });
  const r = await fetch(`${network}/v1/payment_intents`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${secretKey}`, 'Idempotency-Key': `order-${orderId}` },
    body,
  });
  const pi = await r.json();
  if (!r.ok) throw new Error(`the network refused the PaymentIntent: ${JSON.stringify(pi.error)}`);
  return pi;
}

// Start the shop; resolves with { url, close }.
export async function start({
  network = process.env.NETWORK_URL || 'http://127.0.0.1:4242',
  secretKey = process.env.STRIPE_SECRET_KEY || 'sk_test_konbini',
  publishableKey = process.env.STRIPE_PUBLISHABLE_KEY || 'pk_test_konbini',
  port = Number(process.env.PORT ?? 4243),
  host = '127.0.0.1',
} = {}) {
  network = network.replace(/\/+$/, '');
  const template = await readFile(new URL('index.html', HERE), 'utf8');
  const page = template
    .replaceAll('{{NETWORK_URL}}', escapeHtml(network))
    .replaceAll('{{PUBLISHABLE_KEY}}', escapeHtml(publishableKey))
    .replaceAll('{{AMOUNT}}', escapeHtml(CART.amount.toLocaleString('ja-JP')))
    .replaceAll('{{DESCRIPTION}}', escapeHtml(CART.description));
  let orders = 0;
  const server = createServer(async (req, res) => {
    try {
      if (req.method === 'GET' && (req.url === '/' || req.url === '/index.html')) {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end(page);
      } else if (req.method === 'POST' && req.url === '/create-payment-intent') {
        orders += 1;
        const orderId = `${Date.now()}-${orders}`;
        const pi = await createPaymentIntent(network, secretKey, orderId);
        // Only the client secret goes to the browser, never the secret key.
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ clientSecret: pi.client_secret, orderId }));
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('not found');
      }
    } catch (e) {
      res.writeHead(502, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: e.message }));
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const url = `http://${host}:${server.address().port}`;
  return { url, close: () => new Promise((resolve) => server.close(resolve)) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const shop = await start();
  console.log(`shop on ${shop.url}`);
}
