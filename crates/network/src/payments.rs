//! The life of a konbini payment at the network: create, confirm (the voucher with its
//! codes and bill barcode), cancel, succeed (a store took the cash), expire; and refunds.
//!
//! Every rule of Stripe's Konbini surface lives here (Stripe's Konbini documentation, <https://docs.stripe.com/payments/konbini>)
//! with the offending parameter named in the error. These functions run inside one store
//! transaction and take the time as an argument; they never read a clock or do I/O.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveTime, TimeZone, Utc};
use rand::Rng;
use serde_json::{Value, json};

use super::Settings;
use super::business_days::available_on;
use super::error::ApiError;
use super::form::Form;
use super::ids::{new_id, random_alnum};
use super::objects::Snapshot;
use super::objects::{
    AutoOutcome, Billing, Charge, KonbiniOptions, PaymentIntent, PiStatus,
    REFUND_BANK_DETAILS_DAYS, Refund, RefundStatus, Voucher,
};
use crate::storage::Tx;
use konbini_domain::time::{business_date, jst};
use konbini_domain::{BillBarcode, BillFields, Chain, Deadline, Yen};

/// Konbini's smallest payment in yen.
pub const MIN_AMOUNT_YEN: i64 = 120;
/// Konbini's largest payment in yen.
pub const MAX_AMOUNT_YEN: i64 = 300_000;
/// Receipts of this many yen or more need a revenue stamp (Stamp Tax Act, since 2014-04).
pub const STAMP_THRESHOLD_YEN: i64 = 50_000;
/// Test-mode payments that succeed or expire "with delay" do so after this long.
const TEST_DELAY_SECONDS: i64 = 180;
/// Digits of a payment code.
const PAYMENT_CODE_DIGITS: u32 = 6;

fn random_digits(n: u32) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

const KONBINI: &str = "payment_method_options[konbini]";

/// The parameters that may come with a confirm (and with a create that confirms).
pub const CONFIRM_PARAMS: &[&str] = &[
    "allowed_payment_method_types[]",
    "expand[]",
    "payment_method",
    "receipt_email",
    "return_url",
    "payment_method_data[type]",
    "payment_method_data[billing_details][name]",
    "payment_method_data[billing_details][email]",
    "payment_method_data[billing_details][phone]",
    "payment_method_data[billing_details][address][city]",
    "payment_method_data[billing_details][address][country]",
    "payment_method_data[billing_details][address][line1]",
    "payment_method_data[billing_details][address][line2]",
    "payment_method_data[billing_details][address][postal_code]",
    "payment_method_data[billing_details][address][state]",
    "payment_method_data[metadata][*]",
    "payment_method_options[konbini][confirmation_number]",
    "payment_method_options[konbini][expires_after_days]",
    "payment_method_options[konbini][expires_at]",
    "payment_method_options[konbini][product_description]",
    "payment_method_options[konbini][setup_future_usage]",
];

/// The first API version that refuses `payment_method_types` on a PaymentIntent (Stripe's
/// changelog, "Removes the payment_method_types parameter from PaymentIntents and
/// SetupIntents", 2026-09-30.endive): a request naming it or a later one is refused; an
/// older one, or none (curl), keeps it.
pub const PAYMENT_METHOD_TYPES_REMOVED_IN: &str = "2026-09-30";

/// Refuse `payment_method_types` to a caller of `stripe_version` (its `Stripe-Version`
/// header) that is 2026-09-30.endive or later, with Stripe's code for it; the objects still
/// answer `payment_method_types` (read-only).
pub fn check_payment_method_types_version(
    form: &Form,
    stripe_version: Option<&str>,
) -> Result<(), ApiError> {
    let Some(version) = stripe_version else {
        return Ok(());
    };
    let date = version.split('.').next().unwrap_or(version);
    if date >= PAYMENT_METHOD_TYPES_REMOVED_IN && form.has("payment_method_types") {
        return Err(ApiError::invalid(
            "payment_method_types_no_longer_supported",
            "payment_method_types",
            format!(
                "payment_method_types is no longer a parameter of PaymentIntents as of API version 2026-09-30.endive (this request asks for {version}): leave it out (konbini is this network's only payment method) or send allowed_payment_method_types."
            ),
        ));
    }
    Ok(())
}

/// The parameters a create takes besides [`CONFIRM_PARAMS`].
pub const CREATE_ONLY_PARAMS: &[&str] = &[
    "amount",
    "automatic_payment_methods[enabled]",
    "automatic_payment_methods[allow_redirects]",
    "currency",
    "confirm",
    "customer",
    "description",
    "metadata[*]",
    "payment_method_types[]",
    "statement_descriptor",
];

fn invalid(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid("payment_intent_invalid_parameter", param, message)
}

fn unexpected_state(pi: &PaymentIntent, action: &str, allowed: &str) -> ApiError {
    ApiError::invalid(
        "payment_intent_unexpected_state",
        "",
        format!(
            "This PaymentIntent's status is {}, but must be one of {allowed} to be {action}.",
            pi.status.as_str()
        ),
    )
    .executing()
}

