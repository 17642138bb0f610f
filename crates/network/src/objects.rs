//! The network's records (payment intents, charges, refunds, webhook endpoints, customers,
//! payment methods, products, prices) as the store keeps them, and their rendering into
//! Stripe's API shapes.
//!
//! Customers, payment methods, products and prices are kept in Stripe's own shape (their
//! serde form is the API's JSON for 2026-10-28.endive, every field present, null where it
//! does not apply), so an event's snapshot and `previous_attributes` are that JSON too.
//!
//! The stored form is ours and carries what Stripe's shape does not (the payment's number
//! for the barcode, the voucher token, a pending test-mode outcome); rendering adds the
//! fixed fields every Stripe object has (`object`, `livemode`, ...). Nothing here reads a
//! clock: the time comes in as an argument.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use konbini_domain::Chain;

/// The API version stamped on events and endpoints.
/// The API version the objects take the shape of, stamped on events and endpoints: the one
/// the official libraries pin (stripe-node 23.1.0 and stripe-python 16.1.0 both send
/// `Stripe-Version: 2026-10-28.endive`).
pub const API_VERSION: &str = "2026-10-28.endive";

/// A PaymentIntent's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiStatus {
    /// Created without a payment method, or back here after its voucher expired.
    RequiresPaymentMethod,
    /// Has a payment method, not confirmed.
    RequiresConfirmation,
    /// Voucher issued: the customer must pay at a store.
    RequiresAction,
    /// Paid.
    Succeeded,
    /// Cancelled.
    Canceled,
}

impl PiStatus {
    /// Stripe's name.
    pub fn as_str(self) -> &'static str {
        match self {
            PiStatus::RequiresPaymentMethod => "requires_payment_method",
            PiStatus::RequiresConfirmation => "requires_confirmation",
            PiStatus::RequiresAction => "requires_action",
            PiStatus::Succeeded => "succeeded",
            PiStatus::Canceled => "canceled",
        }
    }
}

/// The customer's details given at confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Billing {
    /// The name (stores show at most 20 characters).
    pub name: String,
    /// The email.
    pub email: String,
    /// The phone, if given.
    pub phone: Option<String>,
}

/// `payment_method_options[konbini]` as set on the PaymentIntent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KonbiniOptions {
    /// 10-11 digits, or generated at confirmation.
    pub confirmation_number: Option<String>,
    /// 1-60.
    pub expires_after_days: Option<i64>,
    /// Unix seconds.
    pub expires_at: Option<i64>,
    /// At most 22 characters, Shift_JIS-encodable.
    pub product_description: Option<String>,
}

/// The voucher of a confirmed payment: what the customer takes to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Voucher {
    /// When it stops being payable, Unix seconds.
    pub expires_at: i64,
    /// The same for every chain: the customer's number.
    pub confirmation_number: String,
    /// One payment code per chain, unique among payable payments of that chain.
    pub codes: BTreeMap<Chain, String>,
    /// The 44-digit GS1-128 bill barcode.
    pub barcode: String,
    /// The secret part of the hosted voucher page's address.
    pub token: String,
    /// Seconds after `expires_at` the network still accepts store confirmations.
    pub grace_seconds: i64,
}

/// What test mode will do to a payment by itself (reference section 1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoOutcome {
    /// Succeed at this time, as if paid at a store.
    SucceedAt(i64),
}

