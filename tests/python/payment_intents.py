"""The official stripe-python, unmodified, against `konbini network`: only its API base is
changed. Run by tests/it/network.rs with NETWORK_URL and STRIPE_KEY set. Prints
"ok: python" when every check passed; a failed check raises and exits non-zero."""

import os

import stripe

stripe.api_key = os.environ["STRIPE_KEY"]
stripe.api_base = os.environ["NETWORK_URL"]
stripe.max_network_retries = 0
assert stripe.api_version == "2026-10-28.endive", stripe.api_version

billing = {"name": "山田 太郎", "email": "taro@example.jp"}
customer = stripe.Customer.create(name="山田 太郎", email="taro@example.jp")
pi = stripe.PaymentIntent.create(
    amount=1200,
    currency="jpy",
    customer=customer.id,
    receipt_email="r@example.jp",
    statement_descriptor="KONBINI PY",
    payment_method_data={"type": "konbini", "billing_details": billing},
    confirm=True,
)
assert pi.status == "requires_action", pi.status
assert (pi.customer, pi.receipt_email, pi.statement_descriptor) == (
    customer.id,
    "r@example.jp",
    "KONBINI PY",
)
old = pi.next_action.konbini_display_details.stores.lawson.payment_code

# An update in requires_action reissues the voucher.
pi = stripe.PaymentIntent.modify(pi.id, amount=1800, metadata={"order": "7"})
assert pi.amount == 1800 and pi.status == "requires_action"
assert pi.metadata["order"] == "7"
assert pi.next_action.konbini_display_details.stores.lawson.payment_code != old
pi = stripe.PaymentIntent.modify(pi.id, metadata={"order": ""})
assert "order" not in pi.metadata

made = [pi.id]
for i in range(5):
    made.append(
        stripe.PaymentIntent.create(
            amount=1300 + i, currency="jpy", metadata={"batch": "b"}
        ).id
    )

# Backward auto-paging from the oldest returns every newer one, oldest first.
back = stripe.PaymentIntent.list(limit=2, ending_before=made[0]).auto_paging_iter()
assert [p.id for p in back] == made[1:], [p.id for p in back]
forward = stripe.PaymentIntent.list(limit=2).auto_paging_iter()
assert [p.id for p in forward] == made[::-1]

# Search, auto-paged through next_page.
found = stripe.PaymentIntent.search(query="metadata['batch']:'b'", limit=2)
assert found.object == "search_result" and found.has_more
assert [p.id for p in found.auto_paging_iter()] == made[1:][::-1]

# Expansion, and an unknown path refused as Stripe refuses it.
got = stripe.PaymentIntent.retrieve(made[0], expand=["payment_method", "latest_charge"])
assert got.payment_method.type == "konbini" and got.latest_charge is None
try:
    stripe.PaymentIntent.retrieve(made[0], expand=["nope"])
    raise AssertionError("an unknown expand was accepted")
except stripe.InvalidRequestError as e:
    assert e.user_message == "This property cannot be expanded (nope).", e.user_message

# A finished payment's amount cannot change.
stripe.PaymentIntent.cancel(made[1])
try:
    stripe.PaymentIntent.modify(made[1], amount=2000)
    raise AssertionError("a canceled payment's amount changed")
except stripe.InvalidRequestError as e:
    assert (e.code, e.param) == ("payment_intent_unexpected_state", "amount"), (e.code, e.param)
stripe.PaymentIntent.modify(made[1], metadata={"note": "kept"})

print("ok: python")
