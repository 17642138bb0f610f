//! Checkout Sessions and Payment Links in payment mode with konbini: their records as the
//! store keeps them, their rendering into Stripe's shapes (API version
//! `2026-10-28.endive`, `docs/design/issue-18-stripe-shapes.md` sections 3.8 and 3.9), and
//! their rules: what a create takes and refuses (section 4.4), a session completed by its
//! hosted page (the PaymentIntent made and confirmed through `payments.rs`), expired by the
//! scheduler or the merchant, and told when its voucher is paid or runs out (section 6).
//!
//! Like `payments.rs`, these functions run inside one store transaction and take the time as
//! an argument; they never read a clock or do I/O. The hosted pages
//! (`http/checkout_pages.rs`) and the API (`http/checkout_sessions.rs`,
//! `http/payment_links.rs`) share them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Settings;
use crate::error::ApiError;
use crate::form::Form;
use crate::ids::{new_id, random_alnum};
use crate::objects::{PaymentIntent, Snapshot};
use crate::payments::{self, MAX_AMOUNT_YEN, MIN_AMOUNT_YEN};
use crate::storage::Tx;

/// A session is open this long unless `expires_at` says otherwise (Stripe: 24 hours).
pub const DEFAULT_SESSION_SECONDS: i64 = 86_400;
/// The earliest `expires_at` Stripe takes: 30 minutes after creation.
pub const MIN_SESSION_SECONDS: i64 = 30 * 60;
/// Stripe's limit on a payment-mode session's line items.
pub const MAX_LINE_ITEMS: usize = 100;
/// What a store's register prints of the customer's name: at most this many characters.
pub const NAME_MAX_CHARS: usize = 20;
/// The kind an event's snapshot of a session is stored under.
pub const SESSION_KIND: &str = "checkout_session";
/// The kind an event's snapshot of a payment link is stored under.
pub const LINK_KIND: &str = "payment_link";

/// The locales Stripe's Checkout takes (`SessionCreateParams.Locale`); the hosted page here
/// speaks Japanese (`ja`, `auto` and none) and English (every other).
const LOCALES: &[&str] = &[
    "auto", "bg", "cs", "da", "de", "el", "en", "en-GB", "es", "es-419", "et", "fi", "fil", "fr",
    "fr-CA", "hr", "hu", "id", "it", "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt",
    "pt-BR", "ro", "ru", "sk", "sl", "sv", "th", "tr", "vi", "zh", "zh-HK", "zh-TW",
];

/// A session's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Waiting for the customer.
    Open,
    /// The customer submitted: the voucher is made.
    Complete,
    /// Nobody submitted in time, or the merchant expired it.
    Expired,
}

impl SessionStatus {
    /// Stripe's name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Open => "open",
            SessionStatus::Complete => "complete",
            SessionStatus::Expired => "expired",
        }
    }
}

/// One line of a session or a link: a price times a quantity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    /// `li_...`.
    pub id: String,
    /// How many.
    pub quantity: i64,
    /// Yen per unit.
    pub unit_amount: i64,
    /// The product's name: what the page and Stripe's `description` show.
    pub description: String,
    /// The product's description, shown under its name on the page.
    #[serde(default)]
    pub product_description: Option<String>,
    /// The Price's Stripe JSON as it was when the line was made (an existing Price, or the
    /// one made from `price_data`).
    pub price: Value,
    /// The line's own metadata, if sent.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
}

impl LineItem {
    /// Yen for the line.
    pub fn amount(&self) -> i64 {
        self.unit_amount * self.quantity
    }

    /// Stripe's LineItem (`object: "item"`).
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "object": "item",
            "adjustable_quantity": null,
            "amount_discount": 0,
            "amount_subtotal": self.amount(),
            "amount_tax": 0,
            "amount_total": self.amount(),
            "currency": "jpy",
            "description": self.description,
            "metadata": self.metadata,
            "price": self.price,
            "quantity": self.quantity,
        })
    }
}

/// `payment_intent_data`: what the PaymentIntent made at submission carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PiData {
    /// Its description.
    pub description: Option<String>,
    /// Its metadata.
    pub metadata: BTreeMap<String, String>,
    /// Its receipt email.
    pub receipt_email: Option<String>,
    /// Its statement descriptor (at most 22 characters).
    pub statement_descriptor: Option<String>,
}

/// The parameters `payment_intent_data` takes here.
const PI_DATA_PARAMS: &[&str] = &[
    "payment_intent_data[description]",
    "payment_intent_data[metadata][*]",
    "payment_intent_data[receipt_email]",
    "payment_intent_data[statement_descriptor]",
];

impl PiData {
    fn parse(form: &Form) -> Result<PiData, ApiError> {
        let data = form.under("payment_intent_data");
        let statement_descriptor = data.string("statement_descriptor").map(str::to_owned);
        if let Some(d) = &statement_descriptor
            && d.chars().count() > 22
        {
            return Err(ApiError::invalid(
                "parameter_invalid_string",
                "payment_intent_data[statement_descriptor]",
                format!(
                    "The statement descriptor must be at most 22 characters (got {}).",
                    d.chars().count()
                ),
            ));
        }
        let metadata = data.metadata().map_err(|e| ApiError {
            param: Some("payment_intent_data[metadata]".to_owned()),
            ..e
        })?;
        Ok(PiData {
            description: data.string("description").map(str::to_owned),
            metadata,
            receipt_email: data.string("receipt_email").map(str::to_owned),
            statement_descriptor,
        })
    }

    fn is_empty(&self) -> bool {
        *self == PiData::default()
    }

    /// A Payment Link's `payment_intent_data` (null when nothing was sent).
    fn render(&self) -> Value {
        if self.is_empty() {
            return Value::Null;
        }
        json!({
            "capture_method": null,
            "description": self.description,
            "metadata": self.metadata,
            "setup_future_usage": null,
            "statement_descriptor": self.statement_descriptor,
            "statement_descriptor_suffix": null,
            "transfer_group": null,
        })
    }
}

/// What the customer gave on the hosted page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerDetails {
    /// The name (at most [`NAME_MAX_CHARS`]).
    pub name: String,
    /// The email.
    pub email: String,
    /// The phone number, 10-11 digits: the voucher's confirmation number.
    pub phone: Option<String>,
}

/// A Checkout Session as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// `cs_test_...`: also the hosted page's address.
    pub id: String,
    /// Its order of creation (list cursors).
    pub seq: i64,
    /// Unix seconds.
    pub created: i64,
    /// When it expires if nobody submits, unix seconds.
    pub expires_at: i64,
    /// The status.
    pub status: SessionStatus,
    /// Paid once a store took the cash.
    pub paid: bool,
    /// What is sold.
    pub line_items: Vec<LineItem>,
    /// `cus_...`, as sent.
    pub customer: Option<String>,
    /// Prefills the page's email.
    pub customer_email: Option<String>,
    /// Where the voucher page links on to (`{CHECKOUT_SESSION_ID}` replaced).
    pub success_url: Option<String>,
    /// Where the page's "back" link goes.
    pub cancel_url: Option<String>,
    /// The merchant's key-value pairs.
    pub metadata: BTreeMap<String, String>,
    /// The merchant's own reference.
    pub client_reference_id: Option<String>,
    /// The page's language: `ja`, `en`, `auto`, ...
    pub locale: Option<String>,
    /// `payment_method_options[konbini][expires_after_days]`.
    pub expires_after_days: Option<i64>,
    /// What the PaymentIntent carries.
    pub payment_intent_data: PiData,
    /// `pi_...` once the customer submitted.
    pub payment_intent: Option<String>,
    /// Its number.
    pub pi_seq: Option<i64>,
    /// `plink_...` when a Payment Link made it.
    pub payment_link: Option<String>,
    /// What the customer gave, once submitted.
    pub customer_details: Option<CustomerDetails>,
    /// `allowed_payment_method_types`, as sent.
    pub allowed_payment_method_types: Option<Vec<String>>,
    /// `phone_number_collection[enabled]`.
    pub phone_number_collection: bool,
    /// `submit_type`, as sent.
    pub submit_type: Option<String>,
    /// `billing_address_collection`, as sent.
    pub billing_address_collection: Option<String>,
    /// `customer_creation` as sent (`always` or `if_required`); `None` when not sent (then
    /// `if_required` unless a `customer` was given, as Stripe answers it).
    #[serde(default)]
    pub customer_creation: Option<String>,
}