/// A PaymentIntent as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentIntent {
    /// `pi_...`.
    pub id: String,
    /// The payment's number: what the barcode's free area carries.
    pub seq: i64,
    /// Unix seconds.
    pub created: i64,
    /// Yen.
    pub amount: i64,
    /// Always `jpy`.
    pub currency: String,
    /// The status.
    pub status: PiStatus,
    /// The merchant's description.
    pub description: Option<String>,
    /// The merchant's key-value pairs.
    pub metadata: BTreeMap<String, String>,
    /// Where a receipt would be emailed.
    pub receipt_email: Option<String>,
    /// The customer (`cus_...`), kept as the merchant gave it.
    #[serde(default)]
    pub customer: Option<String>,
    /// What the customer's statement shows (at most 22 characters).
    #[serde(default)]
    pub statement_descriptor: Option<String>,
    /// `pi_..._secret_...`.
    pub client_secret: String,
    /// `payment_method_types`.
    pub payment_method_types: Vec<String>,
    /// `allowed_payment_method_types`, as sent (2026-07-29.dahlia and later).
    #[serde(default)]
    pub allowed_payment_method_types: Option<Vec<String>>,
    /// `automatic_payment_methods`: on when the create named no payment method types (the
    /// default since API version 2023-08-16), with its `allow_redirects`; `None` when it
    /// named them (or for a payment kept before this field was).
    #[serde(default)]
    pub automatic_payment_methods: Option<String>,
    /// The customer, once given.
    pub billing: Option<Billing>,
    /// `pm_...` once a payment method is attached.
    pub payment_method: Option<String>,
    /// The konbini options.
    pub konbini: KonbiniOptions,
    /// The live voucher while `requires_action`.
    pub voucher: Option<Voucher>,
    /// Set when the last voucher expired unpaid.
    pub expired: bool,
    /// Set when cancelled.
    pub canceled_at: Option<i64>,
    /// Why it was cancelled.
    pub cancellation_reason: Option<String>,
    /// `ch_...` once paid.
    pub latest_charge: Option<String>,
    /// Yen received.
    pub amount_received: i64,
    /// The last failure, as Stripe shows it.
    pub last_payment_error: Option<Value>,
    /// A test-mode outcome waiting for its time.
    pub auto: Option<AutoOutcome>,
    /// The Checkout Session whose page made this payment (`cs_...`). Kept, never shown
    /// (Stripe's PaymentIntent names no session): the rules ask for the session only of a
    /// payment that has one, so a register's batch of other payments asks nothing more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkout_session: Option<String>,
}

