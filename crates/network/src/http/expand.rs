//! `expand[]`: which fields of which object may be expanded (the version's expandable
//! fields, nested with dots, at most four levels, under `data.` on a list), checked before a
//! request's work runs, as Stripe refuses an unknown path before it looks the object up;
//! and a PaymentIntent or a charge rendered with the expansions asked for.
//!
//! Expanding a field that is null answers null; a deleted customer expands to its stub.
//! Events never expand their objects.

use serde_json::{Value, json};

use crate::Settings;
use crate::error::ApiError;
use crate::objects::{Charge, Customer, PaymentIntent, PaymentMethod, Price, Product};
use crate::storage::Tx;

/// Stripe's limit on an expansion path's depth.
const MAX_DEPTH: usize = 4;

/// What an expandable field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    PaymentIntent,
    Charge,
    BalanceTransaction,
    PaymentMethod,
    Customer,
    /// A customer's `invoice_settings` (a path segment, not itself expandable).
    InvoiceSettings,
    Product,
    Price,
    /// A field that is always null here (`application`, `review`, ...), a list included
    /// whole (`refunds`), or a balance transaction's `source` (its charge, unexpanded):
    /// nothing below it expands.
    Leaf,
}

/// What `field` of a `kind` expands to; `None` if it cannot be expanded.
fn child(kind: Kind, field: &str) -> Option<Kind> {
    use Kind::*;
    Some(match (kind, field) {
        (PaymentIntent, "customer") | (Charge, "customer") | (PaymentMethod, "customer") => {
            Customer
        }
        (PaymentIntent, "latest_charge") => Charge,
        (Customer, "invoice_settings") => InvoiceSettings,
        (InvoiceSettings, "default_payment_method") => PaymentMethod,
        (Product, "default_price") => Price,
        (Price, "product") => Product,
        (PaymentIntent, "payment_method") => PaymentMethod,
        (Charge, "balance_transaction") => BalanceTransaction,
        (Charge, "payment_intent") => PaymentIntent,
        (
            PaymentIntent,
            "application" | "on_behalf_of" | "review" | "source" | "payment_record",
        )
        | (
            Charge,
            "application"
            | "application_fee"
            | "failure_balance_transaction"
            | "on_behalf_of"
            | "review"
            | "source_transfer"
            | "refunds",
        )
        | (BalanceTransaction, "source")
        | (
            Customer,
            "default_source"
            | "test_clock"
            | "cash_balance"
            | "sources"
            | "subscriptions"
            | "tax_ids"
            | "tax"
            | "invoice_credit_balance",
        )
        | (Product, "tax_code")
        | (Price, "currency_options") => Leaf,
        _ => return None,
    })
}

fn cannot(path: &str, hint: &str) -> ApiError {
    ApiError {
        code: None,
        ..ApiError::invalid(
            "",
            "",
            format!("This property cannot be expanded ({path}).{hint}"),
        )
    }
}

/// The first segments of `segs` up to the one that cannot be expanded, if any.
fn walk(mut kind: Kind, segs: &[&str]) -> Result<(), usize> {
    for (i, seg) in segs.iter().enumerate() {
        kind = child(kind, seg).ok_or(i)?;
    }
    Ok(())
}

/// Refuse, as Stripe does, any path an object of `kind` (each of a list's `data`, when
/// `list`) cannot expand: `400 invalid_request_error` without a code or a param,
/// "This property cannot be expanded (x)." naming the path up to its first bad segment.
pub(super) fn check(paths: &[&str], kind: Kind, list: bool) -> Result<(), ApiError> {
    for path in paths {
        let segs: Vec<&str> = path.split('.').collect();
        let segs = if list {
            match segs.split_first() {
                Some((&"data", rest)) if !rest.is_empty() => rest.to_vec(),
                _ => {
                    let hint = if walk(kind, &segs).is_ok() {
                        format!(" You may want to try expanding 'data.{path}' instead.")
                    } else {
                        String::new()
                    };
                    return Err(cannot(segs[0], &hint));
                }
            }
        } else {
            segs
        };
        if segs.len() > MAX_DEPTH {
            return Err(cannot(path, ""));
        }
        if let Err(bad) = walk(kind, &segs) {
            let shown = segs[..=bad].join(".");
            let shown = if list { format!("data.{shown}") } else { shown };
            return Err(cannot(&shown, ""));
        }
    }
    Ok(())
}

/// The paths below `field`, if `field` is asked for: `latest_charge.balance_transaction`
/// gives `latest_charge` the path `balance_transaction`.
fn below<'a>(paths: &[&'a str], field: &str) -> Option<Vec<&'a str>> {
    let mut asked = false;
    let mut rest = Vec::new();
    for p in paths {
        if *p == field {
            asked = true;
        } else if let Some(r) = p.strip_prefix(field).and_then(|r| r.strip_prefix('.')) {
            asked = true;
            rest.push(r);
        }
    }
    asked.then_some(rest)
}