impl Session {
    /// When the scheduler must look at it: its expiry while open.
    pub fn due_at(&self) -> Option<i64> {
        (self.status == SessionStatus::Open).then_some(self.expires_at)
    }

    /// Yen for every line.
    pub fn total(&self) -> i64 {
        self.line_items.iter().map(LineItem::amount).sum()
    }

    /// The hosted page's address.
    pub fn url(&self, base_url: &str) -> String {
        format!("{base_url}/checkout/{}", self.id)
    }

    /// Whether the page speaks English: the session's locale, unless the page asks.
    pub fn english(&self) -> bool {
        self.locale
            .as_deref()
            .is_some_and(|l| l != "ja" && l != "auto")
    }

    /// `customer_creation` as answered: as sent, else `if_required` for a session made
    /// without a `customer` (Stripe's default since 2022-08-01), null for one made with one.
    fn customer_creation_shown(&self) -> Value {
        match (&self.customer_creation, &self.customer) {
            (Some(c), _) => json!(c),
            (None, Some(_)) => Value::Null,
            (None, None) => json!("if_required"),
        }
    }

    /// Whether completing the page makes a Customer: `customer_creation: always` and no
    /// `customer` given (Stripe: "The Checkout Session will always create a Customer when a
    /// Session confirmation is attempted"; `if_required` makes none for a one-time payment).
    fn creates_customer(&self) -> bool {
        self.customer_creation.as_deref() == Some("always") && self.customer.is_none()
    }

    /// `success_url` with `{CHECKOUT_SESSION_ID}` replaced by the session's id.
    pub fn success_url_filled(&self) -> Option<String> {
        self.success_url
            .as_ref()
            .map(|u| u.replace("{CHECKOUT_SESSION_ID}", &self.id))
    }

    /// The Stripe JSON (every field of the version's Session, null where it does not apply
    /// to konbini); `line_items` only when expanded, by the caller.
    pub fn render(&self, base_url: &str) -> Value {
        let customer_details = self.customer_details.as_ref().map(|d| {
            json!({
                "address": null,
                "business_name": null,
                "email": d.email,
                "individual_name": null,
                "name": d.name,
                "phone": d.phone,
                "tax_exempt": "none",
                "tax_ids": [],
            })
        });
        let collected = self.customer_details.as_ref().map(
            |_| json!({"business_name": null, "individual_name": null, "shipping_details": null}),
        );
        json!({
            "id": self.id,
            "object": "checkout.session",
            "adaptive_pricing": {"enabled": false},
            "after_expiration": null,
            "allow_promotion_codes": null,
            "allowed_payment_method_types": self.allowed_payment_method_types,
            "amount_subtotal": self.total(),
            "amount_total": self.total(),
            "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
            "billing_address_collection": self.billing_address_collection,
            "cancel_url": self.cancel_url,
            "client_reference_id": self.client_reference_id,
            "client_secret": null,
            "collected_information": collected,
            "consent": null,
            "consent_collection": null,
            "created": self.created,
            "currency": "jpy",
            "currency_conversion": null,
            "custom_fields": [],
            "custom_text": {
                "after_submit": null,
                "shipping_address": null,
                "submit": null,
                "terms_of_service_acceptance": null,
            },
            "customer": self.customer,
            "customer_account": null,
            "customer_creation": self.customer_creation_shown(),
            "customer_details": customer_details,
            "customer_email": self.customer_email,
            "discounts": [],
            "expires_at": self.expires_at,
            "integration_identifier": null,
            "invoice": null,
            "invoice_creation": invoice_creation(),
            "livemode": false,
            "locale": self.locale,
            "managed_payments": null,
            "metadata": self.metadata,
            "mode": "payment",
            "origin_context": null,
            "payment_intent": self.payment_intent,
            "payment_link": self.payment_link,
            "payment_method_collection": "always",
            "payment_method_configuration_details": null,
            "payment_method_options": {"konbini": {"expires_after_days": self.expires_after_days}},
            "payment_method_types": ["konbini"],
            "payment_status": if self.paid { "paid" } else { "unpaid" },
            "permissions": null,
            "phone_number_collection": {"enabled": self.phone_number_collection},
            "recovered_from": null,
            "saved_payment_method_options": null,
            "setup_intent": null,
            "shipping_address_collection": null,
            "shipping_cost": null,
            "shipping_options": [],
            "status": self.status.as_str(),
            "submit_type": self.submit_type,
            "subscription": null,
            "success_url": self.success_url,
            "tax_id_collection": {"enabled": false, "required": "never"},
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted_page",
            "url": (self.status == SessionStatus::Open).then(|| self.url(base_url)),
            "wallet_options": null,
        })
    }
}

fn invoice_creation() -> Value {
    json!({
        "enabled": false,
        "invoice_data": {
            "account_tax_ids": null,
            "custom_fields": null,
            "description": null,
            "footer": null,
            "issuer": null,
            "metadata": {},
            "rendering_options": null,
        }
    })
}

/// What a Payment Link does after a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum AfterCompletion {
    /// Stripe's own confirmation (here: the voucher page, with this message).
    HostedConfirmation {
        /// Shown to the customer.
        custom_message: Option<String>,
    },
    /// On to the merchant's page.
    Redirect {
        /// Where (`{CHECKOUT_SESSION_ID}` replaced).
        url: String,
    },
}

/// A Payment Link as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentLink {
    /// `plink_...`.
    pub id: String,
    /// Its order of creation (list cursors).
    pub seq: i64,
    /// Unix seconds.
    pub created: i64,
    /// Whether its address makes sessions.
    pub active: bool,
    /// The secret part of its address, `/pay/{token}`.
    pub token: String,
    /// What is sold (each visit's session gets these).
    pub line_items: Vec<LineItem>,
    /// The merchant's key-value pairs.
    pub metadata: BTreeMap<String, String>,
    /// Shown when the link is inactive.
    pub inactive_message: Option<String>,
    /// After the payment.
    pub after_completion: AfterCompletion,
    /// What each session's PaymentIntent carries.
    pub payment_intent_data: PiData,
    /// `payment_method_types`, as sent.
    pub payment_method_types: Option<Vec<String>>,
    /// `phone_number_collection[enabled]`.
    pub phone_number_collection: bool,
    /// `customer_creation` as sent (`always` or `if_required`; `if_required` when not sent),
    /// copied to each session the link makes.
    #[serde(default)]
    pub customer_creation: Option<String>,
}

impl PaymentLink {
    /// The link's address.
    pub fn url(&self, base_url: &str) -> String {
        format!("{base_url}/pay/{}", self.token)
    }

