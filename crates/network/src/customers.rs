//! Who pays: Customers (create, update, delete) and their konbini PaymentMethods (create,
//! update, attach, detach), as Stripe keeps them, with Stripe's events
//! (`customer.created|updated|deleted`, `payment_method.attached|detached|updated`, each
//! update with its `previous_attributes`) and errors naming the parameter.
//!
//! A deleted customer stays in the store, answered as its stub (`{id, object, deleted}`), so
//! that a payment naming it still expands. Like `payments.rs`, these functions run inside
//! one store transaction, take the time as an argument and never read a clock. Stripe's
//! references: <https://docs.stripe.com/api/customers>,
//! <https://docs.stripe.com/api/payment_methods>.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::form::Form;
use crate::ids::{new_id, random_alnum};
use crate::objects::{
    Address, BillingDetails, Customer, InvoiceSettings, PaymentMethod, Shipping, Snapshot,
    previous_attributes,
};
use crate::storage::Tx;

/// Stripe's limit on an email's length.
const EMAIL_MAX_CHARS: usize = 512;

const ADDRESS_FIELDS: [&str; 6] = ["city", "country", "line1", "line2", "postal_code", "state"];

/// The parameters of `POST /v1/customers` (an update also takes `metadata`, `address` and
/// `shipping` sent empty, which unset them).
pub const CUSTOMER_PARAMS: &[&str] = &[
    "address[city]",
    "address[country]",
    "address[line1]",
    "address[line2]",
    "address[postal_code]",
    "address[state]",
    "description",
    "email",
    "expand[]",
    "invoice_settings[default_payment_method]",
    "metadata[*]",
    "name",
    "payment_method",
    "phone",
    "preferred_locales[]",
    "shipping[address][city]",
    "shipping[address][country]",
    "shipping[address][line1]",
    "shipping[address][line2]",
    "shipping[address][postal_code]",
    "shipping[address][state]",
    "shipping[name]",
    "shipping[phone]",
    "tax_exempt",
];

/// What an update takes besides [`CUSTOMER_PARAMS`] (`payment_method` excepted).
const CUSTOMER_UPDATE_ONLY: &[&str] = &["address", "metadata", "preferred_locales", "shipping"];

/// The parameters of `POST /v1/payment_methods` (an update takes the billing details,
/// `metadata` and `allow_redisplay`).
pub const PM_PARAMS: &[&str] = &[
    "allow_redisplay",
    "billing_details[address][city]",
    "billing_details[address][country]",
    "billing_details[address][line1]",
    "billing_details[address][line2]",
    "billing_details[address][postal_code]",
    "billing_details[address][state]",
    "billing_details[email]",
    "billing_details[name]",
    "billing_details[phone]",
    "expand[]",
    "konbini",
    "metadata[*]",
    "type",
];

fn invalid(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid("parameter_invalid_string", param, message)
}

/// A customer by id (a deleted one too), or Stripe's `resource_missing` naming `param`.
pub fn find_customer(tx: &dyn Tx, id: &str, param: &str) -> Result<Customer, ApiError> {
    tx.customer(id)?
        .ok_or_else(|| ApiError::missing_resource("customer", id, param))
}

/// A customer that is not deleted, or Stripe's `resource_missing` naming `param`: what a
/// payment, an update or an attachment may name.
pub fn live_customer(tx: &dyn Tx, id: &str, param: &str) -> Result<Customer, ApiError> {
    match tx.customer(id)? {
        Some(c) if !c.deleted => Ok(c),
        _ => Err(ApiError::missing_resource("customer", id, param)),
    }
}

/// A payment method by id, or Stripe's `resource_missing` naming `param` (Stripe's text:
/// "No such PaymentMethod: 'pm_...'", as quoted in stripe/stripe-php#977).
pub fn find_pm(tx: &dyn Tx, id: &str, param: &str) -> Result<PaymentMethod, ApiError> {
    tx.pm(id)?
        .ok_or_else(|| ApiError::missing_resource("PaymentMethod", id, param))
}

/// An email address as Stripe accepts one: something@something, no spaces, at most 512
/// characters.
pub(crate) fn check_email(param: &str, email: &str) -> Result<(), ApiError> {
    let (local, domain) = email.rsplit_once('@').unwrap_or(("", ""));
    if local.is_empty()
        || domain.is_empty()
        || email.chars().any(char::is_whitespace)
        || email.chars().count() > EMAIL_MAX_CHARS
    {
        return Err(invalid(param, format!("Invalid email address: {email}")));
    }
    Ok(())
}