impl PaymentIntent {
    /// When the scheduler must look at this payment next.
    pub fn due_at(&self) -> Option<i64> {
        if self.status != PiStatus::RequiresAction {
            return None;
        }
        let expiry = self
            .voucher
            .as_ref()
            .map(|v| v.expires_at + v.grace_seconds);
        let auto = self.auto.map(|AutoOutcome::SucceedAt(t)| t);
        match (expiry, auto) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The Stripe JSON. `base_url` makes the hosted voucher's address.
    pub fn render(&self, base_url: &str) -> Value {
        let next_action = match (&self.voucher, self.status) {
            (Some(v), PiStatus::RequiresAction) => {
                let stores: serde_json::Map<String, Value> = Chain::ALL
                    .iter()
                    .map(|c| {
                        let store = v.codes.get(c).map_or(Value::Null, |code| {
                            json!({"payment_code": code, "confirmation_number": v.confirmation_number})
                        });
                        (c.as_str().to_owned(), store)
                    })
                    .collect();
                json!({
                    "type": "konbini_display_details",
                    "konbini_display_details": {
                        "expires_at": v.expires_at,
                        "hosted_voucher_url": format!("{base_url}/vouchers/{}", v.token),
                        "stores": stores,
                        "barcode": v.barcode,
                    }
                })
            }
            _ => Value::Null,
        };
        json!({
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "allowed_payment_method_types": self.allowed_payment_method_types,
            "amount_received": self.amount_received,
            "application": null,
            "application_fee_amount": null,
            "automatic_payment_methods": self.automatic_payment_methods.as_ref().map(|redirects| {
                json!({"allow_redirects": redirects, "enabled": true})
            }),
            "canceled_at": self.canceled_at,
            "cancellation_reason": self.cancellation_reason,
            "capture_method": "automatic",
            "client_secret": self.client_secret,
            "confirmation_method": "automatic",
            "created": self.created,
            "currency": self.currency,
            "customer": self.customer,
            "customer_account": null,
            "description": self.description,
            "excluded_payment_method_types": null,
            "last_payment_error": self.last_payment_error,
            "latest_charge": self.latest_charge,
            "livemode": false,
            "managed_payments": null,
            "metadata": self.metadata,
            "next_action": next_action,
            "on_behalf_of": null,
            "payment_method": self.payment_method,
            "payment_method_configuration_details": null,
            "payment_method_options": {
                "konbini": {
                    "confirmation_number": self.konbini.confirmation_number,
                    "expires_after_days": self.konbini.expires_after_days,
                    "expires_at": self.konbini.expires_at,
                    "product_description": self.konbini.product_description,
                }
            },
            "payment_method_types": self.payment_method_types,
            "payment_record": null,
            "processing": null,
            "receipt_email": self.receipt_email,
            "review": null,
            "setup_future_usage": null,
            "shipping": null,
            "source": null,
            "statement_descriptor": self.statement_descriptor,
            "statement_descriptor_suffix": null,
            "status": self.status.as_str(),
            "transfer_data": null,
            "transfer_group": null,
        })
    }
}

/// A charge: one paid payment, with its balance transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Charge {
    /// `ch_...`.
    pub id: String,
    /// The PaymentIntent.
    pub payment_intent: String,
    /// Unix seconds: when the network recorded it.
    pub created: i64,
    /// Yen.
    pub amount: i64,
    /// Yen refunded (refunds not failed or cancelled).
    pub amount_refunded: i64,
    /// The chain the cash was paid at; `None` for a test-mode automatic success.
    pub chain: Option<Chain>,
    /// The store (its code) that took the cash.
    pub store: Option<String>,
    /// The register's slip id that confirmed it.
    pub confirmation: Option<String>,
    /// The customer.
    pub billing: Option<Billing>,
    /// `pm_...`.
    pub payment_method: Option<String>,
    /// `txn_...`.
    pub balance_transaction: String,
    /// The PaymentIntent's description when paid.
    #[serde(default)]
    pub description: Option<String>,
    /// The PaymentIntent's customer when paid.
    #[serde(default)]
    pub customer: Option<String>,
    /// The PaymentIntent's receipt email when paid.
    #[serde(default)]
    pub receipt_email: Option<String>,
    /// The PaymentIntent's statement descriptor when paid.
    #[serde(default)]
    pub statement_descriptor: Option<String>,
    /// The PaymentIntent's metadata when paid.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// When the funds become available, Unix seconds.
    pub available_on: i64,
}

impl Charge {
    /// The Stripe JSON: every field of the version's Charge, null where it does not apply
    /// to a konbini payment (`refunds` only when expanded).
    pub fn render(&self) -> Value {
        let billing = self.billing.as_ref().map_or_else(
            || json!({"address": null, "email": null, "name": null, "phone": null, "tax_id": null}),
            |b| json!({"address": null, "email": b.email, "name": b.name, "phone": b.phone, "tax_id": null}),
        );
        json!({
            "id": self.id,
            "object": "charge",
            "amount": self.amount,
            "amount_captured": self.amount,
            "amount_refunded": self.amount_refunded,
            "application": null,
            "application_fee": null,
            "application_fee_amount": null,
            "balance_transaction": self.balance_transaction,
            "billing_details": billing,
            "calculated_statement_descriptor": self.statement_descriptor,
            "captured": true,
            "created": self.created,
            "currency": "jpy",
            "customer": self.customer,
            "description": self.description,
            "disputed": false,
            "failure_balance_transaction": null,
            "failure_code": null,
            "failure_message": null,
            "fraud_details": {},
            "livemode": false,
            "metadata": self.metadata,
            "on_behalf_of": null,
            "outcome": {
                "advice_code": null,
                "network_advice_code": null,
                "network_decline_code": null,
                "network_status": "approved_by_network",
                "reason": null,
                "risk_level": "not_assessed",
                "seller_message": "Payment complete.",
                "type": "authorized",
            },
            "paid": true,
            "payment_intent": self.payment_intent,
            "payment_method": self.payment_method,
            "payment_method_details": {
                "type": "konbini",
                "konbini": {"store": {"chain": self.chain.map(Chain::as_str)}},
            },
            "receipt_email": self.receipt_email,
            "receipt_number": null,
            "receipt_url": null,
            "refunded": self.amount_refunded >= self.amount,
            "review": null,
            "shipping": null,
            "source": null,
            "source_transfer": null,
            "statement_descriptor": self.statement_descriptor,
            "statement_descriptor_suffix": null,
            "status": "succeeded",
            "transfer_data": null,
            "transfer_group": null,
        })
    }