    /// The Stripe JSON; `line_items` only when expanded, by the caller.
    pub fn render(&self, base_url: &str) -> Value {
        let after = match &self.after_completion {
            AfterCompletion::HostedConfirmation { custom_message } => json!({
                "type": "hosted_confirmation",
                "hosted_confirmation": {"custom_message": custom_message},
            }),
            AfterCompletion::Redirect { url } => {
                json!({"type": "redirect", "redirect": {"url": url}})
            }
        };
        json!({
            "id": self.id,
            "object": "payment_link",
            "active": self.active,
            "after_completion": after,
            "allow_promotion_codes": false,
            "application": null,
            "application_fee_amount": null,
            "application_fee_percent": null,
            "automatic_tax": {"enabled": false, "liability": null},
            "billing_address_collection": "auto",
            "consent_collection": null,
            "currency": "jpy",
            "custom_fields": [],
            "custom_text": {
                "after_submit": null,
                "shipping_address": null,
                "submit": null,
                "terms_of_service_acceptance": null,
            },
            "customer_creation": self.customer_creation.as_deref().unwrap_or("if_required"),
            "inactive_message": self.inactive_message,
            "invoice_creation": invoice_creation(),
            "livemode": false,
            "managed_payments": null,
            "metadata": self.metadata,
            "on_behalf_of": null,
            "payment_intent_data": self.payment_intent_data.render(),
            "payment_method_collection": "always",
            "payment_method_options": null,
            "payment_method_types": self.payment_method_types,
            "phone_number_collection": {"enabled": self.phone_number_collection},
            "restrictions": null,
            "shipping_address_collection": null,
            "shipping_options": [],
            "submit_type": "auto",
            "subscription_data": null,
            "tax_id_collection": {"enabled": false, "required": "never"},
            "transfer_data": null,
            "url": self.url(base_url),
        })
    }
}

/// A list of line items as Stripe answers `GET .../line_items`: in the order they were
/// given (not newest first), from `starting_after` or up to `ending_before` (line item ids),
/// at most `limit`.
pub fn line_items_page(
    url: &str,
    items: &[LineItem],
    limit: usize,
    starting_after: Option<&str>,
    ending_before: Option<&str>,
) -> Result<Value, ApiError> {
    let position = |id: &str, param: &str| {
        items
            .iter()
            .position(|li| li.id == id)
            .ok_or_else(|| ApiError::missing_resource("line_item", id, param))
    };
    let (data, has_more): (Vec<&LineItem>, bool) = match (starting_after, ending_before) {
        (Some(id), _) => {
            let from = position(id, "starting_after")? + 1;
            let rest = &items[from..];
            (rest.iter().take(limit).collect(), rest.len() > limit)
        }
        (None, Some(id)) => {
            let to = position(id, "ending_before")?;
            let start = to.saturating_sub(limit);
            (items[start..to].iter().collect(), start > 0)
        }
        (None, None) => (items.iter().take(limit).collect(), items.len() > limit),
    };
    Ok(json!({
        "object": "list",
        "url": url,
        "has_more": has_more,
        "data": data.iter().map(|li| li.render()).collect::<Vec<_>>(),
    }))
}

/// Konbini takes only yen: Stripe's family of messages for a method's currencies.
fn check_jpy(currency: &str, param: &str) -> Result<(), ApiError> {
    if currency.eq_ignore_ascii_case("jpy") {
        return Ok(());
    }
    Err(ApiError::invalid(
        "parameter_invalid_string",
        param,
        format!(
            "Invalid currency: {}. The payment method `konbini` only supports the following currencies: jpy.",
            currency.to_ascii_lowercase()
        ),
    ))
}

/// A recurring price cannot be sold in payment mode (konbini takes one-time payments only).
pub fn recurring_refused(param: &str) -> ApiError {
    ApiError::invalid(
        "parameter_invalid_string",
        param,
        "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices: konbini payments are one-time only.",
    )
}

/// The Price Stripe makes for a line's `price_data` (`product_data` makes a product too).
fn adhoc_price(now: i64, unit_amount: i64, product: &str, tax_behavior: Option<&str>) -> Value {
    json!({
        "id": new_id("price"),
        "object": "price",
        "active": false,
        "billing_scheme": "per_unit",
        "created": now,
        "currency": "jpy",
        "custom_unit_amount": null,
        "livemode": false,
        "lookup_key": null,
        "metadata": {},
        "nickname": null,
        "product": product,
        "recurring": null,
        "tax_behavior": tax_behavior.unwrap_or("unspecified"),
        "tiers_mode": null,
        "transform_quantity": null,
        "type": "one_time",
        "unit_amount": unit_amount,
        "unit_amount_decimal": unit_amount.to_string(),
    })
}

/// The parameters of one line item a session takes (under `line_items[]`).
const SESSION_LINE_PARAMS: &[&str] = &[
    "line_items[][price]",
    "line_items[][quantity]",
    "line_items[][metadata][*]",
    "line_items[][price_data][currency]",
    "line_items[][price_data][product]",
    "line_items[][price_data][product_data][name]",
    "line_items[][price_data][product_data][description]",
    "line_items[][price_data][product_data][images][]",
    "line_items[][price_data][product_data][metadata][*]",
    "line_items[][price_data][product_data][unit_label]",
    "line_items[][price_data][unit_amount]",
    "line_items[][price_data][unit_amount_decimal]",
    "line_items[][price_data][recurring][interval]",
    "line_items[][price_data][recurring][interval_count]",
    "line_items[][price_data][tax_behavior]",
];