/// Apply `payment_method_options[konbini]` to `options`, checking each rule.
fn apply_konbini_options(
    form: &Form,
    options: &mut KonbiniOptions,
    now: i64,
) -> Result<(), ApiError> {
    let p_number = format!("{KONBINI}[confirmation_number]");
    if let Some(number) = form.get(&p_number) {
        if number.is_empty() {
            options.confirmation_number = None;
        } else {
            let digits = number.bytes().all(|b| b.is_ascii_digit());
            if !digits || !(10..=11).contains(&number.len()) {
                return Err(invalid(
                    &p_number,
                    format!("The confirmation number {number:?} must be 10 or 11 digits."),
                ));
            }
            if number.bytes().all(|b| b == b'0') {
                return Err(invalid(
                    &p_number,
                    "The confirmation number must not consist of only zeroes.",
                ));
            }
            options.confirmation_number = Some(number.to_owned());
        }
    }
    let p_days = format!("{KONBINI}[expires_after_days]");
    let p_at = format!("{KONBINI}[expires_at]");
    let days = form.int(&p_days)?;
    let at = form.int(&p_at)?;
    if days.is_some() && at.is_some() {
        return Err(invalid(
            &p_at,
            "You may only specify one of expires_after_days and expires_at.",
        ));
    }
    if let Some(d) = days {
        if !(1..=60).contains(&d) {
            return Err(ApiError::invalid(
                "parameter_invalid_integer",
                &p_days,
                format!("expires_after_days must be between 1 and 60 (got {d})."),
            ));
        }
        options.expires_after_days = Some(d);
        options.expires_at = None;
    }
    if let Some(t) = at {
        check_expires_at(t, now, &p_at)?;
        options.expires_at = Some(t);
        options.expires_after_days = None;
    }
    let p_desc = format!("{KONBINI}[product_description]");
    if let Some(desc) = form.get(&p_desc) {
        if desc.is_empty() {
            options.product_description = None;
        } else {
            if desc.chars().count() > 22 {
                return Err(invalid(
                    &p_desc,
                    format!(
                        "product_description is {} characters; at most 22 are allowed.",
                        desc.chars().count()
                    ),
                ));
            }
            // encoding_rs encodes Windows-31J, a superset of JIS X 0208: characters outside
            // it (emoji, most of JIS X 0213) are caught; NEC/IBM extensions are let through.
            let (_, _, unmappable) = encoding_rs::SHIFT_JIS.encode(desc);
            if unmappable {
                return Err(invalid(
                    &p_desc,
                    "product_description has characters that Shift_JIS cannot encode.",
                ));
            }
            options.product_description = Some(desc.to_owned());
        }
    }
    let p_sfu = format!("{KONBINI}[setup_future_usage]");
    if let Some(v) = form.string(&p_sfu)
        && v != "none"
    {
        return Err(invalid(
            &p_sfu,
            "Konbini payments support only setup_future_usage=none.",
        ));
    }
    Ok(())
}

fn check_expires_at(t: i64, now: i64, param: &str) -> Result<(), ApiError> {
    if t <= now + 30 * 60 {
        return Err(invalid(
            param,
            "expires_at must be more than 30 minutes in the future.",
        ));
    }
    if t > now + 60 * 86_400 {
        return Err(invalid(
            param,
            "expires_at must be less than 60 days in the future.",
        ));
    }
    Ok(())
}

fn apply_billing(form: &Form, billing: &mut Option<Billing>) {
    let name = form.string("payment_method_data[billing_details][name]");
    let email = form.string("payment_method_data[billing_details][email]");
    let phone = form.string("payment_method_data[billing_details][phone]");
    if name.is_none() && email.is_none() && phone.is_none() {
        return;
    }
    let old = billing.take();
    *billing = Some(Billing {
        name: name
            .map(str::to_owned)
            .or_else(|| old.as_ref().map(|b| b.name.clone()))
            .unwrap_or_default(),
        email: email
            .map(str::to_owned)
            .or_else(|| old.as_ref().map(|b| b.email.clone()))
            .unwrap_or_default(),
        phone: phone
            .map(str::to_owned)
            .or_else(|| old.and_then(|b| b.phone)),
    });
}

/// The PaymentMethod a create or a confirm names (`payment_method`, whose billing details
/// become the payment's) or makes (`payment_method_data`, kept as a konbini PaymentMethod,
/// as Stripe makes one): the payment's `payment_method` names it, so that it expands.
fn take_payment_method(
    tx: &dyn Tx,
    form: &Form,
    pi: &mut PaymentIntent,
    billing: &mut Option<Billing>,
    now: i64,
) -> Result<(), ApiError> {
    if let Some(id) = form.string("payment_method") {
        if form.has("payment_method_data") {
            return Err(ApiError::invalid(
                "parameter_invalid_string",
                "payment_method_data",
                "You may only specify one of these parameters: payment_method, payment_method_data.",
            ));
        }
        let pm = crate::customers::find_pm(tx, id, "payment_method")?;
        if let Some(owner) = &pm.customer
            && pi.customer.as_deref() != Some(owner.as_str())
        {
            return Err(invalid(
                "payment_method",
                format!(
                    "The PaymentMethod {id} is attached to the customer {owner}: a PaymentIntent may use it only with customer={owner}."
                ),
            ));
        }
        let d = &pm.billing_details;
        *billing = Some(Billing {
            name: d.name.clone().unwrap_or_default(),
            email: d.email.clone().unwrap_or_default(),
            phone: d.phone.clone(),
        });
        pi.payment_method = Some(pm.id);
        return Ok(());
    }
    let Some(b) = billing else {
        return Ok(());
    };
    let kept = match &pi.payment_method {
        Some(id) => tx.pm(id)?.is_some(),
        None => false,
    };
    if kept && !form.has("payment_method_data") {
        return Ok(());
    }
    // `payment_method_data` takes what `POST /v1/payment_methods` takes (Stripe's
    // `payment_method_data` is "the parameters of a PaymentMethod to create"): the address
    // and metadata go to the PaymentMethod; the payment keeps name, email and phone.
    let mut pm = crate::customers::new_pm(
        crate::objects::BillingDetails {
            name: Some(b.name.clone()).filter(|n| !n.is_empty()),
            email: Some(b.email.clone()).filter(|e| !e.is_empty()),
            phone: b.phone.clone(),
            address: crate::customers::address_of(
                form,
                "payment_method_data[billing_details][address]",
            )
            .unwrap_or_default(),
            ..Default::default()
        },
        form.metadata_of("payment_method_data[metadata]")?,
        now,
    );
    pm.seq = tx.insert_pm(&pm)?;
    pi.payment_method = Some(pm.id);
    Ok(())
}

/// `allowed_payment_method_types[]`, if sent: Stripe keeps the methods that fit and drops
/// the rest silently, so the list must hold konbini (the only one here); it cannot come with
/// `payment_method_types`.
fn allowed_types(form: &Form) -> Result<Option<Vec<String>>, ApiError> {
    if !form.has("allowed_payment_method_types") {
        return Ok(None);
    }
    if form.has("payment_method_types") {
        return Err(ApiError::invalid(
            "parameters_exclusive",
            "allowed_payment_method_types",
            "You may only specify one of these parameters: allowed_payment_method_types, payment_method_types.",
        ));
    }
    let types: Vec<String> = form
        .array("allowed_payment_method_types")
        .into_iter()
        .map(str::to_owned)
        .collect();
    if !types.iter().any(|t| t == "konbini") {
        return Err(invalid(
            "allowed_payment_method_types",
            format!(
                "None of the allowed payment method types {types:?} can pay here: this network accepts only konbini."
            ),
        ));
    }
    Ok(Some(types))
}