    /// The balance transaction's Stripe JSON at time `now` (`pending` until available).
    pub fn render_balance_transaction(&self, now: i64) -> Value {
        json!({
            "id": self.balance_transaction,
            "object": "balance_transaction",
            "amount": self.amount,
            "available_on": self.available_on,
            "balance_type": "payments",
            "created": self.created,
            "currency": "jpy",
            "description": null,
            "exchange_rate": null,
            "fee": 0,
            "fee_details": [],
            "net": self.amount,
            "reporting_category": "charge",
            "source": self.id,
            "status": if now >= self.available_on { "available" } else { "pending" },
            "type": "charge",
        })
    }
}

/// A refund's status (reference section 1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Waiting for the customer's bank account.
    RequiresAction,
    /// Bank details given; the transfer is under way.
    Pending,
    /// Paid out.
    Succeeded,
    /// Never completed (45 days without bank details, or the bank refused).
    Failed,
    /// Cancelled.
    Canceled,
}

impl RefundStatus {
    /// Stripe's name.
    pub fn as_str(self) -> &'static str {
        match self {
            RefundStatus::RequiresAction => "requires_action",
            RefundStatus::Pending => "pending",
            RefundStatus::Succeeded => "succeeded",
            RefundStatus::Failed => "failed",
            RefundStatus::Canceled => "canceled",
        }
    }

    /// Whether it still holds back part of the charge.
    pub fn counts(self) -> bool {
        !matches!(self, RefundStatus::Failed | RefundStatus::Canceled)
    }
}

/// A refund as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    /// `re_...`.
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// Yen.
    pub amount: i64,
    /// The charge refunded.
    pub charge: String,
    /// The PaymentIntent refunded.
    pub payment_intent: String,
    /// The status.
    pub status: RefundStatus,
    /// `duplicate`, `fraudulent`, `requested_by_customer`.
    pub reason: Option<String>,
    /// The merchant's key-value pairs.
    pub metadata: BTreeMap<String, String>,
    /// Where the request for bank details went.
    pub instructions_email: Option<String>,
    /// The secret part of the customer's bank-details page address.
    pub token: String,
    /// When it fails if no bank details come: 45 days after creation.
    pub expires_at: i64,
    /// When the transfer completes, once bank details came.
    pub transfer_at: Option<i64>,
    /// The bank's answer, known when details are given (test routing/account numbers).
    pub transfer_fails: bool,
    /// Why it failed.
    pub failure_reason: Option<String>,
}

/// Days a konbini refund waits for bank details before failing.
pub const REFUND_BANK_DETAILS_DAYS: i64 = 45;

impl Refund {
    /// When the scheduler must look at this refund next.
    pub fn due_at(&self) -> Option<i64> {
        match self.status {
            RefundStatus::RequiresAction => Some(self.expires_at),
            RefundStatus::Pending => self.transfer_at,
            _ => None,
        }
    }

    /// The Stripe JSON.
    pub fn render(&self, base_url: &str) -> Value {
        let next_action = if self.status == RefundStatus::RequiresAction {
            json!({
                "type": "display_details",
                "display_details": {
                    "email_sent": {
                        "email_sent_at": self.created,
                        "email_sent_to": self.instructions_email,
                    },
                    "expires_at": self.expires_at,
                    "bank_details_url": format!("{base_url}/refunds/{}", self.token),
                }
            })
        } else {
            Value::Null
        };
        json!({
            "id": self.id,
            "object": "refund",
            "amount": self.amount,
            "balance_transaction": null,
            "charge": self.charge,
            "created": self.created,
            "currency": "jpy",
            "failure_reason": self.failure_reason,
            "instructions_email": self.instructions_email,
            "metadata": self.metadata,
            "next_action": next_action,
            "payment_intent": self.payment_intent,
            "reason": self.reason,
            "receipt_number": null,
            "source_transfer_reversal": null,
            "status": self.status.as_str(),
            "transfer_reversal": null,
        })
    }
}

