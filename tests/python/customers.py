"""Customers and konbini PaymentMethods through the official stripe-python, unmodified:
create, update (customer.updated with previous_attributes), list and search auto-paged
forward and backward, attach and detach, a payment with its customer and payment method
expanded, a deleted customer's stub, Stripe's errors, and the webhooks checked with the
library's own verifier (stripe.Webhook.construct_event). Run by tests/it/network.rs with
NETWORK_URL and STRIPE_KEY set; prints "ok: customers" when every check passed."""

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
secret["value"] = stripe.WebhookEndpoint.create(
    url=f"http://127.0.0.1:{server.server_port}/hooks",
    enabled_events=["customer.updated", "customer.deleted", "payment_method.attached"],
).secret


def event_for(kind, object_id):
    for _ in range(200):
        for e in received:
            if e.type == kind and e.data.object.id == object_id:
                return e
        time.sleep(0.05)
    raise AssertionError(f"no {kind} for {object_id}: {[e.type for e in received]}")


hanako = stripe.Customer.create(
    name="佐藤 花子", email="hanako@example.jp", metadata={"plan": "basic"}
)
hanako = stripe.Customer.modify(hanako.id, email="hanako@example.com")
event = event_for("customer.updated", hanako.id)
assert event.data.previous_attributes["email"] == "hanako@example.jp"
assert event.data.object.email == "hanako@example.com"

made = [hanako.id] + [
    stripe.Customer.create(email=f"c{i}@example.com", name=f"Client {i}").id
    for i in range(4)
]
forward = [c.id for c in stripe.Customer.list(limit=2).auto_paging_iter()]
assert forward == made[::-1], forward
back = [c.id for c in stripe.Customer.list(limit=2, ending_before=made[0]).auto_paging_iter()]
assert back == made[1:], back
assert [c.id for c in stripe.Customer.list(email="c2@example.com").data] == [made[3]]
found = stripe.Customer.search(query="email~'example.com'", limit=2)
assert found.object == "search_result" and found.has_more
assert [c.id for c in found.auto_paging_iter()] == made[::-1]
assert [c.id for c in stripe.Customer.search(query="metadata['plan']:'basic'").data] == [
    hanako.id
]

pm = stripe.PaymentMethod.create(
    type="konbini", billing_details={"name": "佐藤 花子", "email": "hanako@example.com"}
)
pm = stripe.PaymentMethod.attach(pm.id, customer=hanako.id)
assert pm.customer == hanako.id
event_for("payment_method.attached", pm.id)
assert [p.id for p in stripe.Customer.list_payment_methods(hanako.id).data] == [pm.id]
pi = stripe.PaymentIntent.create(
    amount=2000,
    currency="jpy",
    customer=hanako.id,
    payment_method=pm.id,
    confirm=True,
    expand=["customer", "payment_method"],
)
assert pi.status == "requires_action"
assert (pi.customer.email, pi.payment_method.billing_details.name) == (
    "hanako@example.com",
    "佐藤 花子",
)
pm = stripe.PaymentMethod.detach(pm.id)
assert pm.customer is None

gone = stripe.Customer.delete(hanako.id)
assert gone.deleted is True and gone.id == hanako.id
event_for("customer.deleted", hanako.id)
again = stripe.PaymentIntent.retrieve(pi.id, expand=["customer"])
assert again.customer.deleted is True and again.customer.id == hanako.id

try:
    stripe.PaymentIntent.create(amount=1200, currency="jpy", customer="cus_nobody")
    raise AssertionError("a payment named a customer that does not exist")
except stripe.InvalidRequestError as e:
    assert (e.http_status, e.code, e.param) == (404, "resource_missing", "customer")
try:
    stripe.Customer.create(name="x", colour="red")
    raise AssertionError("an unknown parameter was accepted")
except stripe.InvalidRequestError as e:
    assert (e.code, e.param) == ("parameter_unknown", "colour"), (e.code, e.param)

server.shutdown()
print("ok: customers")