/// `automatic_payment_methods` of a new payment: on (`allow_redirects` `always` unless sent)
/// when it names no payment method types, as Stripe has done by default since 2023-08-16;
/// off when it names them. Sent with `enabled=true` beside a list of types, or beside
/// `allowed_payment_method_types`, it is refused as Stripe refuses the pair.
fn automatic_methods(form: &Form, allowed: bool) -> Result<Option<String>, ApiError> {
    let enabled = form.bool("automatic_payment_methods[enabled]")?;
    let named = form.has("payment_method_types") || allowed;
    if enabled == Some(true) && named {
        let other = if allowed {
            "allowed_payment_method_types"
        } else {
            "payment_method_types"
        };
        return Err(ApiError::invalid(
            "parameters_exclusive",
            "automatic_payment_methods",
            format!(
                "You may only specify one of these parameters: automatic_payment_methods, {other}."
            ),
        ));
    }
    let redirects = match form.string("automatic_payment_methods[allow_redirects]") {
        None | Some("always") => "always",
        Some("never") => "never",
        Some(other) => {
            return Err(ApiError::invalid(
                "parameter_invalid_string",
                "automatic_payment_methods[allow_redirects]",
                format!("Invalid allow_redirects: must be always or never (got {other:?})."),
            ));
        }
    };
    Ok((enabled.unwrap_or(!named)).then(|| redirects.to_owned()))
}

fn check_payment_method_type(form: &Form) -> Result<(), ApiError> {
    if let Some(t) = form.string("payment_method_data[type]")
        && t != "konbini"
    {
        return Err(invalid(
            "payment_method_data[type]",
            format!("This network accepts only konbini payments, not {t:?}."),
        ));
    }
    Ok(())
}

/// Konbini takes only yen.
fn check_currency(currency: &str) -> Result<(), ApiError> {
    if currency != "jpy" {
        return Err(invalid(
            "currency",
            format!(
                "The currency provided ({currency}) is invalid. Payments with konbini support the following currencies: jpy."
            ),
        ));
    }
    Ok(())
}

/// Konbini's amount limits.
fn check_amount(amount: i64) -> Result<(), ApiError> {
    if amount < MIN_AMOUNT_YEN {
        return Err(ApiError::invalid(
            "amount_too_small",
            "amount",
            format!("Amount must be at least ¥{MIN_AMOUNT_YEN} jpy for konbini payments."),
        ));
    }
    if amount > MAX_AMOUNT_YEN {
        return Err(ApiError::invalid(
            "amount_too_large",
            "amount",
            format!("Amount must be no more than ¥{MAX_AMOUNT_YEN} jpy for konbini payments."),
        ));
    }
    Ok(())
}

/// Stripe's limit on a statement descriptor's length.
const STATEMENT_DESCRIPTOR_MAX_CHARS: usize = 22;

/// `statement_descriptor`, if sent: at most 22 characters.
fn statement_descriptor(form: &Form) -> Result<Option<String>, ApiError> {
    statement_descriptor_of(form, "statement_descriptor")
}

/// A statement descriptor parameter `param`, if sent: at most 22 characters.
pub(crate) fn statement_descriptor_of(
    form: &Form,
    param: &str,
) -> Result<Option<String>, ApiError> {
    let Some(d) = form.string(param) else {
        return Ok(None);
    };
    if d.chars().count() > STATEMENT_DESCRIPTOR_MAX_CHARS {
        return Err(ApiError::invalid(
            "parameter_invalid_string",
            param,
            format!(
                "The statement descriptor must be at most {STATEMENT_DESCRIPTOR_MAX_CHARS} characters (got {}).",
                d.chars().count()
            ),
        ));
    }
    Ok(Some(d.to_owned()))
}

/// `POST /v1/payment_intents`.
pub fn create(
    tx: &dyn Tx,
    settings: &Settings,
    form: &Form,
    now: i64,
) -> Result<(PaymentIntent, bool), ApiError> {
    form.check_known(&[CREATE_ONLY_PARAMS, CONFIRM_PARAMS].concat())?;
    let amount = form
        .int("amount")?
        .ok_or_else(|| ApiError::missing("amount"))?;
    let currency = form
        .string("currency")
        .ok_or_else(|| ApiError::missing("currency"))?
        .to_ascii_lowercase();
    check_currency(&currency)?;
    check_amount(amount)?;
    let types = form.array("payment_method_types");
    if let Some(t) = types.iter().find(|t| **t != "konbini") {
        return Err(invalid(
            "payment_method_types",
            format!("The payment method type {t:?} is invalid: this network accepts only konbini."),
        ));
    }
    let allowed = allowed_types(form)?;
    let automatic = automatic_methods(form, allowed.is_some())?;
    check_payment_method_type(form)?;
    let confirm = form.bool("confirm")?.unwrap_or(false);
    let mut konbini = KonbiniOptions::default();
    apply_konbini_options(form, &mut konbini, now)?;
    let mut billing = None;
    apply_billing(form, &mut billing);
    let seq = tx.next_pi_seq()?;
    let id = new_id("pi");
    let mut pi = PaymentIntent {
        client_secret: format!("{id}_secret_{}", random_alnum(25)),
        id,
        seq,
        created: now,
        amount,
        currency,
        status: PiStatus::RequiresPaymentMethod,
        description: form.string("description").map(str::to_owned),
        metadata: form.metadata()?,
        receipt_email: form.string("receipt_email").map(str::to_owned),
        customer: form
            .string("customer")
            .map(|id| crate::customers::live_customer(tx, id, "customer").map(|c| c.id))
            .transpose()?,
        statement_descriptor: statement_descriptor(form)?,
        payment_method_types: vec!["konbini".to_owned()],
        allowed_payment_method_types: allowed,
        automatic_payment_methods: automatic,
        billing,
        payment_method: None,
        konbini,
        voucher: None,
        expired: false,
        canceled_at: None,
        cancellation_reason: None,
        latest_charge: None,
        amount_received: 0,
        last_payment_error: None,
        auto: None,
        checkout_session: None,
    };
    let mut wake = false;
    if confirm {
        wake = confirm_pi(tx, settings, &mut pi, form, now)?;
        tx.insert_pi(&pi)?;
        claim_codes(tx, &mut pi)?;
        tx.update_pi(&pi)?;
        emit_pi(tx, &pi, "payment_intent.requires_action", now)?;
    } else {
        let mut billing = pi.billing.take();
        take_payment_method(tx, form, &mut pi, &mut billing, now)?;
        pi.billing = billing;
        if pi.payment_method.is_some() {
            pi.status = PiStatus::RequiresConfirmation;
        }
        tx.insert_pi(&pi)?;
    }
    Ok((pi, wake))
}