/// A webhook endpoint as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    /// `we_...`.
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    /// Where events are POSTed.
    pub url: String,
    /// Event types, or `*`.
    pub enabled_events: Vec<String>,
    /// `whsec_...`: the signing secret.
    pub secret: String,
    /// The merchant's description.
    pub description: Option<String>,
    /// The merchant's key-value pairs.
    pub metadata: BTreeMap<String, String>,
    /// Stripe's `status: "disabled"`: by the merchant (`disabled=true`) or after failing
    /// persistently (`webhooks.rs`). Kept by the storage beside the document, not in it.
    #[serde(skip)]
    pub disabled: bool,
}

impl WebhookEndpoint {
    /// Whether events of this type go to this endpoint.
    pub fn wants(&self, event_type: &str) -> bool {
        self.enabled_events
            .iter()
            .any(|e| e == "*" || e == event_type)
    }

    /// The Stripe JSON; the secret only when the endpoint is created.
    pub fn render(&self, with_secret: bool) -> Value {
        let mut v = json!({
            "id": self.id,
            "object": "webhook_endpoint",
            "api_version": API_VERSION,
            "application": null,
            "created": self.created,
            "description": self.description,
            "enabled_events": self.enabled_events,
            "livemode": false,
            "metadata": self.metadata,
            "status": if self.disabled { "disabled" } else { "enabled" },
            "url": self.url,
        });
        if with_secret {
            v["secret"] = json!(self.secret);
        }
        v
    }
}

/// A postal address, as Stripe shapes one (every part may be null).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// City, district, suburb, town or village.
    pub city: Option<String>,
    /// Two-letter country code (ISO 3166-1 alpha-2).
    pub country: Option<String>,
    /// Line 1 (street, PO box or company name).
    pub line1: Option<String>,
    /// Line 2 (apartment, suite, unit or building).
    pub line2: Option<String>,
    /// ZIP or postal code.
    pub postal_code: Option<String>,
    /// State, county, province or region (a prefecture in Japan).
    pub state: Option<String>,
}

/// A customer's shipping details.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipping {
    /// The address.
    pub address: Address,
    /// The recipient.
    pub name: Option<String>,
    /// The recipient's phone.
    pub phone: Option<String>,
}

/// A customer's `invoice_settings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvoiceSettings {
    /// Always null here.
    pub custom_fields: Option<Value>,
    /// `pm_...`: the customer's default payment method; expandable.
    pub default_payment_method: Option<String>,
    /// Always null here.
    pub footer: Option<String>,
    /// Always null here.
    pub rendering_options: Option<Value>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A record kept in Stripe's shape with a number (its order of creation) beside it, which
/// lists page by.
pub trait Numbered: Serialize + serde::de::DeserializeOwned {
    /// The record with its number, as the store read it.
    fn numbered(self, seq: i64) -> Self;
}

macro_rules! numbered {
    ($($t:ty),*) => {
        $(impl Numbered for $t {
            fn numbered(mut self, seq: i64) -> Self {
                self.seq = seq;
                self
            }
        })*
    };
}
numbered!(Customer, PaymentMethod, Product, Price);