/// The line items of a create: each a `price` or a `price_data` (a Payment Link takes only
/// `price`), in yen, one-time, and their total within konbini's limits.
fn line_items(
    tx: &dyn Tx,
    form: &Form,
    price_data_allowed: bool,
    now: i64,
) -> Result<Vec<LineItem>, ApiError> {
    let items = form.items("line_items");
    if items.is_empty() {
        return Err(ApiError::missing("line_items"));
    }
    if items.len() > MAX_LINE_ITEMS {
        return Err(ApiError::invalid(
            "parameter_invalid_integer",
            "line_items",
            format!(
                "A session in payment mode takes at most {MAX_LINE_ITEMS} line items (got {}).",
                items.len()
            ),
        ));
    }
    let mut lines = Vec::new();
    for (i, item) in &items {
        let p = |name: &str| format!("line_items[{i}][{name}]");
        let quantity = item.int("quantity").map_err(|_| {
            ApiError::not_integer(&p("quantity"), item.get("quantity").unwrap_or(""))
        })?;
        let quantity = match quantity {
            Some(q) if !(1..=999_999).contains(&q) => {
                return Err(ApiError::invalid(
                    "parameter_invalid_integer",
                    &p("quantity"),
                    format!("Quantity must be between 1 and 999,999 (got {q})."),
                ));
            }
            Some(q) => q,
            // Stripe's words for a line without one, sessions and links alike (quoted in
            // stripe/stripe-java#1584).
            None => {
                return Err(ApiError {
                    message: format!("Quantity is required. Add `quantity` to `line_items[{i}]`"),
                    ..ApiError::missing(&p("quantity"))
                });
            }
        };
        let metadata = if item.has("metadata") {
            Some(item.metadata().map_err(|e| ApiError {
                param: Some(p("metadata")),
                ..e
            })?)
        } else {
            None
        };
        let (price, unit_amount, name, description) =
            match (item.string("price"), item.has("price_data")) {
                (Some(_), true) => {
                    return Err(ApiError::invalid(
                        "parameter_invalid_string",
                        &p("price_data"),
                        "You may only specify one of these parameters: price, price_data.",
                    ));
                }
                (None, false) => {
                    let what = if price_data_allowed {
                        "price or price_data"
                    } else {
                        "price"
                    };
                    return Err(ApiError::invalid(
                        "parameter_missing",
                        &p("price"),
                        format!("Each line item needs a {what}."),
                    ));
                }
                (Some(id), false) => {
                    let (price, name, description) = price_lookup(tx, id, &p("price"))?;
                    if !price["recurring"].is_null() || price["type"] == "recurring" {
                        return Err(recurring_refused(&p("price")));
                    }
                    check_jpy(price["currency"].as_str().unwrap_or(""), &p("price"))?;
                    let unit = price["unit_amount"].as_i64().ok_or_else(|| {
                        ApiError::invalid(
                            "parameter_invalid_string",
                            &p("price"),
                            format!("The price {id} has no unit_amount to charge."),
                        )
                    })?;
                    (price, unit, name, description)
                }
                (None, true) if !price_data_allowed => {
                    return Err(ApiError::invalid(
                        "parameter_unknown",
                        &p("price_data"),
                        format!("Received unknown parameter: {}", p("price_data")),
                    ));
                }
                (None, true) => {
                    let data = item.under("price_data");
                    let pd = |name: &str| p(&format!("price_data][{name}"));
                    let currency = data
                        .string("currency")
                        .ok_or_else(|| ApiError::missing(&pd("currency")))?;
                    check_jpy(currency, &pd("currency"))?;
                    if data.has("recurring") {
                        return Err(recurring_refused(&pd("recurring")));
                    }
                    let unit = match (data.int("unit_amount"), data.string("unit_amount_decimal")) {
                        (Ok(Some(n)), _) => n,
                        (Ok(None), Some(d)) => d.parse::<i64>().map_err(|_| {
                            ApiError::invalid(
                                "parameter_invalid_string",
                                &pd("unit_amount_decimal"),
                                format!("Yen has no fractions: {d:?} must be a whole number."),
                            )
                        })?,
                        (Ok(None), None) => return Err(ApiError::missing(&pd("unit_amount"))),
                        (Err(_), _) => {
                            return Err(ApiError::not_integer(
                                &pd("unit_amount"),
                                data.get("unit_amount").unwrap_or(""),
                            ));
                        }
                    };
                    if unit < 0 {
                        return Err(ApiError::invalid(
                            "parameter_invalid_integer",
                            &pd("unit_amount"),
                            "This value must be greater than or equal to 0.",
                        ));
                    }
                    let product_data = data.under("product_data");
                    let (product, name, description) =
                        match (data.string("product"), product_data.string("name")) {
                            (Some(id), _) => {
                                let (_, name, description) =
                                    product_lookup(tx, id, &pd("product"))?;
                                (id.to_owned(), name, description)
                            }
                            (None, Some(_)) => {
                                // Stripe: product_data is "Data used to generate a new Product
                                // object inline": a kept Product, retrievable and expandable.
                                let product =
                                    crate::catalog::create_product(tx, &product_data, now)
                                        .map_err(|e| ApiError {
                                            param: e
                                                .param
                                                .as_deref()
                                                .map(|q| nested_param(&pd("product_data"), q)),
                                            ..e
                                        })?;
                                (product.id, product.name, product.description)
                            }
                            (None, None) => {
                                return Err(ApiError::missing(&pd("product_data][name")));
                            }
                        };
                    (
                        adhoc_price(now, unit, &product, data.string("tax_behavior")),
                        unit,
                        name,
                        description,
                    )
                }
            };
        lines.push(LineItem {
            id: new_id("li"),
            quantity,
            unit_amount,
            description: name,
            product_description: description,
            price,
            metadata,
        });
    }
    check_total(lines.iter().map(LineItem::amount).sum())?;
    Ok(lines)
}

/// An existing Price named by `line_items[][price]`, as (its Stripe JSON, its product's
/// name and description), or `resource_missing` naming `param`. An archived price cannot be
/// sold (Stripe: "The price specified is inactive. This field only accepts active prices.").
fn price_lookup(
    tx: &dyn Tx,
    id: &str,
    param: &str,
) -> Result<(Value, String, Option<String>), ApiError> {
    let price = crate::catalog::find_price(tx, id, param)?;
    if !price.active {
        return Err(ApiError::invalid(
            "parameter_invalid_string",
            param,
            format!(
                "The price specified ({id}) is inactive. This field only accepts active prices."
            ),
        ));
    }
    let (name, description) = match tx.product(&price.product)? {
        Some(p) => (p.name, p.description),
        None => (price.product.clone(), None),
    };
    Ok((price.render(), name, description))
}

/// A product named by `price_data[product]`, as (its Stripe JSON, name, description), or
/// `resource_missing` naming `param`.
fn product_lookup(
    tx: &dyn Tx,
    id: &str,
    param: &str,
) -> Result<(Value, String, Option<String>), ApiError> {
    let p = crate::catalog::find_product(tx, id, param)?;
    Ok((p.render(), p.name, p.description))
}

/// `inner` (a parameter as a nested form names it: `images[0]`) under `outer`
/// (`line_items[0][price_data][product_data]`): `line_items[0][price_data][product_data][images][0]`.
fn nested_param(outer: &str, inner: &str) -> String {
    match inner.split_once('[') {
        Some((head, rest)) => format!("{outer}[{head}][{rest}"),
        None => format!("{outer}[{inner}]"),
    }
}

/// Konbini's limits on one payment, for a session's total.
fn check_total(total: i64) -> Result<(), ApiError> {
    if total < MIN_AMOUNT_YEN {
        return Err(ApiError::invalid(
            "amount_too_small",
            "line_items",
            format!(
                "The line items add up to ¥{total}; konbini payments must be at least ¥{MIN_AMOUNT_YEN} jpy."
            ),
        ));
    }
    if total > MAX_AMOUNT_YEN {
        return Err(ApiError::invalid(
            "amount_too_large",
            "line_items",
            format!(
                "The line items add up to ¥{total}; konbini payments must be no more than ¥{MAX_AMOUNT_YEN} jpy."
            ),
        ));
    }
    Ok(())
}

/// Only konbini is taken: a list of payment method types may name nothing else.
fn check_types(form: &Form, name: &str) -> Result<Option<Vec<String>>, ApiError> {
    if !form.has(name) {
        return Ok(None);
    }
    let types = form.array(name);
    if let Some(t) = types.iter().find(|t| **t != "konbini") {
        return Err(ApiError::invalid(
            "parameter_invalid_string",
            name,
            format!("The payment method type {t:?} is invalid: this network accepts only konbini."),
        ));
    }
    Ok(Some(types.iter().map(|t| (*t).to_owned()).collect()))
}

/// An `http(s)://` URL, or Stripe's "Not a valid URL" naming `param`.
/// `customer_creation`: `always` or `if_required`, as sent.
fn customer_creation(form: &Form) -> Result<Option<String>, ApiError> {
    match form.string("customer_creation") {
        None => Ok(None),
        Some(c @ ("always" | "if_required")) => Ok(Some(c.to_owned())),
        Some(c) => Err(ApiError::invalid(
            "parameter_invalid_string",
            "customer_creation",
            format!("Invalid customer_creation: must be one of if_required or always (got {c:?})."),
        )),
    }
}

fn url_param(form: &Form, param: &str) -> Result<Option<String>, ApiError> {
    let Some(u) = form.string(param) else {
        return Ok(None);
    };
    let ok = (u.starts_with("https://") || u.starts_with("http://"))
        && u.len() <= 5000
        && !u.chars().any(char::is_whitespace);
    if !ok {
        return Err(ApiError::invalid("url_invalid", param, "Not a valid URL"));
    }
    Ok(Some(u.to_owned()))
}

/// The parameters of `POST /v1/checkout/sessions`.
pub fn session_params() -> Vec<&'static str> {
    [
        SESSION_LINE_PARAMS,
        PI_DATA_PARAMS,
        &[
            "allowed_payment_method_types[]",
            "billing_address_collection",
            "cancel_url",
            "client_reference_id",
            "customer",
            "customer_creation",
            "customer_email",
            "expand[]",
            "expires_at",
            "locale",
            "metadata[*]",
            "mode",
            "payment_method_options[konbini][expires_after_days]",
            "payment_method_options[konbini][setup_future_usage]",
            "payment_method_types[]",
            "phone_number_collection[enabled]",
            "submit_type",
            "success_url",
            "ui_mode",
        ],
    ]
    .concat()
}

