"""The official stripe-python, unmodified, with the merchant's publishable key against
`konbini network`: where Stripe refuses a publishable key, the network's 401
`secret_key_required` reaches the program as stripe-python's `AuthenticationError`, as it
does from Stripe; a PaymentIntent is still read with its client_secret, and only what a
publishable key is shown. Run by tests/it/network.rs with NETWORK_URL, STRIPE_KEY and
STRIPE_PUBLISHABLE_KEY set; prints "ok: python publishable key"."""

import os

import stripe

secret = os.environ["STRIPE_KEY"]
publishable = os.environ["STRIPE_PUBLISHABLE_KEY"]
stripe.api_base = os.environ["NETWORK_URL"]
stripe.max_network_retries = 0

pi = stripe.PaymentIntent.create(
    api_key=secret,
    amount=1500,
    currency="jpy",
    metadata={"order": "py-pk"},
    payment_method_data={
        "type": "konbini",
        "billing_details": {"name": "山田 花子", "email": "hanako@example.jp"},
    },
    confirm=True,
)
assert pi.status == "requires_action", pi.status

refused = [
    lambda: stripe.PaymentIntent.list(api_key=publishable),
    lambda: stripe.PaymentIntent.create(api_key=publishable, amount=1200, currency="jpy"),
    lambda: stripe.PaymentIntent.modify(pi.id, api_key=publishable, description="x"),
    lambda: stripe.PaymentIntent.cancel(pi.id, api_key=publishable),
    lambda: stripe.Refund.create(api_key=publishable, payment_intent=pi.id),
    lambda: stripe.Event.list(api_key=publishable),
]
for call in refused:
    try:
        call()
    except stripe.AuthenticationError as e:
        assert e.http_status == 401, e.http_status
        # stripe-python builds a 401's AuthenticationError without the code; the body has it.
        assert e.json_body["error"]["code"] == "secret_key_required", e.json_body
        assert e.user_message.startswith(
            "This API call cannot be made with a publishable API key."
        ), e.user_message
    else:
        raise AssertionError("a publishable key was let through")

seen = stripe.PaymentIntent.retrieve(
    pi.id, api_key=publishable, client_secret=pi.client_secret
)
assert seen.status == "requires_action" and seen.amount == 1500
assert "metadata" not in seen and "customer" not in seen and "latest_charge" not in seen
assert (
    seen.next_action.konbini_display_details.stores.lawson.payment_code
    == pi.next_action.konbini_display_details.stores.lawson.payment_code
)
try:
    stripe.PaymentIntent.retrieve(pi.id, api_key=publishable, client_secret="pi_x_secret_y")
except stripe.InvalidRequestError as e:
    assert e.http_status == 400 and e.param == "client_secret", (e.http_status, e.param)
else:
    raise AssertionError("a wrong client_secret was let through")

# The secret key still sees it all.
full = stripe.PaymentIntent.retrieve(pi.id, api_key=secret)
assert full.metadata["order"] == "py-pk"
print("ok: python publishable key")