/// A customer (`cus_...`), in Stripe's shape. A deleted one is kept (a payment that names it
/// expands to its stub) with `deleted` set, and answered as `{id, object, deleted}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// The store's number (not part of the document).
    #[serde(skip)]
    pub seq: i64,
    /// `cus_...`.
    pub id: String,
    /// `customer`.
    pub object: String,
    /// The billing address.
    pub address: Option<Address>,
    /// Always 0 here (no invoices).
    pub balance: i64,
    /// Unix seconds.
    pub created: i64,
    /// Always null here (no invoices or subscriptions).
    pub currency: Option<String>,
    /// Always null here.
    pub default_source: Option<String>,
    /// Always false here.
    pub delinquent: bool,
    /// The merchant's description.
    pub description: Option<String>,
    /// Always null here.
    pub discount: Option<Value>,
    /// The email.
    pub email: Option<String>,
    /// Fixed at creation: 8 upper-case letters and digits.
    pub invoice_prefix: String,
    /// The default payment method.
    pub invoice_settings: InvoiceSettings,
    /// Always false.
    pub livemode: bool,
    /// The merchant's key-value pairs.
    pub metadata: BTreeMap<String, String>,
    /// The full name.
    pub name: Option<String>,
    /// Always 1 here.
    pub next_invoice_sequence: i64,
    /// The phone number.
    pub phone: Option<String>,
    /// Languages, most preferred first (`ja`, `en`).
    pub preferred_locales: Vec<String>,
    /// Shipping details.
    pub shipping: Option<Shipping>,
    /// `none`, `exempt` or `reverse`.
    pub tax_exempt: String,
    /// Always null here.
    pub test_clock: Option<String>,
    /// Deleted (kept for the payments that name it).
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
}

impl Customer {
    /// The Stripe JSON: the customer, or the stub of a deleted one.
    pub fn render(&self) -> Value {
        if self.deleted {
            return json!({"id": self.id, "object": "customer", "deleted": true});
        }
        serde_json::to_value(self).expect("records serialize")
    }
}

/// A PaymentMethod's `billing_details`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingDetails {
    /// The address (every part null when none was given).
    pub address: Address,
    /// The email (required for konbini).
    pub email: Option<String>,
    /// The name (required for konbini).
    pub name: Option<String>,
    /// The phone.
    pub phone: Option<String>,
    /// Always null here.
    pub tax_id: Option<String>,
}

/// A PaymentMethod (`pm_...`) of type konbini, in Stripe's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentMethod {
    /// The store's number (not part of the document).
    #[serde(skip)]
    pub seq: i64,
    /// `pm_...`.
    pub id: String,
    /// `payment_method`.
    pub object: String,
    /// `always`, `limited` or `unspecified`.
    pub allow_redisplay: String,
    /// The customer's details.
    pub billing_details: BillingDetails,
    /// Unix seconds.
    pub created: i64,
    /// The customer it is attached to; expandable.
    pub customer: Option<String>,
    /// Always null here.
    pub customer_account: Option<String>,
    /// The type's hash: empty for konbini.
    pub konbini: serde_json::Map<String, Value>,
    /// Always false.
    pub livemode: bool,
    /// The merchant's key-value pairs.
    pub metadata: BTreeMap<String, String>,
    /// `konbini`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl PaymentMethod {
    /// The Stripe JSON.
    pub fn render(&self) -> Value {
        serde_json::to_value(self).expect("records serialize")
    }
}

/// A product (`prod_...`), in Stripe's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// The store's number (not part of the document).
    #[serde(skip)]
    pub seq: i64,
    /// `prod_...`, or the id the merchant chose.
    pub id: String,
    /// `product`.
    pub object: String,
    /// Whether it can be bought.
    pub active: bool,
    /// Unix seconds.
    pub created: i64,
    /// `price_...`: its default price; expandable.
    pub default_price: Option<String>,
    /// Shown to the customer (as text, never HTML).
    pub description: Option<String>,
    /// Image URLs.
    pub images: Vec<String>,
    /// Always false.
    pub livemode: bool,
    /// `{name}` each.
    pub marketing_features: Vec<Value>,
    /// The merchant's key-value pairs.
    pub metadata: BTreeMap<String, String>,
    /// Shown to the customer.
    pub name: String,
    /// Always null here.
    pub package_dimensions: Option<Value>,
    /// Whether it is shipped.
    pub shippable: Option<bool>,
    /// What the customer's statement shows (at most 22 characters).
    pub statement_descriptor: Option<String>,
    /// Always null here.
    pub tax_code: Option<String>,
    /// Always null here.
    pub tax_details: Option<Value>,
    /// `service` or `good`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What one unit is called on receipts.
    pub unit_label: Option<String>,
    /// Unix seconds of the last change.
    pub updated: i64,
    /// A public page about it.
    pub url: Option<String>,
}