/// The paths of a list's `data.*`, for each object.
pub(super) fn of_data<'a>(paths: &[&'a str]) -> Vec<&'a str> {
    paths
        .iter()
        .filter_map(|p| p.strip_prefix("data."))
        .collect()
}

/// A konbini PaymentMethod as the payment holds it (its billing details).
fn payment_method(pi: &PaymentIntent, id: &str) -> Value {
    let billing = pi.billing.as_ref();
    json!({
        "id": id,
        "object": "payment_method",
        "allow_redisplay": "unspecified",
        "billing_details": {
            "address": null,
            "email": billing.map(|b| &b.email),
            "name": billing.map(|b| &b.name),
            "phone": billing.and_then(|b| b.phone.as_ref()),
            "tax_id": null,
        },
        "created": pi.created,
        "customer": pi.customer,
        "customer_account": null,
        "konbini": {},
        "livemode": false,
        "metadata": {},
        "type": "konbini",
    })
}

/// A PaymentIntent's Stripe JSON with `paths` expanded (checked by [`check`]).
pub(super) fn render_pi(
    tx: &dyn Tx,
    settings: &Settings,
    now: i64,
    pi: &PaymentIntent,
    paths: &[&str],
) -> Result<Value, ApiError> {
    let mut v = pi.render(&settings.public_url);
    if let Some(rest) = below(paths, "latest_charge")
        && let Some(id) = &pi.latest_charge
        && let Some(charge) = tx.charge(id)?
    {
        v["latest_charge"] = render_charge(tx, settings, now, &charge, &rest)?;
    }
    if let Some(rest) = below(paths, "payment_method")
        && let Some(id) = &pi.payment_method
    {
        v["payment_method"] = match tx.pm(id)? {
            Some(pm) => render_pm(tx, &pm, &rest)?,
            // A payment confirmed before payment methods were kept.
            None => payment_method(pi, id),
        };
    }
    if let Some(rest) = below(paths, "customer")
        && let Some(id) = &pi.customer
    {
        v["customer"] = customer_value(tx, id, &rest)?;
    }
    Ok(v)
}

/// The customer `id` expanded (with `paths` below it), or the id if it is not kept.
fn customer_value(tx: &dyn Tx, id: &str, paths: &[&str]) -> Result<Value, ApiError> {
    Ok(match tx.customer(id)? {
        Some(c) => render_customer(tx, &c, paths)?,
        None => Value::from(id),
    })
}

/// A customer's Stripe JSON (its stub if deleted) with `paths` expanded (checked by
/// [`check`]).
pub(super) fn render_customer(
    tx: &dyn Tx,
    c: &Customer,
    paths: &[&str],
) -> Result<Value, ApiError> {
    let mut v = c.render();
    if c.deleted {
        return Ok(v);
    }
    if let Some(rest) = below(paths, "invoice_settings")
        && let Some(rest) = below(&rest, "default_payment_method")
        && let Some(id) = &c.invoice_settings.default_payment_method
        && let Some(pm) = tx.pm(id)?
    {
        v["invoice_settings"]["default_payment_method"] = render_pm(tx, &pm, &rest)?;
    }
    for list in ["sources", "subscriptions", "tax_ids"] {
        if below(paths, list).is_some() {
            v[list] = json!({
                "object": "list",
                "url": format!("/v1/customers/{}/{list}", c.id),
                "has_more": false,
                "data": [],
            });
        }
    }
    if below(paths, "cash_balance").is_some() {
        v["cash_balance"] = Value::Null;
    }
    // Included only when asked for (Stripe's "includable" fields): no credit balance, and
    // Stripe Tax's view of the customer, registered to collect tax nowhere here
    // (stripe-node `Customer.Tax`: `not_collecting` where the location is known from the
    // billing address, `unrecognized_location` where it is not).
    if below(paths, "invoice_credit_balance").is_some() {
        v["invoice_credit_balance"] = json!({});
    }
    if below(paths, "tax").is_some() {
        let country = c.address.as_ref().and_then(|a| a.country.clone());
        let location = country.as_ref().map(|country| {
            json!({
                "country": country,
                "source": "billing_address",
                "state": c.address.as_ref().and_then(|a| a.state.clone()),
            })
        });
        v["tax"] = json!({
            "automatic_tax": if location.is_some() { "not_collecting" } else { "unrecognized_location" },
            "ip_address": null,
            "location": location,
            "provider": "stripe",
        });
    }
    Ok(v)
}