/// Stripe removed `payment_method_types` from Checkout Session create in 2026-09-30.endive
/// (changelog "Removes the payment_method_types parameter from Checkout Sessions"): a caller
/// naming that version or a later one in `Stripe-Version` is refused with Stripe's code, as
/// PaymentIntents are (`payments::check_payment_method_types_version`); an older one, or none
/// (curl), keeps it.
pub fn check_types_version(form: &Form, stripe_version: Option<&str>) -> Result<(), ApiError> {
    let Some(version) = stripe_version else {
        return Ok(());
    };
    let date = version.split('.').next().unwrap_or(version);
    if date >= payments::PAYMENT_METHOD_TYPES_REMOVED_IN && form.has("payment_method_types") {
        return Err(ApiError::invalid(
            "payment_method_types_no_longer_supported",
            "payment_method_types",
            format!(
                "payment_method_types is no longer a parameter of Checkout Sessions as of API version 2026-09-30.endive (this request asks for {version}): leave it out (konbini is this network's only payment method) or send allowed_payment_method_types."
            ),
        ));
    }
    Ok(())
}

/// `POST /v1/checkout/sessions`: a session in payment mode, open until `expires_at`.
pub fn create_session(tx: &dyn Tx, form: &Form, now: i64) -> Result<Session, ApiError> {
    form.check_known(&session_params())?;
    if let Some(mode) = form.string("mode")
        && mode != "payment"
    {
        return Err(ApiError::invalid(
            "parameter_invalid_string",
            "mode",
            format!(
                "Konbini Checkout supports only mode=payment (got {mode:?}): konbini payments cannot set up or subscribe."
            ),
        ));
    }
    if let Some(ui) = form.string("ui_mode")
        && ui != "hosted_page"
    {
        return Err(ApiError::invalid(
            "parameter_invalid_string",
            "ui_mode",
            format!(
                "This network serves only the hosted page: ui_mode must be hosted_page (got {ui:?})."
            ),
        ));
    }
    let allowed = check_types(form, "allowed_payment_method_types")?;
    let types = check_types(form, "payment_method_types")?;
    if allowed.is_some() && types.is_some() {
        return Err(ApiError::invalid(
            "parameters_exclusive",
            "allowed_payment_method_types",
            "You may only specify one of these parameters: allowed_payment_method_types, payment_method_types.",
        ));
    }
    let customer_creation = customer_creation(form)?;
    let customer = form.string("customer").map(str::to_owned);
    let customer_email = form.string("customer_email").map(str::to_owned);
    if let Some(e) = &customer_email {
        crate::customers::check_email("customer_email", e)?;
    }
    if customer.is_some() && customer_email.is_some() {
        return Err(ApiError::invalid(
            "parameter_invalid_string",
            "customer_email",
            "You may only specify one of these parameters: customer, customer_email.",
        ));
    }
    if let Some(id) = &customer
        && tx.customer(id)?.is_none_or(|c| c.deleted)
    {
        return Err(ApiError::missing_resource("customer", id, "customer"));
    }
    let expires_at = match form.int("expires_at")? {
        None => now + DEFAULT_SESSION_SECONDS,
        Some(t) if t < now + MIN_SESSION_SECONDS => {
            return Err(ApiError::invalid(
                "parameter_invalid_integer",
                "expires_at",
                format!(
                    "The `expires_at` timestamp must be at least 30 minutes after the Checkout Session is created ({} is {} seconds from now).",
                    t,
                    t - now
                ),
            ));
        }
        Some(t) if t > now + DEFAULT_SESSION_SECONDS => {
            return Err(ApiError::invalid(
                "parameter_invalid_integer",
                "expires_at",
                format!(
                    "The `expires_at` timestamp must be at most 24 hours after the Checkout Session is created ({} is {} seconds from now).",
                    t,
                    t - now
                ),
            ));
        }
        Some(t) => t,
    };
    let locale = form.string("locale").map(str::to_owned);
    if let Some(l) = &locale
        && !LOCALES.contains(&l.as_str())
    {
        return Err(ApiError::invalid(
            "parameter_invalid_string",
            "locale",
            format!(
                "Invalid locale: {l} is not one of Checkout's locales ({}).",
                LOCALES.join(", ")
            ),
        ));
    }
    let p_days = "payment_method_options[konbini][expires_after_days]";
    let expires_after_days = form.int(p_days)?;
    if let Some(d) = expires_after_days
        && !(1..=60).contains(&d)
    {
        return Err(ApiError::invalid(
            "parameter_invalid_integer",
            p_days,
            format!("expires_after_days must be between 1 and 60 (got {d})."),
        ));
    }
    let p_sfu = "payment_method_options[konbini][setup_future_usage]";
    if let Some(v) = form.string(p_sfu)
        && v != "none"
    {
        return Err(ApiError::invalid(
            "parameter_invalid_string",
            p_sfu,
            "Konbini payments support only setup_future_usage=none.",
        ));
    }
    let phone_number_collection = form
        .bool("phone_number_collection[enabled]")?
        .unwrap_or(false);
    let success_url = url_param(form, "success_url")?;
    let cancel_url = url_param(form, "cancel_url")?;
    let payment_intent_data = PiData::parse(form)?;
    let metadata = form.metadata()?;
    let lines = line_items(tx, form, true, now)?;
    let session = Session {
        id: new_id("cs_test"),
        seq: tx.next_session_seq()?,
        created: now,
        expires_at,
        status: SessionStatus::Open,
        paid: false,
        line_items: lines,
        customer,
        customer_email,
        success_url,
        cancel_url,
        metadata,
        client_reference_id: form.string("client_reference_id").map(str::to_owned),
        locale,
        expires_after_days,
        payment_intent_data,
        payment_intent: None,
        pi_seq: None,
        payment_link: None,
        customer_details: None,
        allowed_payment_method_types: allowed,
        phone_number_collection,
        submit_type: form.string("submit_type").map(str::to_owned),
        billing_address_collection: form.string("billing_address_collection").map(str::to_owned),
        customer_creation,
    };
    tx.insert_session(&session)?;
    Ok(session)
}

/// Stripe's refusal to expire a session that is not open, word for word (quoted in
/// <https://github.com/Sylius/PayumStripePlugin/issues/70>; no code is quoted there).
fn not_open(session: &Session) -> ApiError {
    ApiError {
        code: None,
        ..ApiError::invalid(
            "",
            "",
            format!(
                "Only Checkout Sessions with a status in [\"open\"] can be expired. This Checkout Session has a status of `{}`.",
                session.status.as_str()
            ),
        )
    }
}

/// Expire an open session (`POST .../expire`, or the scheduler at its `expires_at`):
/// `checkout.session.expired`.
pub fn expire_session(tx: &dyn Tx, session: &mut Session, now: i64) -> Result<(), ApiError> {
    if session.status != SessionStatus::Open {
        return Err(not_open(session));
    }
    session.status = SessionStatus::Expired;
    let doc = tx.update_session(session)?;
    emit_session(tx, "checkout.session.expired", &doc, now)
}

fn emit_session(tx: &dyn Tx, event_type: &str, doc: &str, now: i64) -> Result<(), ApiError> {
    tx.emit(
        event_type,
        now,
        Snapshot::Stored {
            kind: SESSION_KIND,
            doc,
        },
    )?;
    Ok(())
}

/// Why the hosted page's form was refused: a message for the customer, in the page's
/// language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The customer's input (the page re-renders the form with it).
    Input(String),
    /// The session is no longer open.
    NotOpen(SessionStatus),
    /// The network refused the payment: its message.
    Payment(String),
    /// The network failed (its storage, say): the page says only that; the message is for
    /// the network's log.
    Failed(String),
}