impl Product {
    /// The Stripe JSON.
    pub fn render(&self) -> Value {
        serde_json::to_value(self).expect("records serialize")
    }
}

/// A recurring price's billing period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurring {
    /// `day`, `week`, `month` or `year`.
    pub interval: String,
    /// How many intervals between bills.
    pub interval_count: i64,
    /// Always null here.
    pub meter: Option<String>,
    /// Always null here.
    pub trial_period_days: Option<i64>,
    /// `licensed`.
    pub usage_type: String,
}

/// A price (`price_...`) of a product, in Stripe's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Price {
    /// The store's number (not part of the document).
    #[serde(skip)]
    pub seq: i64,
    /// `price_...`.
    pub id: String,
    /// `price`.
    pub object: String,
    /// Whether new purchases may use it.
    pub active: bool,
    /// `per_unit`.
    pub billing_scheme: String,
    /// Unix seconds.
    pub created: i64,
    /// `jpy`.
    pub currency: String,
    /// Always null here.
    pub custom_unit_amount: Option<Value>,
    /// Always false.
    pub livemode: bool,
    /// The merchant's name for it, unique among prices.
    pub lookup_key: Option<String>,
    /// The merchant's key-value pairs.
    pub metadata: BTreeMap<String, String>,
    /// The merchant's label.
    pub nickname: Option<String>,
    /// `prod_...`; expandable.
    pub product: String,
    /// The billing period of a recurring price.
    pub recurring: Option<Recurring>,
    /// `inclusive`, `exclusive` or `unspecified`.
    pub tax_behavior: Option<String>,
    /// Always null here.
    pub tiers_mode: Option<String>,
    /// Always null here.
    pub transform_quantity: Option<Value>,
    /// `one_time` or `recurring`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Yen.
    pub unit_amount: Option<i64>,
    /// The same as a decimal string.
    pub unit_amount_decimal: Option<String>,
}

impl Price {
    /// The Stripe JSON.
    pub fn render(&self) -> Value {
        serde_json::to_value(self).expect("records serialize")
    }
}

/// What an update changed, as Stripe's `data.previous_attributes`: each top-level field that
/// differs, with its value before; a hash (`metadata`, `address`) lists only its keys that
/// differ, null for a key it did not have. `None` when nothing changed.
pub fn previous_attributes(before: &Value, after: &Value) -> Option<Value> {
    fn diff(
        before: &serde_json::Map<String, Value>,
        after: &serde_json::Map<String, Value>,
    ) -> serde_json::Map<String, Value> {
        let mut out = serde_json::Map::new();
        for (k, new) in after {
            let old = before.get(k).unwrap_or(&Value::Null);
            if old == new {
                continue;
            }
            let value = match (old, new) {
                (Value::Object(o), Value::Object(n)) => Value::Object(diff(o, n)),
                _ => old.clone(),
            };
            out.insert(k.clone(), value);
        }
        for (k, old) in before {
            if !after.contains_key(k) {
                out.insert(k.clone(), old.clone());
            }
        }
        out
    }
    let (Value::Object(b), Value::Object(a)) = (before, after) else {
        return None;
    };
    let changed = diff(b, a);
    (!changed.is_empty()).then_some(Value::Object(changed))
}