/// An address sent under `prefix` (`address`, `shipping[address]`), or `None` if no part of
/// it was.
pub(crate) fn address_of(form: &Form, prefix: &str) -> Option<Address> {
    if !ADDRESS_FIELDS
        .iter()
        .any(|f| form.get(&format!("{prefix}[{f}]")).is_some())
    {
        return None;
    }
    let part = |f: &str| form.string(&format!("{prefix}[{f}]")).map(str::to_owned);
    Some(Address {
        city: part("city"),
        country: part("country"),
        line1: part("line1"),
        line2: part("line2"),
        postal_code: part("postal_code"),
        state: part("state"),
    })
}

/// Update `address` with the parts sent under `prefix` (an empty part unsets it).
fn merge_address(form: &Form, prefix: &str, address: &mut Address) {
    for (f, slot) in [
        ("city", &mut address.city),
        ("country", &mut address.country),
        ("line1", &mut address.line1),
        ("line2", &mut address.line2),
        ("postal_code", &mut address.postal_code),
        ("state", &mut address.state),
    ] {
        if let Some(v) = form.update(&format!("{prefix}[{f}]")) {
            *slot = v;
        }
    }
}

fn tax_exempt(form: &Form) -> Result<Option<String>, ApiError> {
    match form.string("tax_exempt") {
        None => Ok(None),
        Some(t @ ("none" | "exempt" | "reverse")) => Ok(Some(t.to_owned())),
        Some(other) => Err(invalid(
            "tax_exempt",
            format!("Invalid tax_exempt: must be one of none, exempt or reverse (got {other:?})."),
        )),
    }
}

/// Set what both create and update take (not `metadata`, which each handles its way).
fn apply_customer(tx: &dyn Tx, c: &mut Customer, form: &Form) -> Result<(), ApiError> {
    if let Some(email) = form.update("email") {
        if let Some(e) = &email {
            check_email("email", e)?;
        }
        c.email = email;
    }
    for (name, field) in [
        ("description", &mut c.description),
        ("name", &mut c.name),
        ("phone", &mut c.phone),
    ] {
        if let Some(v) = form.update(name) {
            *field = v;
        }
    }
    if form.get("address").is_some_and(str::is_empty) {
        c.address = None;
    } else if address_of(form, "address").is_some() {
        merge_address(
            form,
            "address",
            c.address.get_or_insert_with(Address::default),
        );
    }
    if form.get("shipping").is_some_and(str::is_empty) {
        c.shipping = None;
    } else if form.has("shipping") {
        let shipping = c.shipping.get_or_insert_with(Shipping::default);
        merge_address(form, "shipping[address]", &mut shipping.address);
        if let Some(n) = form.update("shipping[name]") {
            shipping.name = n;
        }
        if let Some(p) = form.update("shipping[phone]") {
            shipping.phone = p;
        }
        if shipping.name.is_none() {
            return Err(ApiError::missing("shipping[name]"));
        }
    }
    if form.get("preferred_locales").is_some_and(str::is_empty) {
        c.preferred_locales.clear();
    } else if form.has("preferred_locales") {
        c.preferred_locales = form
            .array("preferred_locales")
            .into_iter()
            .map(str::to_owned)
            .collect();
    }
    if let Some(t) = tax_exempt(form)? {
        c.tax_exempt = t;
    }
    if let Some(pm) = form.update("invoice_settings[default_payment_method]") {
        if let Some(id) = &pm {
            let found = find_pm(tx, id, "invoice_settings[default_payment_method]")?;
            if found.customer.as_deref() != Some(c.id.as_str()) {
                return Err(invalid(
                    "invoice_settings[default_payment_method]",
                    format!(
                        "The PaymentMethod {id} is not attached to the customer {}; attach it first.",
                        c.id
                    ),
                ));
            }
        }
        c.invoice_settings.default_payment_method = pm;
    }
    Ok(())
}

/// `POST /v1/customers`; `customer.created` (and `payment_method.attached` when
/// `payment_method` is given).
pub fn create_customer(tx: &dyn Tx, form: &Form, now: i64) -> Result<Customer, ApiError> {
    form.check_known(CUSTOMER_PARAMS)?;
    let mut c = Customer {
        seq: 0,
        id: new_id("cus"),
        object: "customer".into(),
        address: None,
        balance: 0,
        created: now,
        currency: None,
        default_source: None,
        delinquent: false,
        description: None,
        discount: None,
        email: None,
        invoice_prefix: random_alnum(8).to_ascii_uppercase(),
        invoice_settings: InvoiceSettings::default(),
        livemode: false,
        metadata: form.metadata()?,
        name: None,
        next_invoice_sequence: 1,
        phone: None,
        preferred_locales: Vec::new(),
        shipping: None,
        tax_exempt: "none".into(),
        test_clock: None,
        deleted: false,
    };
    let pm = form
        .string("payment_method")
        .map(|id| find_pm(tx, id, "payment_method"))
        .transpose()?;
    // The default payment method may be the one attached by this same request.
    let default_pm = form.string("invoice_settings[default_payment_method]");
    let attach_first = matches!((&pm, default_pm), (Some(p), Some(d)) if p.id == d);
    if !attach_first {
        apply_customer(tx, &mut c, form)?;
    }
    c.seq = tx.insert_customer(&c)?;
    tx.emit("customer.created", now, Snapshot::Customer(&c))?;
    if let Some(mut pm) = pm {
        attach(tx, &mut pm, &c, now)?;
        if attach_first {
            apply_customer(tx, &mut c, form)?;
            tx.update_customer(&c)?;
        }
    }
    Ok(c)
}

