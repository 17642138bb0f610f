"""Products and Prices through the official stripe-python, unmodified: one-time and
recurring JPY prices, updates, list filters, auto-paging forward and backward, search,
Stripe's errors, and the product/price webhooks checked with the library's own signature
verifier (stripe.Webhook.construct_event). Run by tests/it/network.rs with NETWORK_URL and
STRIPE_KEY set; prints "ok: catalog" when every check passed."""

import os
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import stripe

stripe.api_key = os.environ["STRIPE_KEY"]
stripe.api_base = os.environ["NETWORK_URL"]
stripe.max_network_retries = 0

received = []
secret = {"value": ""}


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"])).decode()
        try:
            event = stripe.Webhook.construct_event(
                body, self.headers["stripe-signature"], secret["value"]
            )
            received.append(event)
            self.send_response(200)
        except (ValueError, stripe.SignatureVerificationError) as e:
            print("webhook refused:", e)
            self.send_response(400)
        self.end_headers()

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()
endpoint = stripe.WebhookEndpoint.create(
    url=f"http://127.0.0.1:{server.server_port}/hooks",
    enabled_events=["product.created", "product.updated", "price.created"],
)
secret["value"] = endpoint.secret


def event_for(kind, object_id):
    for _ in range(200):
        for e in received:
            if e.type == kind and e.data.object.id == object_id:
                return e
        time.sleep(0.05)
    raise AssertionError(f"no {kind} for {object_id}: {[e.type for e in received]}")


product = stripe.Product.create(
    name="お茶 500ml",
    default_price_data={"currency": "jpy", "unit_amount": 140},
)
price = stripe.Price.retrieve(product.default_price, expand=["product"])
assert (price.unit_amount, price.currency, price.type) == (140, "jpy", "one_time")
assert price.product.name == "お茶 500ml"
yearly = stripe.Price.create(
    product=product.id,
    currency="jpy",
    unit_amount=12000,
    recurring={"interval": "year"},
    lookup_key="tea-yearly",
)
assert yearly.recurring.interval == "year" and yearly.type == "recurring"
assert [p.id for p in stripe.Price.list(lookup_keys=["tea-yearly"]).data] == [yearly.id]

product = stripe.Product.modify(product.id, description="Green tea", metadata={"shelf": "3"})
assert product.description == "Green tea"
updated = event_for("product.updated", product.id)
assert updated.data.previous_attributes["description"] is None
assert updated.data.previous_attributes["metadata"].to_dict() == {"shelf": None}, updated.data.previous_attributes
event_for("price.created", yearly.id)

made = [product.id] + [stripe.Product.create(name=f"団子 {i}").id for i in range(4)]
forward = [p.id for p in stripe.Product.list(limit=2).auto_paging_iter()]
assert forward == made[::-1], forward
back = stripe.Product.list(limit=2, ending_before=made[0]).auto_paging_iter()
assert [p.id for p in back] == made[1:]
try:
    stripe.Product.search(query="name~'団子'")
    raise AssertionError("a 2-character substring was accepted")
except stripe.InvalidRequestError as e:
    assert e.param == "query", e.param
found = stripe.Product.search(query="name~'団子 ' OR name:'お茶 500ml'", limit=2)
assert found.object == "search_result" and found.has_more
assert [p.id for p in found.auto_paging_iter()] == made[::-1]
assert [p.id for p in stripe.Price.search(query="lookup_key:'tea-yearly'").data] == [yearly.id]

try:
    stripe.Price.create(product=product.id, currency="usd", unit_amount=100)
    raise AssertionError("a usd price was accepted")
except stripe.InvalidRequestError as e:
    assert e.param == "currency" and "jpy" in e.user_message, (e.param, e.user_message)
try:
    stripe.Price.retrieve("price_missing")
    raise AssertionError("a missing price was found")
except stripe.InvalidRequestError as e:
    assert (e.http_status, e.code, e.param) == (404, "resource_missing", "id")

server.shutdown()
print("ok: catalog")