/// The object an event is about, as it was when the event happened.
#[derive(Debug, Clone, Copy)]
pub enum Snapshot<'a> {
    /// A PaymentIntent.
    PaymentIntent(&'a PaymentIntent),
    /// A charge.
    Charge(&'a Charge),
    /// A refund.
    Refund(&'a Refund),
    /// A customer.
    Customer(&'a Customer),
    /// A payment method.
    PaymentMethod(&'a PaymentMethod),
    /// A product.
    Product(&'a Product),
    /// A price.
    Price(&'a Price),
    /// A record already serialized for the store (saves doing it twice).
    Stored {
        /// `payment_intent`, `charge` or `refund`.
        kind: &'static str,
        /// The stored document.
        doc: &'a str,
    },
}

impl Snapshot<'_> {
    /// The kind stored beside the document.
    pub fn kind(&self) -> &'static str {
        match self {
            Snapshot::PaymentIntent(_) => "payment_intent",
            Snapshot::Charge(_) => "charge",
            Snapshot::Refund(_) => "refund",
            Snapshot::Customer(_) => "customer",
            Snapshot::PaymentMethod(_) => "payment_method",
            Snapshot::Product(_) => "product",
            Snapshot::Price(_) => "price",
            Snapshot::Stored { kind, .. } => kind,
        }
    }

    /// The record's stored document.
    pub fn doc(&self) -> std::borrow::Cow<'_, str> {
        let json = match self {
            Snapshot::PaymentIntent(v) => serde_json::to_string(v),
            Snapshot::Charge(v) => serde_json::to_string(v),
            Snapshot::Refund(v) => serde_json::to_string(v),
            Snapshot::Customer(v) => serde_json::to_string(v),
            Snapshot::PaymentMethod(v) => serde_json::to_string(v),
            Snapshot::Product(v) => serde_json::to_string(v),
            Snapshot::Price(v) => serde_json::to_string(v),
            Snapshot::Stored { doc, .. } => return std::borrow::Cow::Borrowed(doc),
        };
        std::borrow::Cow::Owned(json.expect("records serialize"))
    }
}

/// A stored event: its snapshot is rendered into Stripe's shape when read.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// The event's number: its order.
    pub seq: i64,
    /// `evt_...`.
    pub id: String,
    /// `payment_intent.succeeded`, ...
    pub event_type: String,
    /// Unix seconds.
    pub created: i64,
    /// What the document is.
    pub kind: String,
    /// The object's stored document at the time.
    pub doc: String,
    /// What an update changed (`data.previous_attributes`), as JSON.
    pub previous: Option<String>,
}

impl EventRow {
    /// The Stripe Event JSON.
    pub fn render(&self, base_url: &str) -> Value {
        let object = match self.kind.as_str() {
            "payment_intent" => {
                serde_json::from_str::<PaymentIntent>(&self.doc).map(|p| p.render(base_url))
            }
            "charge" => serde_json::from_str::<Charge>(&self.doc).map(|c| c.render()),
            crate::checkout::SESSION_KIND => {
                serde_json::from_str::<crate::checkout::Session>(&self.doc)
                    .map(|s| s.render(base_url))
            }
            crate::checkout::LINK_KIND => {
                serde_json::from_str::<crate::checkout::PaymentLink>(&self.doc)
                    .map(|l| l.render(base_url))
            }
            "refund" => serde_json::from_str::<Refund>(&self.doc).map(|r| r.render(base_url)),
            // Kept in Stripe's shape already.
            _ => serde_json::from_str::<Value>(&self.doc),
        }
        .unwrap_or_else(|e| json!({"error": format!("unreadable snapshot: {e}")}));
        let mut event = event_json(&self.id, &self.event_type, self.created, object);
        if let Some(previous) = &self.previous
            && let Ok(previous) = serde_json::from_str::<Value>(previous)
        {
            event["data"]["previous_attributes"] = previous;
        }
        event
    }
}

/// A Stripe Event around a snapshot of an object.
pub fn event_json(id: &str, event_type: &str, created: i64, object: Value) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": {"object": object},
        "livemode": false,
        "pending_webhooks": 0,
        "request": {"id": null, "idempotency_key": null},
        "type": event_type,
    })
}