/// `POST /v1/customers/{id}`: change what is sent (an empty value unsets an optional
/// field); `customer.updated` with what changed. A deleted customer cannot be changed.
pub fn update_customer(
    tx: &dyn Tx,
    c: &mut Customer,
    form: &Form,
    now: i64,
) -> Result<(), ApiError> {
    let allowed: Vec<&str> = CUSTOMER_PARAMS
        .iter()
        .chain(CUSTOMER_UPDATE_ONLY)
        .copied()
        .filter(|p| *p != "payment_method")
        .collect();
    form.check_known(&allowed)?;
    if c.deleted {
        return Err(ApiError::missing_resource("customer", &c.id, "id"));
    }
    let before = c.render();
    apply_customer(tx, c, form)?;
    form.merge_metadata(&mut c.metadata)?;
    if let Some(previous) = previous_attributes(&before, &c.render()) {
        tx.update_customer(c)?;
        tx.emit_update(
            "customer.updated",
            now,
            Snapshot::Customer(c),
            Some(&previous.to_string()),
        )?;
    }
    Ok(())
}

/// `DELETE /v1/customers/{id}`: the customer is kept as deleted (its stub is what it is
/// answered as from now on); `customer.deleted` carries it as it was.
pub fn delete_customer(tx: &dyn Tx, c: &mut Customer, now: i64) -> Result<Value, ApiError> {
    if c.deleted {
        return Err(ApiError::missing_resource("customer", &c.id, "id"));
    }
    tx.emit("customer.deleted", now, Snapshot::Customer(c))?;
    c.deleted = true;
    tx.update_customer(c)?;
    Ok(c.render())
}

/// Billing details sent under `billing_details[...]`, merged into `details`; name and email
/// checked.
fn apply_billing(form: &Form, details: &mut BillingDetails) -> Result<(), ApiError> {
    merge_address(form, "billing_details[address]", &mut details.address);
    if let Some(e) = form.update("billing_details[email]") {
        if let Some(e) = &e {
            check_email("billing_details[email]", e)?;
        }
        details.email = e;
    }
    if let Some(n) = form.update("billing_details[name]") {
        details.name = n;
    }
    if let Some(p) = form.update("billing_details[phone]") {
        details.phone = p;
    }
    Ok(())
}

fn allow_redisplay(form: &Form) -> Result<Option<String>, ApiError> {
    match form.string("allow_redisplay") {
        None => Ok(None),
        Some(v @ ("always" | "limited" | "unspecified")) => Ok(Some(v.to_owned())),
        Some(other) => Err(invalid(
            "allow_redisplay",
            format!(
                "Invalid allow_redisplay: must be one of always, limited or unspecified (got {other:?})."
            ),
        )),
    }
}

/// A new konbini PaymentMethod with `billing` (not yet kept).
pub fn new_pm(
    billing: BillingDetails,
    metadata: BTreeMap<String, String>,
    now: i64,
) -> PaymentMethod {
    PaymentMethod {
        seq: 0,
        id: new_id("pm"),
        object: "payment_method".into(),
        allow_redisplay: "unspecified".into(),
        billing_details: billing,
        created: now,
        customer: None,
        customer_account: None,
        konbini: serde_json::Map::new(),
        livemode: false,
        metadata,
        kind: "konbini".into(),
    }
}

/// `POST /v1/payment_methods`: a konbini PaymentMethod (the only type here). Stripe sends no
/// event for a creation.
pub fn create_pm(tx: &dyn Tx, form: &Form, now: i64) -> Result<PaymentMethod, ApiError> {
    form.check_known(PM_PARAMS)?;
    match form.string("type") {
        None => return Err(ApiError::missing("type")),
        Some("konbini") => {}
        Some(other) => {
            return Err(invalid(
                "type",
                format!("This network keeps only konbini payment methods, not {other:?}."),
            ));
        }
    }
    let mut billing = BillingDetails::default();
    apply_billing(form, &mut billing)?;
    let mut pm = new_pm(billing, form.metadata()?, now);
    if let Some(a) = allow_redisplay(form)? {
        pm.allow_redisplay = a;
    }
    pm.seq = tx.insert_pm(&pm)?;
    Ok(pm)
}