/// A payment method's Stripe JSON with `paths` expanded (checked by [`check`]).
pub(super) fn render_pm(
    tx: &dyn Tx,
    pm: &PaymentMethod,
    paths: &[&str],
) -> Result<Value, ApiError> {
    let mut v = pm.render();
    if let Some(rest) = below(paths, "customer")
        && let Some(id) = &pm.customer
    {
        v["customer"] = customer_value(tx, id, &rest)?;
    }
    Ok(v)
}

/// A product's Stripe JSON with `paths` expanded (checked by [`check`]).
pub(super) fn render_product(tx: &dyn Tx, p: &Product, paths: &[&str]) -> Result<Value, ApiError> {
    let mut v = p.render();
    if let Some(rest) = below(paths, "default_price")
        && let Some(id) = &p.default_price
        && let Some(price) = tx.price(id)?
    {
        v["default_price"] = render_price(tx, &price, &rest)?;
    }
    Ok(v)
}

/// A price's Stripe JSON with `paths` expanded (checked by [`check`]).
pub(super) fn render_price(tx: &dyn Tx, p: &Price, paths: &[&str]) -> Result<Value, ApiError> {
    let mut v = p.render();
    if let Some(rest) = below(paths, "product") {
        v["product"] = match tx.product(&p.product)? {
            Some(product) => render_product(tx, &product, &rest)?,
            None => json!({"id": p.product, "object": "product", "deleted": true}),
        };
    }
    if below(paths, "currency_options").is_some() {
        v["currency_options"] = json!({
            p.currency.clone(): {
                "custom_unit_amount": null,
                "tax_behavior": p.tax_behavior,
                "unit_amount": p.unit_amount,
                "unit_amount_decimal": p.unit_amount_decimal,
            }
        });
    }
    Ok(v)
}

/// A charge's Stripe JSON with `paths` expanded (checked by [`check`]).
pub(super) fn render_charge(
    tx: &dyn Tx,
    settings: &Settings,
    now: i64,
    charge: &Charge,
    paths: &[&str],
) -> Result<Value, ApiError> {
    let mut v = charge.render();
    if let Some(rest) = below(paths, "balance_transaction") {
        let mut txn = charge.render_balance_transaction(now);
        if rest.contains(&"source") {
            txn["source"] = charge.render();
        }
        v["balance_transaction"] = txn;
    }
    if let Some(rest) = below(paths, "customer")
        && let Some(id) = &charge.customer
    {
        v["customer"] = customer_value(tx, id, &rest)?;
    }
    let pi = tx.pi(&charge.payment_intent)?;
    if let Some(rest) = below(paths, "payment_intent")
        && let Some(pi) = &pi
    {
        v["payment_intent"] = render_pi(tx, settings, now, pi, &rest)?;
    }
    if below(paths, "refunds").is_some() {
        let data: Vec<Value> = match &pi {
            Some(pi) => tx
                .refunds_of(pi.seq)?
                .iter()
                .filter(|r| r.charge == charge.id)
                .rev()
                .map(|r| r.render(&settings.public_url))
                .collect(),
            None => Vec::new(),
        };
        v["refunds"] = json!({
            "object": "list",
            "url": format!("/v1/charges/{}/refunds", charge.id),
            "has_more": false,
            "data": data,
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(paths: &[&str], list: bool) -> Option<String> {
        check(paths, Kind::PaymentIntent, list)
            .err()
            .map(|e| e.message)
    }

    #[test]
    fn paths_are_checked_as_stripe_checks_them() {
        assert_eq!(message(&["latest_charge.balance_transaction"], false), None);
        assert_eq!(
            message(&["customer", "payment_method", "review"], false),
            None
        );
        assert_eq!(
            message(&["latest_charge.bogus.x"], false).as_deref(),
            Some("This property cannot be expanded (latest_charge.bogus).")
        );
        assert_eq!(
            message(&["amount"], false).as_deref(),
            Some("This property cannot be expanded (amount).")
        );
        assert_eq!(message(&["data.latest_charge"], true), None);
        assert_eq!(
            message(&["latest_charge"], true).as_deref(),
            Some(
                "This property cannot be expanded (latest_charge). You may want to try expanding 'data.latest_charge' instead."
            )
        );
        assert_eq!(
            message(&["data.nope"], true).as_deref(),
            Some("This property cannot be expanded (data.nope).")
        );
        let deep = "latest_charge.payment_intent.latest_charge.payment_intent.latest_charge";
        assert!(message(&[deep], false).is_some());
        let e = check(&["x"], Kind::Charge, false).unwrap_err();
        assert_eq!((e.code, e.param, e.status.as_u16()), (None, None, 400));
    }
}