/// `POST /v1/payment_intents/{id}/confirm`. Returns whether the scheduler has new work.
pub fn confirm(
    tx: &dyn Tx,
    settings: &Settings,
    pi: &mut PaymentIntent,
    form: &Form,
    now: i64,
) -> Result<bool, ApiError> {
    // `client_secret`: what a page's Stripe.js sends (checked by the route).
    form.check_known(&[CONFIRM_PARAMS, &["client_secret"]].concat())?;
    check_payment_method_type(form)?;
    refuse_checkout_owned(tx, pi, "confirm")?;
    if let Some(allowed) = allowed_types(form)? {
        pi.allowed_payment_method_types = Some(allowed);
    }
    let wake = confirm_pi(tx, settings, pi, form, now)?;
    claim_codes(tx, pi)?;
    tx.update_pi(pi)?;
    emit_pi(tx, pi, "payment_intent.requires_action", now)?;
    Ok(wake)
}

/// The parameters of `POST /v1/payment_intents/{id}`.
pub const UPDATE_PARAMS: &[&str] = &[
    "allowed_payment_method_types[]",
    "amount",
    "currency",
    "customer",
    "description",
    "expand[]",
    "metadata",
    "metadata[*]",
    "payment_method",
    "payment_method_data[type]",
    "payment_method_data[billing_details][name]",
    "payment_method_data[billing_details][email]",
    "payment_method_data[billing_details][phone]",
    "payment_method_data[billing_details][address][city]",
    "payment_method_data[billing_details][address][country]",
    "payment_method_data[billing_details][address][line1]",
    "payment_method_data[billing_details][address][line2]",
    "payment_method_data[billing_details][address][postal_code]",
    "payment_method_data[billing_details][address][state]",
    "payment_method_data[metadata][*]",
    "payment_method_options[konbini][confirmation_number]",
    "payment_method_options[konbini][expires_after_days]",
    "payment_method_options[konbini][expires_at]",
    "payment_method_options[konbini][product_description]",
    "payment_method_options[konbini][setup_future_usage]",
    "receipt_email",
    "statement_descriptor",
];

/// What an update may change only while the payment is not finished, each as Stripe names
/// it in `param` (a konbini option by its top-level `payment_method_options`).
const UPDATABLE_UNTIL_FINISHED: &[&str] = &[
    "amount",
    "currency",
    "customer",
    "payment_method",
    "payment_method_data",
    "payment_method_options",
    "statement_descriptor",
];

/// The statuses in which a payment's money-shaping parameters may be updated.
const UPDATABLE_STATUSES: &str = "requires_payment_method, requires_confirmation, requires_action";

/// An optional string field's update: absent keeps it, empty unsets it.
fn update_string(form: &Form, name: &str, field: &mut Option<String>) {
    if let Some(v) = form.get(name) {
        *field = (!v.is_empty()).then(|| v.to_owned());
    }
}

/// `POST /v1/payment_intents/{id}`: change what is sent, keep the rest. `metadata`,
/// `description` and `receipt_email` may change in any status; the rest only while the
/// payment is not finished, else Stripe's `payment_intent_unexpected_state` naming the
/// parameter and carrying the payment. In `requires_action`, a change to the amount or to
/// the konbini options reissues the voucher at once: new payment codes and bill barcode (the
/// old ones are no longer payable), the same confirmation number unless a new one is given,
/// and `payment_intent.requires_action` sent again with the new voucher. Returns whether the
/// scheduler has new work.
pub fn update(
    tx: &dyn Tx,
    settings: &Settings,
    pi: &mut PaymentIntent,
    form: &Form,
    now: i64,
    render: &dyn Fn(&PaymentIntent) -> Value,
) -> Result<bool, ApiError> {
    form.check_known(UPDATE_PARAMS)?;
    let open = matches!(
        pi.status,
        PiStatus::RequiresPaymentMethod | PiStatus::RequiresConfirmation | PiStatus::RequiresAction
    );
    if !open && let Some(p) = UPDATABLE_UNTIL_FINISHED.iter().find(|p| form.has(p)) {
        let status = pi.status.as_str();
        return Err(ApiError {
            payment_intent: Some(Box::new(render(pi))),
            ..ApiError::invalid(
                "payment_intent_unexpected_state",
                p,
                format!(
                    "This PaymentIntent's {p} could not be updated because it has a status of {status}. You may only update the {p} of a PaymentIntent with one of the following statuses: {UPDATABLE_STATUSES}."
                ),
            )
        });
    }
    let amount_before = pi.amount;
    let konbini_before = pi.konbini.clone();
    if let Some(amount) = form.int("amount")? {
        check_amount(amount)?;
        pi.amount = amount;
    }
    if let Some(c) = form.string("currency") {
        check_currency(&c.to_ascii_lowercase())?;
    }
    if let Some(allowed) = allowed_types(form)? {
        pi.allowed_payment_method_types = Some(allowed);
    }
    form.merge_metadata(&mut pi.metadata)?;
    update_string(form, "description", &mut pi.description);
    update_string(form, "receipt_email", &mut pi.receipt_email);
    update_string(form, "customer", &mut pi.customer);
    if let Some(id) = &pi.customer
        && form.string("customer").is_some()
    {
        crate::customers::live_customer(tx, id, "customer")?;
    }
    if form.get("statement_descriptor").is_some() {
        pi.statement_descriptor = statement_descriptor(form)?.filter(|d| !d.is_empty());
    }
    let payment_method_before = pi.payment_method.clone();
    if form.string("payment_method").is_some() || form.has("payment_method_data") {
        // A kept PaymentMethod (one attached to a customer only for that customer's
        // payments, the customer as updated above), or a new one from
        // `payment_method_data` (Stripe: "this hash will be used to create a PaymentMethod.
        // The new PaymentMethod will appear in the payment_method property"); its billing
        // details become the payment's. A payment waiting for one now waits for its
        // confirmation, as Stripe's.
        check_payment_method_type(form)?;
        let mut billing = pi.billing.clone();
        apply_billing(form, &mut billing);
        take_payment_method(tx, form, pi, &mut billing, now)?;
        pi.billing = billing;
        if pi.status == PiStatus::RequiresPaymentMethod && pi.payment_method.is_some() {
            pi.status = PiStatus::RequiresConfirmation;
        }
    } else if form.get("payment_method").is_some() {
        // Stripe's answer to an empty value for a parameter that cannot be unset.
        return Err(ApiError::invalid(
            "parameter_invalid_empty",
            "payment_method",
            "You passed an empty string for 'payment_method'. We assume empty values are an attempt to unset a parameter; however 'payment_method' cannot be unset. You should remove 'payment_method' from your request or supply a non-empty value.",
        ));
    }
    let mut konbini = pi.konbini.clone();
    apply_konbini_options(form, &mut konbini, now)?;
    pi.konbini = konbini;
    let reissue = pi.status == PiStatus::RequiresAction
        && (pi.amount != amount_before
            || pi.konbini != konbini_before
            || pi.payment_method != payment_method_before);
    if !reissue {
        tx.update_pi(pi)?;
        return Ok(false);
    }
    let old_number = pi.voucher.as_ref().map(|v| v.confirmation_number.clone());
    let wake = confirm_pi(tx, settings, pi, &Form::default(), now)?;
    if pi.konbini.confirmation_number.is_none()
        && let (Some(v), Some(n)) = (pi.voucher.as_mut(), old_number)
    {
        v.confirmation_number = n;
    }
    claim_codes(tx, pi)?;
    tx.update_pi(pi)?;
    emit_pi(tx, pi, "payment_intent.requires_action", now)?;
    Ok(wake)
}