/// What the customer typed on the hosted page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Submission {
    /// Name (required).
    pub name: String,
    /// Email (required).
    pub email: String,
    /// Phone (optional): 10-11 digits once dashes and spaces are taken out.
    pub phone: String,
}

impl Submission {
    /// Check the input, as the page explains it (`en`: English).
    fn check(&self, en: bool) -> Result<(String, String, Option<String>), Refusal> {
        let t = |ja: &str, e: &str| Refusal::Input(if en { e.to_owned() } else { ja.to_owned() });
        let name = self.name.trim();
        if name.is_empty() {
            return Err(t("お名前を入力してください。", "Enter your name."));
        }
        if name.chars().count() > NAME_MAX_CHARS {
            return Err(t(
                "お名前は20文字以内で入力してください（店舗で印字できるのは20文字までです）。",
                "Your name must be at most 20 characters (stores print at most 20).",
            ));
        }
        let email = self.email.trim();
        let plausible = email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            && !email.chars().any(char::is_whitespace);
        if !plausible {
            return Err(t(
                "メールアドレスを正しく入力してください。",
                "Enter a valid email address.",
            ));
        }
        let digits: String = self
            .phone
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '(' | ')'))
            .collect();
        let phone = if digits.is_empty() {
            None
        } else if (10..=11).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && digits.bytes().any(|b| b != b'0')
        {
            Some(digits)
        } else {
            return Err(t(
                "電話番号は10桁または11桁の数字で入力してください。",
                "The phone number must be 10 or 11 digits.",
            ));
        };
        Ok((name.to_owned(), email.to_owned(), phone))
    }
}

/// The customer submitted the hosted page: the PaymentIntent (amount = the session's
/// total, `payment_intent_data`, a konbini payment method with the billing details, the
/// phone as confirmation number) is made and confirmed (the voucher, the session's
/// `expires_after_days`), and the session completes unpaid with `checkout.session.completed`
/// (after the PaymentIntent's own events). Returns the PaymentIntent and whether the
/// scheduler has new work.
pub fn complete(
    tx: &dyn Tx,
    settings: &Settings,
    session: &mut Session,
    input: &Submission,
    en: bool,
    now: i64,
) -> Result<(PaymentIntent, bool), Refusal> {
    if session.status != SessionStatus::Open || now >= session.expires_at {
        let status = if session.status == SessionStatus::Open {
            SessionStatus::Expired
        } else {
            session.status
        };
        return Err(Refusal::NotOpen(status));
    }
    let (name, email, phone) = input.check(en)?;
    if session.creates_customer() {
        // The Customer from what the customer gave (`customer.created`), before the
        // PaymentIntent, which names it, as does the session.
        let mut details = form_urlencoded::Serializer::new(String::new());
        details
            .append_pair("name", &name)
            .append_pair("email", &email);
        if let Some(p) = &phone {
            details.append_pair("phone", p);
        }
        let form =
            Form::parse(details.finish().as_bytes()).map_err(|e| Refusal::Failed(e.message))?;
        let customer = crate::customers::create_customer(tx, &form, now).map_err(|e| {
            if e.status.is_server_error() {
                Refusal::Failed(e.message)
            } else {
                Refusal::Payment(e.message)
            }
        })?;
        session.customer = Some(customer.id);
    }
    let mut pairs = form_urlencoded::Serializer::new(String::new());
    pairs
        .append_pair("amount", &session.total().to_string())
        .append_pair("currency", "jpy")
        .append_pair("confirm", "true")
        .append_pair("payment_method_data[type]", "konbini")
        .append_pair("payment_method_data[billing_details][name]", &name)
        .append_pair("payment_method_data[billing_details][email]", &email);
    if let Some(p) = &phone {
        pairs
            .append_pair("payment_method_data[billing_details][phone]", p)
            .append_pair("payment_method_options[konbini][confirmation_number]", p);
    }
    if let Some(d) = session.expires_after_days {
        pairs.append_pair(
            "payment_method_options[konbini][expires_after_days]",
            &d.to_string(),
        );
    }
    let data = &session.payment_intent_data;
    if let Some(d) = &data.description {
        pairs.append_pair("description", d);
    }
    for (k, v) in &data.metadata {
        pairs.append_pair(&format!("metadata[{k}]"), v);
    }
    if let Some(e) = &data.receipt_email {
        pairs.append_pair("receipt_email", e);
    }
    if let Some(d) = &data.statement_descriptor {
        pairs.append_pair("statement_descriptor", d);
    }
    if let Some(c) = &session.customer {
        pairs.append_pair("customer", c);
    }
    let form = Form::parse(pairs.finish().as_bytes()).map_err(|e| Refusal::Failed(e.message))?;
    let (mut pi, wake) = payments::create(tx, settings, &form, now).map_err(|e| {
        // The one refusal a customer can act on: the store network rejected the number.
        if e.code == Some("payment_intent_konbini_rejected_confirmation_number") {
            Refusal::Input(if en {
                "The convenience store network rejected this phone number as a confirmation number; use another one.".to_owned()
            } else {
                "この電話番号は確認番号として使えません。別の番号を入力してください。".to_owned()
            })
        } else if e.status.is_server_error() {
            Refusal::Failed(e.message)
        } else {
            Refusal::Payment(e.message)
        }
    })?;
    pi.checkout_session = Some(session.id.clone());
    tx.update_pi(&pi)
        .map_err(|e| Refusal::Failed(e.to_string()))?;
    session.status = SessionStatus::Complete;
    session.payment_intent = Some(pi.id.clone());
    session.pi_seq = Some(pi.seq);
    session.customer_details = Some(CustomerDetails { name, email, phone });
    let doc = tx
        .update_session(session)
        .map_err(|e| Refusal::Failed(e.to_string()))?;
    emit_session(tx, "checkout.session.completed", &doc, now)
        .map_err(|e| Refusal::Failed(e.message))?;
    Ok((pi, wake))
}

/// A PaymentIntent was paid at a store: its session (if a session made it) is `paid`, with
/// `checkout.session.async_payment_succeeded` after the PaymentIntent's events.
pub fn pi_succeeded(tx: &dyn Tx, pi: &PaymentIntent, now: i64) -> Result<(), ApiError> {
    if pi.checkout_session.is_none() {
        return Ok(());
    }
    let Some(mut session) = tx.session_by_pi(pi.seq)? else {
        return Ok(());
    };
    session.paid = true;
    let doc = tx.update_session(&session)?;
    emit_session(tx, "checkout.session.async_payment_succeeded", &doc, now)
}

/// A PaymentIntent's voucher ran out unpaid: its session (if any) stays complete and
/// unpaid, with `checkout.session.async_payment_failed` after `payment_intent.payment_failed`.
pub fn pi_expired(tx: &dyn Tx, pi: &PaymentIntent, now: i64) -> Result<(), ApiError> {
    if pi.checkout_session.is_none() {
        return Ok(());
    }
    let Some(session) = tx.session_by_pi(pi.seq)? else {
        return Ok(());
    };
    let doc = serde_json::to_string(&session).expect("records serialize");
    emit_session(tx, "checkout.session.async_payment_failed", &doc, now)
}

