"""Checkout Sessions and Payment Links through the official stripe-python, unmodified
(only its API base is changed). Run by tests/it/checkout.rs with NETWORK_URL and
STRIPE_KEY set. Prints "ok: python checkout" when every check passed; a failed check
raises and exits non-zero."""

import os
import time
import urllib.parse
import urllib.request

import stripe

stripe.api_key = os.environ["STRIPE_KEY"]
stripe.api_base = os.environ["NETWORK_URL"]
stripe.max_network_retries = 0


def line(**over):
    data = {"currency": "jpy", "unit_amount": 1200, "product_data": {"name": "お茶"}}
    data.update(over)
    return {"price_data": data, "quantity": 1}


def refused(params, code=None, param=None):
    try:
        stripe.checkout.Session.create(**params)
    except stripe.InvalidRequestError as e:
        assert (code is None or e.code == code) and e.param == param, (e.code, e.param)
        return e
    raise AssertionError(f"accepted: {params}")


# Refusals, each naming its param.
e = refused({"line_items": [line(currency="usd")]}, param="line_items[0][price_data][currency]")
assert "usd" in e.user_message, e.user_message
refused({"line_items": [line(unit_amount=100)]}, "amount_too_small", "line_items")
refused({"line_items": [line(unit_amount=300001)]}, "amount_too_large", "line_items")
refused(
    {"line_items": [line(recurring={"interval": "month"})]},
    param="line_items[0][price_data][recurring]",
)
refused({"line_items": [line()], "expires_at": int(time.time()) + 600}, param="expires_at")
refused({"line_items": [line()], "automatic_tax": {"enabled": True}}, "parameter_unknown", "automatic_tax[enabled]")
monthly = stripe.Price.create(
    currency="jpy", unit_amount=500, recurring={"interval": "month"}, product_data={"name": "Club"}
)
refused({"line_items": [{"price": monthly.id, "quantity": 1}]}, param="line_items[0][price]")

# A session: created, read back with its items, listed, expired.
session = stripe.checkout.Session.create(
    mode="payment",
    line_items=[line(), line(unit_amount=300, product_data={"name": "団子"})],
    customer_email="jiro@example.jp",
    payment_method_options={"konbini": {"expires_after_days": 5}},
    locale="en",
    metadata={"order": "P-1"},
    success_url="https://shop.example/thanks?s={CHECKOUT_SESSION_ID}",
)
assert (session.status, session.payment_status, session.amount_total) == ("open", "unpaid", 1500)
assert session.payment_method_options.konbini.expires_after_days == 5
items = stripe.checkout.Session.list_line_items(session.id, limit=1)
assert items.has_more and items.data[0].description == "お茶"
assert [li.description for li in items.auto_paging_iter()] == ["お茶", "団子"]
got = stripe.checkout.Session.retrieve(session.id, expand=["line_items"])
assert len(got.line_items.data) == 2 and got.metadata["order"] == "P-1"
page = urllib.request.urlopen(session.url).read().decode()
assert 'lang="en"' in page and "Get my payment number" in page, page[:300]
assert [s.id for s in stripe.checkout.Session.list(status="open")] == [session.id]
expired = stripe.checkout.Session.expire(session.id)
assert (expired.status, expired.url) == ("expired", None)
try:
    stripe.checkout.Session.expire(session.id)
    raise AssertionError("an expired session expired again")
except stripe.InvalidRequestError:
    pass
assert [s.id for s in stripe.checkout.Session.list(status="expired")] == [session.id]

refused({"line_items": [{"price_data": line()["price_data"]}]}, "parameter_missing", "line_items[0][quantity]")
refused({"line_items": [line()], "customer_email": "jiro"}, param="customer_email")

# customer_creation="always": the page's details make a Customer, named by the session and
# its PaymentIntent; "if_required" (the default) makes none.
for creation, makes in (("always", True), ("if_required", False)):
    s = stripe.checkout.Session.create(line_items=[line()], customer_creation=creation)
    assert (s.customer_creation, s.customer) == (creation, None)
    form = urllib.parse.urlencode({"name": "三郎", "email": f"saburo-{creation}@example.jp"}).encode()
    urllib.request.urlopen(urllib.request.Request(s.url, data=form)).read()
    done = stripe.checkout.Session.retrieve(s.id, expand=["customer", "payment_intent"])
    assert done.status == "complete", done.status
    if makes:
        assert (done.customer.name, done.customer.email) == ("三郎", "saburo-always@example.jp")
        assert done.payment_intent.customer == done.customer.id
        assert stripe.Customer.list(email="saburo-always@example.jp").data[0].id == done.customer.id
    else:
        assert done.customer is None and done.payment_intent.customer is None
        assert stripe.Customer.list(email="saburo-if_required@example.jp").data == []

# A Payment Link: made from a Price, opened (a new session), deactivated.
price = stripe.Price.create(currency="jpy", unit_amount=700, product_data={"name": "Mochi"})
link = stripe.PaymentLink.create(line_items=[{"price": price.id, "quantity": 2}])
assert link.active and link.url.startswith(os.environ["NETWORK_URL"])
assert [li.amount_total for li in stripe.PaymentLink.list_line_items(link.id)] == [1400]
got = stripe.PaymentLink.retrieve(link.id, expand=["line_items.data.price.product"])
assert got.line_items.data[0].price.product.name == "Mochi"
opened = urllib.request.urlopen(link.url)
assert "/checkout/cs_test_" in opened.url, opened.url
made = stripe.checkout.Session.list(payment_link=link.id)
assert len(made.data) == 1 and made.data[0].amount_total == 1400
link = stripe.PaymentLink.modify(link.id, active=False, metadata={"season": "winter"})
assert not link.active and link.metadata["season"] == "winter"
assert "現在ご利用いただけません" in urllib.request.urlopen(link.url).read().decode()

print("ok: python checkout")