/// The test-mode behaviour a confirmation number or email asks for (reference 1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Magic {
    SucceedWithDelay,
    SucceedImmediately,
    ExpireImmediately,
    ExpireWithDelay,
    FillNever,
    Reject,
    None,
}

fn magic(number: Option<&str>, email: &str, autopay: bool) -> Magic {
    match number {
        Some("11111111110") => return Magic::SucceedWithDelay,
        Some("22222222220") => return Magic::SucceedImmediately,
        Some("33333333330") => return Magic::ExpireImmediately,
        Some("44444444440") => return Magic::ExpireWithDelay,
        Some("55555555550") => return Magic::FillNever,
        Some("01234567890") => return Magic::Reject,
        Some(_) => return Magic::None,
        None => {}
    }
    let local = email.split('@').next().unwrap_or("");
    if !email.contains('@') {
        Magic::None
    } else if local.ends_with("succeed_immediately") {
        Magic::SucceedImmediately
    } else if local.ends_with("expire_immediately") {
        Magic::ExpireImmediately
    } else if local.ends_with("expire_with_delay") {
        Magic::ExpireWithDelay
    } else if local.ends_with("fill_never") {
        Magic::FillNever
    } else if autopay {
        Magic::SucceedWithDelay
    } else {
        Magic::None
    }
}

/// 23:59:59 JST, `days` days after the date in Japan at `from`.
fn end_of_day_jst(from: i64, days: i64) -> i64 {
    let at = DateTime::<Utc>::from_timestamp(from, 0).unwrap_or_default();
    let date = business_date(&at) + chrono::Duration::days(days);
    jst()
        .from_local_datetime(
            &date.and_time(NaiveTime::from_hms_opt(23, 59, 59).expect("a valid time")),
        )
        .single()
        .expect("JST has no gaps")
        .timestamp()
}