/// `POST /v1/payment_methods/{id}`: billing details, metadata, `allow_redisplay`, of a
/// PaymentMethod attached to a customer (Stripe updates only those);
/// `payment_method.updated` with what changed.
pub fn update_pm(
    tx: &dyn Tx,
    pm: &mut PaymentMethod,
    form: &Form,
    now: i64,
) -> Result<(), ApiError> {
    let allowed: Vec<&str> = PM_PARAMS
        .iter()
        .copied()
        .filter(|p| !matches!(*p, "type" | "konbini"))
        .chain(["metadata"])
        .collect();
    form.check_known(&allowed)?;
    if pm.customer.is_none() {
        return Err(ApiError::invalid(
            "payment_method_unexpected_state",
            "",
            format!(
                "The PaymentMethod {} is not attached to a customer: only an attached PaymentMethod can be updated (attach it with POST /v1/payment_methods/{}/attach).",
                pm.id, pm.id
            ),
        ));
    }
    let before = pm.render();
    apply_billing(form, &mut pm.billing_details)?;
    if let Some(a) = allow_redisplay(form)? {
        pm.allow_redisplay = a;
    }
    form.merge_metadata(&mut pm.metadata)?;
    if let Some(previous) = previous_attributes(&before, &pm.render()) {
        tx.update_pm(pm)?;
        tx.emit_update(
            "payment_method.updated",
            now,
            Snapshot::PaymentMethod(pm),
            Some(&previous.to_string()),
        )?;
    }
    Ok(())
}

/// Attach `pm` to `customer` (already attached to it: nothing changes); one attached to
/// another customer is refused. `payment_method.attached`.
pub fn attach(
    tx: &dyn Tx,
    pm: &mut PaymentMethod,
    customer: &Customer,
    now: i64,
) -> Result<(), ApiError> {
    match pm.customer.as_deref() {
        Some(c) if c == customer.id => return Ok(()),
        Some(other) => {
            return Err(ApiError::invalid(
                "payment_method_unexpected_state",
                "",
                format!(
                    "The PaymentMethod {} is already attached to the customer {other}; detach it before attaching it to {}.",
                    pm.id, customer.id
                ),
            ));
        }
        None => {}
    }
    pm.customer = Some(customer.id.clone());
    tx.update_pm(pm)?;
    tx.emit("payment_method.attached", now, Snapshot::PaymentMethod(pm))?;
    Ok(())
}

/// `POST /v1/payment_methods/{id}/attach`.
pub fn attach_request(
    tx: &dyn Tx,
    pm: &mut PaymentMethod,
    form: &Form,
    now: i64,
) -> Result<(), ApiError> {
    form.check_known(&["customer", "expand[]"])?;
    let id = form
        .string("customer")
        .ok_or_else(|| ApiError::missing("customer"))?;
    let customer = live_customer(tx, id, "customer")?;
    attach(tx, pm, &customer, now)
}

/// `POST /v1/payment_methods/{id}/detach`: no longer the customer's (nor its default);
/// `payment_method.detached` (its `previous_attributes` name the customer).
pub fn detach(tx: &dyn Tx, pm: &mut PaymentMethod, form: &Form, now: i64) -> Result<(), ApiError> {
    form.check_known(&["expand[]"])?;
    let Some(customer) = pm.customer.take() else {
        return Err(ApiError::invalid(
            "payment_method_unexpected_state",
            "",
            format!(
                "The PaymentMethod {} is not attached to a customer, so it cannot be detached.",
                pm.id
            ),
        ));
    };
    tx.update_pm(pm)?;
    tx.emit_update(
        "payment_method.detached",
        now,
        Snapshot::PaymentMethod(pm),
        Some(&json!({ "customer": customer }).to_string()),
    )?;
    if let Some(mut c) = tx.customer(&customer)?
        && c.invoice_settings.default_payment_method.as_deref() == Some(pm.id.as_str())
    {
        let before = c.render();
        c.invoice_settings.default_payment_method = None;
        tx.update_customer(&c)?;
        if let Some(previous) = previous_attributes(&before, &c.render()) {
            tx.emit_update(
                "customer.updated",
                now,
                Snapshot::Customer(&c),
                Some(&previous.to_string()),
            )?;
        }
    }
    Ok(())
}