/// Expire every open session whose `expires_at` has come. Returns how many.
pub fn run_due(tx: &dyn Tx, now: i64) -> Result<usize, ApiError> {
    let mut changed = 0;
    for mut session in tx.due_sessions(now, 500)? {
        if session.status == SessionStatus::Open && session.expires_at <= now {
            expire_session(tx, &mut session, now)?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// The parameters of one line item a link takes (under `line_items[]`).
const LINK_LINE_PARAMS: &[&str] = &["line_items[][price]", "line_items[][quantity]"];

/// The parameters of `POST /v1/payment_links`.
pub fn link_params() -> Vec<&'static str> {
    [
        LINK_LINE_PARAMS,
        PI_DATA_PARAMS,
        &[
            "after_completion[type]",
            "after_completion[redirect][url]",
            "after_completion[hosted_confirmation][custom_message]",
            "currency",
            "customer_creation",
            "expand[]",
            "inactive_message",
            "metadata[*]",
            "payment_method_types[]",
            "phone_number_collection[enabled]",
            "submit_type",
        ],
    ]
    .concat()
}

/// The parameters of `POST /v1/payment_links/{id}`.
pub const LINK_UPDATE_PARAMS: &[&str] = &[
    "active",
    "after_completion[type]",
    "after_completion[redirect][url]",
    "after_completion[hosted_confirmation][custom_message]",
    "expand[]",
    "inactive_message",
    "metadata",
    "metadata[*]",
];

fn after_completion(form: &Form) -> Result<Option<AfterCompletion>, ApiError> {
    match form.string("after_completion[type]") {
        None => Ok(None),
        Some("hosted_confirmation") => Ok(Some(AfterCompletion::HostedConfirmation {
            custom_message: form
                .string("after_completion[hosted_confirmation][custom_message]")
                .map(str::to_owned),
        })),
        Some("redirect") => {
            let url = url_param(form, "after_completion[redirect][url]")?
                .ok_or_else(|| ApiError::missing("after_completion[redirect][url]"))?;
            Ok(Some(AfterCompletion::Redirect { url }))
        }
        Some(other) => Err(ApiError::invalid(
            "parameter_invalid_string",
            "after_completion[type]",
            format!(
                "Invalid after_completion[type]: must be one of hosted_confirmation or redirect (got {other:?})."
            ),
        )),
    }
}

/// `POST /v1/payment_links`: a link to sell its line items (existing Prices), with
/// `payment_link.created`.
pub fn create_link(tx: &dyn Tx, form: &Form, now: i64) -> Result<PaymentLink, ApiError> {
    form.check_known(&link_params())?;
    if let Some(c) = form.string("currency") {
        check_jpy(c, "currency")?;
    }
    let payment_method_types = check_types(form, "payment_method_types")?;
    let after_completion = after_completion(form)?.unwrap_or(AfterCompletion::HostedConfirmation {
        custom_message: None,
    });
    let link = PaymentLink {
        id: new_id("plink"),
        seq: tx.next_link_seq()?,
        created: now,
        active: true,
        token: random_alnum(24),
        line_items: line_items(tx, form, false, now)?,
        metadata: form.metadata()?,
        inactive_message: form.string("inactive_message").map(str::to_owned),
        after_completion,
        payment_intent_data: PiData::parse(form)?,
        payment_method_types,
        phone_number_collection: form
            .bool("phone_number_collection[enabled]")?
            .unwrap_or(false),
        customer_creation: customer_creation(form)?,
    };
    tx.insert_link(&link)?;
    emit_link(tx, "payment_link.created", &link, now)?;
    Ok(link)
}

fn emit_link(tx: &dyn Tx, event_type: &str, link: &PaymentLink, now: i64) -> Result<(), ApiError> {
    let doc = serde_json::to_string(link).expect("records serialize");
    tx.emit(
        event_type,
        now,
        Snapshot::Stored {
            kind: LINK_KIND,
            doc: &doc,
        },
    )?;
    Ok(())
}

/// `POST /v1/payment_links/{id}`: `active` (deactivate, reactivate), `metadata`,
/// `inactive_message`, `after_completion`; `payment_link.updated`.
pub fn update_link(
    tx: &dyn Tx,
    link: &mut PaymentLink,
    form: &Form,
    now: i64,
) -> Result<(), ApiError> {
    form.check_known(LINK_UPDATE_PARAMS)?;
    if let Some(active) = form.bool("active")? {
        link.active = active;
    }
    form.merge_metadata(&mut link.metadata)?;
    if let Some(m) = form.get("inactive_message") {
        link.inactive_message = (!m.is_empty()).then(|| m.to_owned());
    }
    if let Some(a) = after_completion(form)? {
        link.after_completion = a;
    }
    tx.update_link(link)?;
    emit_link(tx, "payment_link.updated", link, now)
}

/// A visit to an active link's address: a new session of its line items (each line a new
/// `li_...`), `payment_link` set. `None` when the link is inactive.
pub fn session_from_link(
    tx: &dyn Tx,
    link: &PaymentLink,
    now: i64,
) -> Result<Option<Session>, ApiError> {
    if !link.active {
        return Ok(None);
    }
    let line_items = link
        .line_items
        .iter()
        .map(|li| LineItem {
            id: new_id("li"),
            ..li.clone()
        })
        .collect();
    let success_url = match &link.after_completion {
        AfterCompletion::Redirect { url } => Some(url.clone()),
        AfterCompletion::HostedConfirmation { .. } => None,
    };
    let session = Session {
        id: new_id("cs_test"),
        seq: tx.next_session_seq()?,
        created: now,
        expires_at: now + DEFAULT_SESSION_SECONDS,
        status: SessionStatus::Open,
        paid: false,
        line_items,
        customer: None,
        customer_email: None,
        success_url,
        cancel_url: None,
        metadata: BTreeMap::new(),
        client_reference_id: None,
        locale: None,
        expires_after_days: None,
        payment_intent_data: link.payment_intent_data.clone(),
        payment_intent: None,
        pi_seq: None,
        payment_link: Some(link.id.clone()),
        customer_details: None,
        allowed_payment_method_types: None,
        phone_number_collection: link.phone_number_collection,
        submit_type: None,
        billing_address_collection: None,
        customer_creation: link.customer_creation.clone(),
    };
    tx.insert_session(&session)?;
    Ok(Some(session))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::in_memory_tx;

    /// 2026-12-07 09:46:40 JST.
    const NOW: i64 = 1_796_604_000;

    const TEA: &str = "line_items[0][price_data][currency]=jpy\
        &line_items[0][price_data][product_data][name]=Tea\
        &line_items[0][price_data][unit_amount]=600\
        &line_items[0][quantity]=2";

    fn refused(body: &str) -> ApiError {
        let form = Form::parse(body.as_bytes()).unwrap();
        in_memory_tx(|tx| create_session(tx, &form, NOW)).unwrap_err()
    }

    fn made(body: &str) -> Session {
        let form = Form::parse(body.as_bytes()).unwrap();
        in_memory_tx(|tx| create_session(tx, &form, NOW)).unwrap()
    }

    #[test]
    fn a_session_of_price_data_lines_renders_as_stripe_does() {
        let s = made(&format!(
            "{TEA}&line_items[1][price_data][currency]=JPY\
             &line_items[1][price_data][product_data][name]=Cake\
             &line_items[1][price_data][product_data][description]=Strawberry\
             &line_items[1][price_data][unit_amount_decimal]=450\
             &line_items[1][quantity]=1\
             &customer_email=a@example.jp&metadata[order]=7&locale=en\
             &payment_method_options[konbini][expires_after_days]=2\
             &success_url=https://shop.example/ok?s={{CHECKOUT_SESSION_ID}}\
             &payment_intent_data[description]=Order 7"
        ));
        assert_eq!(s.total(), 1650);
        assert_eq!(s.expires_at, NOW + DEFAULT_SESSION_SECONDS);
        assert!(s.english());
        let v = s.render("http://net");
        assert_eq!(v["object"], "checkout.session");
        assert_eq!(v["amount_total"], 1650);
        assert_eq!(v["status"], "open");
        assert_eq!(v["payment_status"], "unpaid");
        assert_eq!(v["payment_intent"], Value::Null);
        assert_eq!(v["url"], format!("http://net/checkout/{}", s.id));
        assert_eq!(
            v["payment_method_options"]["konbini"]["expires_after_days"],
            2
        );
        assert_eq!(v["metadata"]["order"], "7");
        assert_eq!(
            s.success_url_filled().unwrap(),
            format!("https://shop.example/ok?s={}", s.id)
        );
        let cake = s.line_items[1].render();
        assert_eq!(cake["object"], "item");
        assert_eq!(cake["description"], "Cake");
        assert_eq!(cake["amount_total"], 450);
        assert_eq!(cake["price"]["type"], "one_time");
        assert_eq!(cake["price"]["unit_amount"], 450);
        assert!(
            cake["price"]["product"]
                .as_str()
                .unwrap()
                .starts_with("prod_")
        );
        assert_eq!(
            s.payment_intent_data.description.as_deref(),
            Some("Order 7")
        );
    }

    #[test]
    fn product_data_makes_a_kept_product_and_its_errors_name_the_line() {
        let body = format!(
            "{TEA}&line_items[0][price_data][product_data][images][0]=https://shop.example/tea.png"
        );
        let form = Form::parse(body.as_bytes()).unwrap();
        in_memory_tx(|tx| {
            let s = create_session(tx, &form, NOW).unwrap();
            let product = s.line_items[0].price["product"].as_str().unwrap();
            let kept = tx.product(product).unwrap().expect("a kept product");
            assert_eq!(kept.name, "Tea");
            assert_eq!(kept.images, ["https://shop.example/tea.png"]);
        });
        let e = refused(&TEA.replace("product_data][name]=Tea", "product_data][name]="));
        assert_eq!(
            e.param.as_deref(),
            Some("line_items[0][price_data][product_data][name]")
        );
        assert_eq!(
            nested_param("a[b]", "images[0]"),
            "a[b][images][0]".to_owned()
        );
    }

    #[test]
    fn refusals_name_the_parameter_as_stripe_does() {
        let usd = TEA.replace("currency]=jpy", "currency]=usd");
        let e = refused(&usd);
        assert_eq!(
            e.param.as_deref(),
            Some("line_items[0][price_data][currency]")
        );
        assert!(e.message.contains("Invalid currency: usd"), "{}", e.message);
        let e = refused(&format!("{TEA}&customer_email=hanako"));
        assert_eq!(
            (e.param.as_deref(), e.message.as_str()),
            (Some("customer_email"), "Invalid email address: hanako")
        );
        let e = refused(&TEA.replace("&line_items[0][quantity]=2", ""));
        assert_eq!(
            (e.code, e.param.as_deref(), e.message.as_str()),
            (
                Some("parameter_missing"),
                Some("line_items[0][quantity]"),
                "Quantity is required. Add `quantity` to `line_items[0]`"
            )
        );
        let e = refused(&format!(
            "{TEA}&line_items[0][price_data][recurring][interval]=month"
        ));
        assert_eq!(
            e.param.as_deref(),
            Some("line_items[0][price_data][recurring]")
        );
        let small = TEA.replace("unit_amount]=600", "unit_amount]=50");
        let e = refused(&small);
        assert_eq!(
            (e.code, e.param.as_deref()),
            (Some("amount_too_small"), Some("line_items"))
        );
        let large = TEA.replace("unit_amount]=600", "unit_amount]=150001");
        let e = refused(&large);
        assert_eq!(
            (e.code, e.param.as_deref()),
            (Some("amount_too_large"), Some("line_items"))
        );
        // Exactly at the limits is taken.
        made(&TEA.replace("unit_amount]=600", "unit_amount]=60"));
        made(&TEA.replace("unit_amount]=600", "unit_amount]=150000"));
        for at in [NOW + 600, NOW + MIN_SESSION_SECONDS - 1, NOW + 86_401] {
            let e = refused(&format!("{TEA}&expires_at={at}"));
            assert_eq!(e.param.as_deref(), Some("expires_at"), "{at}");
        }
        made(&format!("{TEA}&expires_at={}", NOW + MIN_SESSION_SECONDS));
        let e = refused(&format!("{TEA}&shipping_options[0][shipping_rate]=x"));
        assert_eq!(
            (e.code, e.param.as_deref()),
            (
                Some("parameter_unknown"),
                Some("shipping_options[0][shipping_rate]")
            )
        );
        let e = refused(&format!("{TEA}&customer=cus_1&customer_email=a@b.jp"));
        assert_eq!(e.param.as_deref(), Some("customer_email"));
        let e = refused(&format!("{TEA}&mode=subscription"));
        assert_eq!(e.param.as_deref(), Some("mode"));
        let e = refused(&format!("{TEA}&payment_method_types[0]=card"));
        assert_eq!(e.param.as_deref(), Some("payment_method_types"));
        let e = refused(&format!("{TEA}&locale=xx"));
        assert_eq!(e.param.as_deref(), Some("locale"));
        let e = refused(&format!(
            "{TEA}&payment_method_options[konbini][expires_after_days]=61"
        ));
        assert_eq!(
            e.param.as_deref(),
            Some("payment_method_options[konbini][expires_after_days]")
        );
        let e = refused("line_items[0][quantity]=1");
        assert_eq!(e.param.as_deref(), Some("line_items[0][price]"));
        let e = refused("");
        assert_eq!(e.param.as_deref(), Some("line_items"));
        let e = refused(&format!("{TEA}&success_url=shop.example/ok"));
        assert_eq!(e.param.as_deref(), Some("success_url"));
    }

    #[test]
    fn the_page_refuses_what_a_store_cannot_print_or_send() {
        let check = |name: &str, email: &str, phone: &str| {
            Submission {
                name: name.into(),
                email: email.into(),
                phone: phone.into(),
            }
            .check(false)
        };
        assert_eq!(
            check(" 山田 太郎 ", "taro@example.jp", "090-1234-5678"),
            Ok((
                "山田 太郎".into(),
                "taro@example.jp".into(),
                Some("09012345678".into())
            ))
        );
        assert_eq!(check("Taro", "taro@example.jp", "").unwrap().2, None);
        for (name, email, phone) in [
            ("", "taro@example.jp", ""),
            (
                "あいうえおかきくけこさしすせそたちつてとな",
                "taro@example.jp",
                "",
            ),
            ("Taro", "taro", ""),
            ("Taro", "taro@example.jp", "12345"),
            ("Taro", "taro@example.jp", "0000000000"),
        ] {
            assert!(
                matches!(check(name, email, phone), Err(Refusal::Input(_))),
                "{name:?} {email:?} {phone:?}"
            );
        }
        // Twenty characters exactly is what a store prints.
        assert!(check("あいうえおかきくけこさしすせそたちつてと", "t@x.jp", "").is_ok());
    }

    #[test]
    fn line_items_page_both_ways() {
        let lines: Vec<LineItem> = (0..5)
            .map(|i| LineItem {
                id: format!("li_{i}"),
                quantity: 1,
                unit_amount: 200,
                description: format!("item {i}"),
                product_description: None,
                price: Value::Null,
                metadata: None,
            })
            .collect();
        let ids = |v: Value| {
            v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|li| li["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        let first = line_items_page("/x", &lines, 2, None, None).unwrap();
        assert_eq!(first["has_more"], true);
        assert_eq!(ids(first), ["li_0", "li_1"]);
        let next = line_items_page("/x", &lines, 2, Some("li_3"), None).unwrap();
        assert_eq!(next["has_more"], false);
        assert_eq!(ids(next), ["li_4"]);
        let back = line_items_page("/x", &lines, 2, None, Some("li_3")).unwrap();
        assert_eq!(back["has_more"], true);
        assert_eq!(ids(back), ["li_1", "li_2"]);
        let e = line_items_page("/x", &lines, 2, Some("li_9"), None).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("starting_after"));
    }
}