fn confirm_pi(
    tx: &dyn Tx,
    settings: &Settings,
    pi: &mut PaymentIntent,
    form: &Form,
    now: i64,
) -> Result<bool, ApiError> {
    if !matches!(
        pi.status,
        PiStatus::RequiresPaymentMethod | PiStatus::RequiresConfirmation | PiStatus::RequiresAction
    ) {
        return Err(unexpected_state(
            pi,
            "confirmed",
            "requires_payment_method, requires_confirmation, requires_action",
        ));
    }
    let mut options = pi.konbini.clone();
    apply_konbini_options(form, &mut options, now)?;
    let mut billing = pi.billing.clone();
    apply_billing(form, &mut billing);
    take_payment_method(tx, form, pi, &mut billing, now)?;
    let billing_name = billing.as_ref().map_or("", |b| b.name.as_str());
    if billing_name.is_empty() {
        return Err(ApiError::missing(
            "payment_method_data[billing_details][name]",
        ));
    }
    let email = billing.as_ref().map_or("", |b| b.email.as_str()).to_owned();
    if email.is_empty() {
        return Err(ApiError::missing(
            "payment_method_data[billing_details][email]",
        ));
    }
    let magic = magic(
        options.confirmation_number.as_deref(),
        &email,
        settings.test_autopay,
    );
    if magic == Magic::Reject {
        return Err(ApiError::invalid(
            "payment_intent_konbini_rejected_confirmation_number",
            &format!("{KONBINI}[confirmation_number]"),
            "The confirmation number was rejected by the convenience store network; use another one (the customer's phone number, say).",
        )
        .executing());
    }
    let (mut expires_at, mut grace) = match (options.expires_at, options.expires_after_days) {
        (Some(t), _) => {
            check_expires_at(t, now, &format!("{KONBINI}[expires_at]"))?;
            (t, settings.expiry_grace_seconds)
        }
        (None, Some(days)) => (end_of_day_jst(now, days), settings.expiry_grace_seconds),
        (None, None) => (end_of_day_jst(pi.created, 3), settings.expiry_grace_seconds),
    };
    let mut auto = None;
    match magic {
        Magic::SucceedWithDelay => auto = Some(AutoOutcome::SucceedAt(now + TEST_DELAY_SECONDS)),
        Magic::SucceedImmediately => auto = Some(AutoOutcome::SucceedAt(now)),
        Magic::ExpireImmediately => (expires_at, grace) = (now, 0),
        Magic::ExpireWithDelay => (expires_at, grace) = (now + TEST_DELAY_SECONDS, 0),
        Magic::FillNever | Magic::None | Magic::Reject => {}
    }
    let number = options.confirmation_number.clone().unwrap_or_else(|| {
        loop {
            let n = random_digits(11);
            if n.bytes().any(|b| b != b'0') && magic_number(&n).is_none() {
                break n;
            }
        }
    });
    if let Some(e) = form.string("receipt_email") {
        pi.receipt_email = Some(e.to_owned());
    }
    let reissue = pi
        .voucher
        .as_ref()
        .map_or(0, |v| barcode_reissue(&v.barcode).saturating_add(1).min(9));
    let deadline_date =
        business_date(&DateTime::<Utc>::from_timestamp(expires_at, 0).unwrap_or_default());
    // The bill barcode carries the deadline's year in two digits, 2000-2099: a clock moved
    // outside them (or a wall clock there) cannot issue a voucher, and says why.
    if !(2000..=2099).contains(&deadline_date.year()) {
        let param = if options.expires_at.is_some() {
            format!("{KONBINI}[expires_at]")
        } else {
            String::new()
        };
        return Err(ApiError::invalid(
            "parameter_invalid_integer",
            &param,
            format!(
                "The voucher's deadline {deadline_date} is outside the years 2000-2099 that a bill barcode can carry; move the test clock (POST /v1/test_helpers/clock) back between {} and {}.",
                crate::clock::EARLIEST,
                crate::clock::LATEST
            ),
        ));
    }
    let barcode = BillBarcode::build(&BillFields {
        company_code: &settings.company_code,
        free_area: &format!("{:021}", pi.seq),
        reissue,
        deadline: Deadline::On(deadline_date),
        stamp: pi.amount >= STAMP_THRESHOLD_YEN,
        amount: Yen::new(pi.amount as u64),
    })
    .map_err(|e| ApiError::internal(format!("could not build the bill barcode: {e}")))?;
    pi.konbini = options;
    pi.billing = billing;
    pi.status = PiStatus::RequiresAction;
    pi.expired = false;
    pi.last_payment_error = None;
    pi.auto = auto;
    pi.voucher = Some(Voucher {
        expires_at,
        confirmation_number: number,
        codes: BTreeMap::new(),
        barcode: barcode.as_str().to_owned(),
        token: random_alnum(32),
        grace_seconds: grace,
    });
    let _ = tx;
    Ok(pi.due_at().is_some_and(|d| d <= now + TEST_DELAY_SECONDS))
}

fn magic_number(n: &str) -> Option<Magic> {
    match magic(Some(n), "", false) {
        Magic::None => None,
        m => Some(m),
    }
}

fn barcode_reissue(barcode: &str) -> u8 {
    barcode
        .as_bytes()
        .get(29)
        .map_or(0, |b| b.wrapping_sub(b'0'))
}

/// Give the payment a fresh code at every chain, unique among payable payments there.
fn claim_codes(tx: &dyn Tx, pi: &mut PaymentIntent) -> Result<(), ApiError> {
    let voucher = pi
        .voucher
        .as_mut()
        .expect("confirmed payments have a voucher");
    voucher.codes.clear();
    for chain in Chain::ALL {
        let mut claimed = None;
        for _ in 0..200 {
            let code = random_digits(PAYMENT_CODE_DIGITS);
            if tx.claim_code(chain, &code, pi.seq)? {
                claimed = Some(code);
                break;
            }
        }
        let code = claimed.ok_or_else(|| ApiError {
            code: Some("payment_method_not_available"),
            ..ApiError::internal(format!(
                "no free payment code at {chain}: too many payable payments"
            ))
        })?;
        voucher.codes.insert(chain, code);
    }
    Ok(())
}

fn emit_pi(tx: &dyn Tx, pi: &PaymentIntent, event_type: &str, now: i64) -> Result<(), ApiError> {
    tx.emit(event_type, now, Snapshot::PaymentIntent(pi))?;
    Ok(())
}

/// Stripe: "You can't confirm or cancel the PaymentIntent for a Checkout Session. To cancel,
/// expire the Checkout Session instead" (stripe-node 23.1.0, `Checkout.Session.payment_intent`).
/// The wording of the refusal is ours; the code is Stripe's for a state that forbids it.
fn refuse_checkout_owned(tx: &dyn Tx, pi: &PaymentIntent, action: &str) -> Result<(), ApiError> {
    if pi.checkout_session.is_none() {
        return Ok(());
    }
    match tx.session_by_pi(pi.seq)? {
        Some(session) => Err(ApiError::invalid(
            "payment_intent_unexpected_state",
            "",
            format!(
                "You can't {action} the PaymentIntent {} of the Checkout Session {}: a Checkout Session's payment is confirmed by its page. To cancel, expire the Checkout Session instead.",
                pi.id, session.id
            ),
        )),
        None => Ok(()),
    }
}

/// `POST /v1/payment_intents/{id}/cancel`.
pub fn cancel(tx: &dyn Tx, pi: &mut PaymentIntent, form: &Form, now: i64) -> Result<(), ApiError> {
    form.check_known(&["cancellation_reason", "expand[]"])?;
    let reason = form.string("cancellation_reason");
    if let Some(r) = reason
        && ![
            "duplicate",
            "fraudulent",
            "requested_by_customer",
            "abandoned",
        ]
        .contains(&r)
    {
        return Err(ApiError::invalid(
            "parameter_invalid_string",
            "cancellation_reason",
            format!(
                "Invalid cancellation_reason: must be one of duplicate, fraudulent, requested_by_customer or abandoned (got {r:?})."
            ),
        ));
    }
    if !matches!(
        pi.status,
        PiStatus::RequiresPaymentMethod | PiStatus::RequiresConfirmation | PiStatus::RequiresAction
    ) {
        return Err(unexpected_state(
            pi,
            "canceled",
            "requires_payment_method, requires_confirmation, requires_action",
        ));
    }
    refuse_checkout_owned(tx, pi, "cancel")?;
    pi.status = PiStatus::Canceled;
    pi.canceled_at = Some(now);
    pi.cancellation_reason = reason.map(str::to_owned);
    pi.auto = None;
    tx.update_pi(pi)?;
    emit_pi(tx, pi, "payment_intent.canceled", now)?;
    Ok(())
}

/// Where a payment's cash was taken.
pub struct PaidAt<'a> {
    /// The chain, `None` for a test-mode automatic success.
    pub chain: Option<Chain>,
    /// The store's code.
    pub store: Option<&'a str>,
    /// The register's slip id.
    pub confirmation: Option<&'a str>,
    /// When the cash was taken.
    pub at: DateTime<Utc>,
}

/// A store took the cash: the payment succeeds, with its charge and balance transaction.
pub fn succeed(
    tx: &dyn Tx,
    pi: &mut PaymentIntent,
    paid: &PaidAt<'_>,
    now: i64,
) -> Result<Charge, ApiError> {
    let charge = Charge {
        id: new_id("ch"),
        payment_intent: pi.id.clone(),
        created: now,
        amount: pi.amount,
        amount_refunded: 0,
        chain: paid.chain,
        store: paid.store.map(str::to_owned),
        confirmation: paid.confirmation.map(str::to_owned),
        billing: pi.billing.clone(),
        payment_method: pi.payment_method.clone(),
        balance_transaction: new_id("txn"),
        available_on: available_on(paid.at),
        description: pi.description.clone(),
        customer: pi.customer.clone(),
        receipt_email: pi.receipt_email.clone(),
        statement_descriptor: pi.statement_descriptor.clone(),
        metadata: pi.metadata.clone(),
    };
    pi.status = PiStatus::Succeeded;
    pi.amount_received = pi.amount;
    pi.latest_charge = Some(charge.id.clone());
    pi.auto = None;
    pi.expired = false;
    pi.last_payment_error = None;
    // Each record is serialized once: for its row and for its event's snapshot.
    let charge_doc = tx.insert_charge(pi.seq, &charge)?;
    let pi_doc = tx.update_pi(pi)?;
    let stored = |kind, doc| Snapshot::Stored { kind, doc };
    tx.emit("charge.succeeded", now, stored("charge", &charge_doc))?;
    tx.emit(
        "payment_intent.succeeded",
        now,
        stored("payment_intent", &pi_doc),
    )?;
    crate::checkout::pi_succeeded(tx, pi, now)?;
    Ok(charge)
}

/// The voucher ran out unpaid: back to `requires_payment_method`, `payment_failed` sent.
pub fn expire(tx: &dyn Tx, pi: &mut PaymentIntent, now: i64) -> Result<(), ApiError> {
    pi.status = PiStatus::RequiresPaymentMethod;
    pi.expired = true;
    pi.auto = None;
    pi.last_payment_error = Some(json!({
        "type": "invalid_request_error",
        "code": "payment_intent_payment_attempt_expired",
        "message": "The konbini voucher expired before the customer paid at a store.",
        "payment_method": {"id": pi.payment_method, "object": "payment_method", "type": "konbini"},
    }));
    tx.update_pi(pi)?;
    emit_pi(tx, pi, "payment_intent.payment_failed", now)?;
    crate::checkout::pi_expired(tx, pi, now)?;
    Ok(())
}

/// Run whatever is due by `now`: test-mode successes, expiries, refund deadlines and
/// transfers, and Checkout Sessions nobody completed in time. Returns how many records
/// changed.
pub fn run_due(tx: &dyn Tx, now: i64) -> Result<usize, ApiError> {
    let mut changed = crate::checkout::run_due(tx, now)?;
    for mut pi in tx.due_pis(now, 500)? {
        if pi.status != PiStatus::RequiresAction {
            tx.update_pi(&pi)?;
            continue;
        }
        if let Some(AutoOutcome::SucceedAt(t)) = pi.auto
            && t <= now
        {
            let at = DateTime::<Utc>::from_timestamp(t, 0).unwrap_or_default();
            let paid = PaidAt {
                chain: None,
                store: None,
                confirmation: None,
                at,
            };
            succeed(tx, &mut pi, &paid, now)?;
            changed += 1;
            continue;
        }
        let v = pi.voucher.as_ref().expect("requires_action has a voucher");
        if now >= v.expires_at + v.grace_seconds {
            expire(tx, &mut pi, now)?;
            changed += 1;
        } else {
            tx.update_pi(&pi)?;
        }
    }
    for mut refund in tx.due_refunds(now, 500)? {
        match refund.status {
            RefundStatus::RequiresAction if now >= refund.expires_at => {
                fail_refund(tx, &mut refund, "expired_or_canceled_card", now)?;
            }
            RefundStatus::Pending if refund.transfer_at.is_some_and(|t| t <= now) => {
                if refund.transfer_fails {
                    fail_refund(tx, &mut refund, "declined", now)?;
                } else {
                    refund.status = RefundStatus::Succeeded;
                    tx.update_refund(&refund)?;
                    tx.emit("refund.updated", now, Snapshot::Refund(&refund))?;
                }
            }
            _ => {
                tx.update_refund(&refund)?;
                continue;
            }
        }
        changed += 1;
    }
    Ok(changed)
}

/// The parameters of `POST /v1/refunds`.
pub const REFUND_PARAMS: &[&str] = &[
    "payment_intent",
    "charge",
    "amount",
    "reason",
    "metadata[*]",
    "instructions_email",
    "expand[]",
];

/// `POST /v1/refunds`: refund all or part of a paid payment.
pub fn create_refund(tx: &dyn Tx, form: &Form, now: i64) -> Result<Refund, ApiError> {
    form.check_known(REFUND_PARAMS)?;
    let pi = match (form.string("payment_intent"), form.string("charge")) {
        (Some(id), _) => tx
            .pi(id)?
            .ok_or_else(|| ApiError::missing_resource("payment_intent", id, "payment_intent"))?,
        (None, Some(ch)) => {
            let charge = tx
                .charge(ch)?
                .ok_or_else(|| ApiError::missing_resource("charge", ch, "charge"))?;
            tx.pi(&charge.payment_intent)?
                .ok_or_else(|| ApiError::internal("a charge without its payment"))?
        }
        (None, None) => return Err(ApiError::missing("payment_intent")),
    };
    let Some(charge_id) = pi
        .latest_charge
        .clone()
        .filter(|_| pi.status == PiStatus::Succeeded)
    else {
        return Err(ApiError::invalid(
            "charge_not_refundable",
            "payment_intent",
            format!(
                "This PaymentIntent ({}) does not have a successful charge to refund (status {}).",
                pi.id,
                pi.status.as_str()
            ),
        ));
    };
    let mut charge = tx
        .charge(&charge_id)?
        .ok_or_else(|| ApiError::internal("a payment without its charge"))?;
    let left = charge.amount - charge.amount_refunded;
    if left <= 0 {
        return Err(ApiError::invalid(
            "charge_already_refunded",
            "",
            format!("Charge {} has already been refunded.", charge.id),
        ));
    }
    let amount = form.int("amount")?.unwrap_or(left);
    if amount <= 0 {
        return Err(ApiError::invalid(
            "parameter_invalid_integer",
            "amount",
            "This value must be greater than or equal to 1.",
        ));
    }
    if amount > left {
        return Err(ApiError::invalid(
            "amount_too_large",
            "amount",
            format!(
                "Refund amount (¥{amount}) is greater than unrefunded amount on charge (¥{left})"
            ),
        ));
    }
    let reason = form.string("reason");
    if let Some(r) = reason
        && !["duplicate", "fraudulent", "requested_by_customer"].contains(&r)
    {
        return Err(ApiError::invalid(
            "parameter_invalid_string",
            "reason",
            format!(
                "Invalid reason: must be one of duplicate, fraudulent or requested_by_customer (got {r:?})."
            ),
        ));
    }
    let refund = Refund {
        id: new_id("re"),
        created: now,
        amount,
        charge: charge.id.clone(),
        payment_intent: pi.id.clone(),
        status: RefundStatus::RequiresAction,
        reason: reason.map(str::to_owned),
        metadata: form.metadata()?,
        instructions_email: form
            .string("instructions_email")
            .map(str::to_owned)
            .or_else(|| pi.billing.as_ref().map(|b| b.email.clone())),
        token: random_alnum(32),
        expires_at: now + REFUND_BANK_DETAILS_DAYS * 86_400,
        transfer_at: None,
        transfer_fails: false,
        failure_reason: None,
    };
    charge.amount_refunded += amount;
    tx.update_charge(&charge)?;
    tx.insert_refund(pi.seq, &refund)?;
    tx.emit("refund.created", now, Snapshot::Refund(&refund))?;
    tx.emit("charge.refunded", now, Snapshot::Charge(&charge))?;
    Ok(refund)
}

/// Test routing and account numbers whose transfers the bank refuses (reference 1.5).
const FAILING_ACCOUNTS: &[&str] = &["1111113", "1111116", "3333335", "4444440"];

/// The customer gave a bank account: the refund is `pending`, and the transfer completes on
/// the scheduler's next turn (failing for Stripe's failing test accounts).
pub fn submit_bank_details(
    tx: &dyn Tx,
    refund: &mut Refund,
    routing: &str,
    account: &str,
    now: i64,
) -> Result<(), ApiError> {
    let seven_digits = |s: &str| s.len() == 7 && s.bytes().all(|b| b.is_ascii_digit());
    if !seven_digits(routing) {
        return Err(ApiError::invalid(
            "parameter_invalid_string",
            "routing_number",
            "The routing number must be 7 digits (bank code and branch code).",
        ));
    }
    if !seven_digits(account) {
        return Err(ApiError::invalid(
            "parameter_invalid_string",
            "account_number",
            "The account number must be 7 digits.",
        ));
    }
    if refund.status != RefundStatus::RequiresAction {
        return Err(ApiError::invalid(
            "refund_unexpected_state",
            "",
            format!(
                "This refund's status is {}; bank details are taken only while it is requires_action.",
                refund.status.as_str()
            ),
        )
        .executing());
    }
    refund.status = RefundStatus::Pending;
    refund.transfer_at = Some(now);
    refund.transfer_fails = routing == "1100000" && FAILING_ACCOUNTS.contains(&account);
    tx.update_refund(refund)?;
    tx.emit("refund.updated", now, Snapshot::Refund(refund))?;
    Ok(())
}

/// The refund failed (no bank details in 45 days, or the bank refused): the charge's
/// refunded amount goes back.
pub fn fail_refund(
    tx: &dyn Tx,
    refund: &mut Refund,
    reason: &str,
    now: i64,
) -> Result<(), ApiError> {
    refund.status = RefundStatus::Failed;
    refund.failure_reason = Some(reason.to_owned());
    tx.update_refund(refund)?;
    if let Some(mut charge) = tx.charge(&refund.charge)? {
        charge.amount_refunded -= refund.amount;
        tx.update_charge(&charge)?;
    }
    tx.emit("refund.failed", now, Snapshot::Refund(refund))?;
    tx.emit("refund.updated", now, Snapshot::Refund(refund))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_expiry_is_end_of_day_in_japan() {
        // Monday 2026-11-30 10:00 JST, 2 days: Wednesday 23:59:59 JST.
        let monday = DateTime::parse_from_rfc3339("2026-11-30T10:00:00+09:00")
            .unwrap()
            .timestamp();
        let expect = DateTime::parse_from_rfc3339("2026-12-02T23:59:59+09:00")
            .unwrap()
            .timestamp();
        assert_eq!(end_of_day_jst(monday, 2), expect);
        // 23:30 UTC Sunday is already Monday in Japan.
        let late = DateTime::parse_from_rfc3339("2026-11-29T23:30:00Z")
            .unwrap()
            .timestamp();
        assert_eq!(end_of_day_jst(late, 2), expect);
    }

    #[test]
    fn magic_numbers_win_over_emails() {
        assert_eq!(
            magic(Some("33333333330"), "a+succeed_immediately@x.jp", false),
            Magic::ExpireImmediately
        );
        assert_eq!(
            magic(None, "a+succeed_immediately@x.jp", false),
            Magic::SucceedImmediately
        );
        assert_eq!(magic(None, "plain@x.jp", false), Magic::None);
        assert_eq!(magic(None, "plain@x.jp", true), Magic::SucceedWithDelay);
        assert_eq!(
            magic(Some("09012345678"), "fill_never@x", false),
            Magic::None
        );
    }
}
