//! What a merchant sells: Products and their Prices, as Stripe keeps them (create,
//! update, archive, a product's deletion while it has no prices, lookup keys), with
//! Stripe's events (`product.*`, `price.*`) and errors naming the parameter.
//!
//! Konbini takes only yen, so a price here is in `jpy` (a price in another currency could
//! never be paid) and is refused otherwise, saying so. Prices may be one-time or recurring
//! (a recurring price can be kept, though Checkout's konbini never sells one). Like
//! `payments.rs`, these functions run inside one store transaction, take the time as an
//! argument and never read a clock. Stripe's references: <https://docs.stripe.com/api/products>,
//! <https://docs.stripe.com/api/prices>.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::ApiError;
use crate::form::Form;
use crate::ids::new_id;
use crate::objects::{Price, Product, Recurring, Snapshot, previous_attributes};
use crate::storage::Tx;

/// The only currency a price may have here.
pub const CURRENCY: &str = "jpy";
/// Stripe's largest `unit_amount` (eight digits).
pub const MAX_UNIT_AMOUNT: i64 = 99_999_999;
/// Stripe's limit on a lookup key's length.
pub const LOOKUP_KEY_MAX_CHARS: usize = 200;
/// Stripe's longest billing period for a recurring price: three years.
const MAX_INTERVAL_DAYS: i64 = 3 * 365;

/// The parameters of `POST /v1/products`.
pub const PRODUCT_CREATE_PARAMS: &[&str] = &[
    "active",
    "default_price_data[currency]",
    "default_price_data[unit_amount]",
    "default_price_data[unit_amount_decimal]",
    "default_price_data[recurring][interval]",
    "default_price_data[recurring][interval_count]",
    "default_price_data[tax_behavior]",
    "default_price_data[metadata][*]",
    "description",
    "expand[]",
    "id",
    "images[]",
    "marketing_features[][name]",
    "metadata[*]",
    "name",
    "shippable",
    "statement_descriptor",
    "type",
    "unit_label",
    "url",
];

/// The parameters of `POST /v1/products/{id}`.
pub const PRODUCT_UPDATE_PARAMS: &[&str] = &[
    "active",
    "default_price",
    "description",
    "expand[]",
    "images",
    "images[]",
    "marketing_features",
    "marketing_features[][name]",
    "metadata",
    "metadata[*]",
    "name",
    "shippable",
    "statement_descriptor",
    "unit_label",
    "url",
];

/// The parameters of `POST /v1/prices`.
pub const PRICE_CREATE_PARAMS: &[&str] = &[
    "active",
    "billing_scheme",
    "currency",
    "expand[]",
    "lookup_key",
    "metadata[*]",
    "nickname",
    "product",
    "product_data[name]",
    "product_data[active]",
    "product_data[id]",
    "product_data[metadata][*]",
    "product_data[statement_descriptor]",
    "product_data[unit_label]",
    "recurring[interval]",
    "recurring[interval_count]",
    "recurring[usage_type]",
    "tax_behavior",
    "transfer_lookup_key",
    "unit_amount",
    "unit_amount_decimal",
];

/// The parameters of `POST /v1/prices/{id}`.
pub const PRICE_UPDATE_PARAMS: &[&str] = &[
    "active",
    "expand[]",
    "lookup_key",
    "metadata",
    "metadata[*]",
    "nickname",
    "tax_behavior",
    "transfer_lookup_key",
];

fn invalid(param: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid("parameter_invalid_string", param, message)
}

/// A product by id, or Stripe's `resource_missing` naming `param`.
pub fn find_product(tx: &dyn Tx, id: &str, param: &str) -> Result<Product, ApiError> {
    tx.product(id)?
        .ok_or_else(|| ApiError::missing_resource("product", id, param))
}

/// A price by id, or Stripe's `resource_missing` naming `param`.
pub fn find_price(tx: &dyn Tx, id: &str, param: &str) -> Result<Price, ApiError> {
    tx.price(id)?
        .ok_or_else(|| ApiError::missing_resource("price", id, param))
}

/// `images[]`, each a URL of at most 2048 characters, at most 8 of them.
fn images(form: &Form) -> Result<Vec<String>, ApiError> {
    let images: Vec<String> = form
        .array("images")
        .into_iter()
        .map(str::to_owned)
        .collect();
    if images.len() > 8 {
        return Err(invalid("images", "A product may have at most 8 images."));
    }
    if let Some(bad) = images.iter().find(|u| u.chars().count() > 2048) {
        return Err(invalid(
            "images",
            format!("Each image URL must be at most 2048 characters ({bad:.40}...)."),
        ));
    }
    Ok(images)
}

/// `marketing_features[][name]`.
fn marketing_features(form: &Form) -> Vec<Value> {
    form.array_of("marketing_features", "name")
        .into_iter()
        .map(|name| serde_json::json!({ "name": name }))
        .collect()
}

/// `type`: `service` (the default) or `good`.
fn product_type(form: &Form) -> Result<String, ApiError> {
    match form.string("type") {
        None | Some("service") => Ok("service".into()),
        Some("good") => Ok("good".into()),
        Some(other) => Err(invalid(
            "type",
            format!("Invalid type: must be one of service or good (got {other:?})."),
        )),
    }
}

/// `POST /v1/products`: the product, and the price `default_price_data` makes (sent
/// `product.created`, then `price.created`).
pub fn create_product(tx: &dyn Tx, form: &Form, now: i64) -> Result<Product, ApiError> {
    form.check_known(PRODUCT_CREATE_PARAMS)?;
    let name = form
        .string("name")
        .ok_or_else(|| ApiError::missing("name"))?;
    let id = match form.string("id") {
        Some(id) => {
            if tx.product(id)?.is_some() {
                return Err(ApiError::invalid(
                    "resource_already_exists",
                    "id",
                    format!("Product already exists with id {id}."),
                ));
            }
            id.to_owned()
        }
        None => new_id("prod"),
    };
    let mut product = Product {
        seq: 0,
        id,
        object: "product".into(),
        active: form.bool("active")?.unwrap_or(true),
        created: now,
        default_price: None,
        description: form.string("description").map(str::to_owned),
        images: images(form)?,
        livemode: false,
        marketing_features: marketing_features(form),
        metadata: form.metadata()?,
        name: name.to_owned(),
        package_dimensions: None,
        shippable: form.bool("shippable")?,
        statement_descriptor: crate::payments::statement_descriptor_of(
            form,
            "statement_descriptor",
        )?,
        tax_code: None,
        tax_details: None,
        kind: product_type(form)?,
        unit_label: form.string("unit_label").map(str::to_owned),
        updated: now,
        url: form.string("url").map(str::to_owned),
    };
    let price = if form.has("default_price_data") {
        let currency = form
            .string("default_price_data[currency]")
            .ok_or_else(|| ApiError::missing("default_price_data[currency]"))?;
        let fields = PriceFields {
            prefix: "default_price_data",
            currency,
            metadata: form.metadata_of("default_price_data[metadata]")?,
        };
        let price = new_price(form, &fields, &product.id, now)?;
        product.default_price = Some(price.id.clone());
        Some(price)
    } else {
        None
    };
    product.seq = tx.insert_product(&product)?;
    tx.emit("product.created", now, Snapshot::Product(&product))?;
    if let Some(mut price) = price {
        price.seq = tx.insert_price(&price)?;
        tx.emit("price.created", now, Snapshot::Price(&price))?;
    }
    Ok(product)
}

/// `POST /v1/products/{id}`: change what is sent (an empty value unsets an optional
/// field); `product.updated` with what changed.
pub fn update_product(
    tx: &dyn Tx,
    product: &mut Product,
    form: &Form,
    now: i64,
) -> Result<(), ApiError> {
    form.check_known(PRODUCT_UPDATE_PARAMS)?;
    let before = product.render();
    if let Some(a) = form.bool("active")? {
        product.active = a;
    }
    if let Some(name) = form.get("name") {
        if name.is_empty() {
            return Err(invalid("name", "A product's name cannot be empty."));
        }
        product.name = name.to_owned();
    }
    if let Some(price) = form.update("default_price") {
        if let Some(id) = &price {
            let p = find_price(tx, id, "default_price")?;
            if p.product != product.id {
                return Err(invalid(
                    "default_price",
                    format!(
                        "The price {id} belongs to the product {}, not to {}.",
                        p.product, product.id
                    ),
                ));
            }
            if !p.active {
                return Err(invalid(
                    "default_price",
                    format!(
                        "The price {id} is archived (active=false): an archived price cannot be a default price."
                    ),
                ));
            }
        }
        product.default_price = price;
    }
    for (name, field) in [
        ("description", &mut product.description),
        ("unit_label", &mut product.unit_label),
        ("url", &mut product.url),
    ] {
        if let Some(v) = form.update(name) {
            *field = v;
        }
    }
    if form.get("statement_descriptor").is_some() {
        product.statement_descriptor =
            crate::payments::statement_descriptor_of(form, "statement_descriptor")?;
    }
    if let Some(s) = form.get("shippable") {
        product.shippable = if s.is_empty() {
            None
        } else {
            form.bool("shippable")?
        };
    }
    if form.get("images").is_some_and(str::is_empty) {
        product.images.clear();
    } else if form.has("images") {
        product.images = images(form)?;
    }
    if form.get("marketing_features").is_some_and(str::is_empty) {
        product.marketing_features.clear();
    } else if form.has("marketing_features") {
        product.marketing_features = marketing_features(form);
    }
    form.merge_metadata(&mut product.metadata)?;
    if previous_attributes(&before, &product.render()).is_some() {
        // A change moves `updated`, which the event's previous_attributes show too.
        product.updated = now;
    }
    if let Some(previous) = previous_attributes(&before, &product.render()) {
        tx.update_product(product)?;
        tx.emit_update(
            "product.updated",
            now,
            Snapshot::Product(product),
            Some(&previous.to_string()),
        )?;
    }
    Ok(())
}

/// `DELETE /v1/products/{id}`: only a product without prices (Stripe keeps prices forever),
/// else Stripe's refusal; `product.deleted`.
pub fn delete_product(tx: &dyn Tx, product: &Product, now: i64) -> Result<Value, ApiError> {
    if tx.count_prices_of(&product.id)? > 0 {
        // Stripe's answer, no code (lukasaron/terraform-provider-stripe#60 quotes it).
        return Err(ApiError {
            code: None,
            ..invalid(
                "",
                "This product cannot be deleted because it has one or more user-created prices.",
            )
        });
    }
    tx.delete_product(&product.id)?;
    tx.emit("product.deleted", now, Snapshot::Product(product))?;
    Ok(serde_json::json!({"id": product.id, "object": "product", "deleted": true}))
}

/// Where a new price's own parameters are (`unit_amount`, `recurring[...]`...): at the top
/// (`POST /v1/prices`) or under `default_price_data`.
struct PriceFields<'a> {
    prefix: &'a str,
    currency: &'a str,
    metadata: BTreeMap<String, String>,
}

impl PriceFields<'_> {
    fn name(&self, field: &str) -> String {
        if self.prefix.is_empty() {
            field.to_owned()
        } else {
            match field.split_once('[') {
                Some((head, rest)) => format!("{}[{head}][{rest}", self.prefix),
                None => format!("{}[{field}]", self.prefix),
            }
        }
    }
}

/// A new price of `product` from `fields`' parameters: yen only, an amount of 0 to
/// 99,999,999, optionally recurring.
fn new_price(
    form: &Form,
    fields: &PriceFields<'_>,
    product: &str,
    now: i64,
) -> Result<Price, ApiError> {
    let currency = fields.currency.to_ascii_lowercase();
    if currency != CURRENCY {
        return Err(ApiError::invalid(
            "parameter_invalid_string",
            &fields.name("currency"),
            format!(
                "Invalid currency: {currency}. This network's payments are konbini payments, which take only jpy: a price must be in jpy."
            ),
        ));
    }
    let p_amount = fields.name("unit_amount");
    let p_decimal = fields.name("unit_amount_decimal");
    let amount = match (form.int(&p_amount)?, form.string(&p_decimal)) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                &p_decimal,
                "You may only specify one of these parameters: unit_amount, unit_amount_decimal.",
            ));
        }
        (Some(a), None) => a,
        (None, Some(d)) => {
            // Yen has no minor unit: a decimal amount must be whole.
            let whole = d.strip_suffix(".0").unwrap_or(d);
            whole.parse::<i64>().map_err(|_| {
                ApiError::invalid(
                    "parameter_invalid_string",
                    &p_decimal,
                    format!("Invalid decimal: {d} (a yen amount is a whole number)."),
                )
            })?
        }
        (None, None) => return Err(ApiError::missing(&p_amount)),
    };
    if !(0..=MAX_UNIT_AMOUNT).contains(&amount) {
        return Err(ApiError::invalid(
            "parameter_invalid_integer",
            &p_amount,
            format!("unit_amount must be between 0 and {MAX_UNIT_AMOUNT} (got {amount})."),
        ));
    }
    let recurring = recurring(form, fields)?;
    let p_tax = fields.name("tax_behavior");
    let tax_behavior = match form.string(&p_tax) {
        None => None,
        Some(t @ ("inclusive" | "exclusive" | "unspecified")) => Some(t.to_owned()),
        Some(other) => {
            return Err(invalid(
                &p_tax,
                format!(
                    "Invalid tax_behavior: must be one of inclusive, exclusive or unspecified (got {other:?})."
                ),
            ));
        }
    };
    Ok(Price {
        seq: 0,
        id: new_id("price"),
        object: "price".into(),
        active: true,
        billing_scheme: "per_unit".into(),
        created: now,
        currency,
        custom_unit_amount: None,
        livemode: false,
        lookup_key: None,
        metadata: fields.metadata.clone(),
        nickname: None,
        product: product.to_owned(),
        kind: if recurring.is_some() {
            "recurring".into()
        } else {
            "one_time".into()
        },
        recurring,
        tax_behavior: tax_behavior.or_else(|| Some("unspecified".into())),
        tiers_mode: None,
        transform_quantity: None,
        unit_amount: Some(amount),
        unit_amount_decimal: Some(amount.to_string()),
    })
}

/// `recurring[interval|interval_count|usage_type]`, if sent.
fn recurring(form: &Form, fields: &PriceFields<'_>) -> Result<Option<Recurring>, ApiError> {
    let p_interval = fields.name("recurring[interval]");
    let p_count = fields.name("recurring[interval_count]");
    let p_usage = fields.name("recurring[usage_type]");
    if !form.has(&fields.name("recurring")) {
        return Ok(None);
    }
    let interval = form
        .string(&p_interval)
        .ok_or_else(|| ApiError::missing(&p_interval))?;
    let days = match interval {
        "day" => 1,
        "week" => 7,
        "month" => 31,
        "year" => 365,
        other => {
            return Err(invalid(
                &p_interval,
                format!(
                    "Invalid interval: must be one of day, week, month or year (got {other:?})."
                ),
            ));
        }
    };
    let count = form.int(&p_count)?.unwrap_or(1);
    if count < 1 || count * days > MAX_INTERVAL_DAYS + 3 {
        return Err(ApiError::invalid(
            "parameter_invalid_integer",
            &p_count,
            format!(
                "interval_count must be at least 1, and the period at most three years (3 years, 36 months, 156 weeks or 1095 days); got {count} {interval}."
            ),
        ));
    }
    match form.string(&p_usage) {
        None | Some("licensed") => {}
        Some("metered") => {
            return Err(invalid(
                &p_usage,
                "Metered prices bill what a billing meter counts; this network keeps no meters, so only licensed prices can be made.",
            ));
        }
        Some(other) => {
            return Err(invalid(
                &p_usage,
                format!("Invalid usage_type: must be licensed or metered (got {other:?})."),
            ));
        }
    }
    Ok(Some(Recurring {
        interval: interval.to_owned(),
        interval_count: count,
        meter: None,
        trial_period_days: None,
        usage_type: "licensed".into(),
    }))
}

/// Give `price` the lookup key `key` (or none): a key held by another price is refused,
/// unless `transfer` moves it from that price (whose `price.updated` is sent).
fn set_lookup_key(
    tx: &dyn Tx,
    price: &mut Price,
    key: Option<String>,
    transfer: bool,
    now: i64,
) -> Result<(), ApiError> {
    if let Some(k) = &key {
        if k.chars().count() > LOOKUP_KEY_MAX_CHARS {
            return Err(invalid(
                "lookup_key",
                format!("A lookup key must be at most {LOOKUP_KEY_MAX_CHARS} characters."),
            ));
        }
        if let Some(mut holder) = tx.price_by_lookup_key(k)?
            && holder.id != price.id
        {
            if !transfer {
                return Err(invalid(
                    "lookup_key",
                    format!(
                        "A price ({}) already uses the lookup key {k:?}; send transfer_lookup_key=true to move it to this price.",
                        holder.id
                    ),
                ));
            }
            let before = holder.render();
            holder.lookup_key = None;
            tx.update_price(&holder)?;
            let previous = previous_attributes(&before, &holder.render()).map(|p| p.to_string());
            tx.emit_update(
                "price.updated",
                now,
                Snapshot::Price(&holder),
                previous.as_deref(),
            )?;
        }
    }
    price.lookup_key = key;
    Ok(())
}

/// `POST /v1/prices`: a price of `product` (or of a new product made from
/// `product_data`); `price.created` (after `product.created` for a new product).
pub fn create_price(tx: &dyn Tx, form: &Form, now: i64) -> Result<Price, ApiError> {
    form.check_known(PRICE_CREATE_PARAMS)?;
    let currency = form
        .string("currency")
        .ok_or_else(|| ApiError::missing("currency"))?;
    if let Some(scheme) = form.string("billing_scheme")
        && scheme != "per_unit"
    {
        return Err(invalid(
            "billing_scheme",
            format!(
                "Only per_unit prices can be made here (got {scheme:?}): tiered prices are not kept."
            ),
        ));
    }
    let product_id = match (form.string("product"), form.has("product_data")) {
        (Some(_), true) => {
            return Err(invalid(
                "product_data",
                "You may only specify one of these parameters: product, product_data.",
            ));
        }
        (Some(id), false) => find_product(tx, id, "product")?.id,
        (None, true) => String::new(),
        (None, false) => return Err(ApiError::missing("product")),
    };
    let fields = PriceFields {
        prefix: "",
        currency,
        metadata: form.metadata()?,
    };
    let mut price = new_price(form, &fields, &product_id, now)?;
    price.active = form.bool("active")?.unwrap_or(true);
    price.nickname = form.string("nickname").map(str::to_owned);
    let transfer = form.bool("transfer_lookup_key")?.unwrap_or(false);
    let key = form.string("lookup_key").map(str::to_owned);
    if product_id.is_empty() {
        let name = form
            .string("product_data[name]")
            .ok_or_else(|| ApiError::missing("product_data[name]"))?;
        let product = Product {
            seq: 0,
            id: match form.string("product_data[id]") {
                Some(id) if tx.product(id)?.is_some() => {
                    return Err(ApiError::invalid(
                        "resource_already_exists",
                        "product_data[id]",
                        format!("Product already exists with id {id}."),
                    ));
                }
                Some(id) => id.to_owned(),
                None => new_id("prod"),
            },
            object: "product".into(),
            active: form.bool("product_data[active]")?.unwrap_or(true),
            created: now,
            default_price: None,
            description: None,
            images: Vec::new(),
            livemode: false,
            marketing_features: Vec::new(),
            metadata: form.metadata_of("product_data[metadata]")?,
            name: name.to_owned(),
            package_dimensions: None,
            shippable: None,
            statement_descriptor: crate::payments::statement_descriptor_of(
                form,
                "product_data[statement_descriptor]",
            )?,
            tax_code: None,
            tax_details: None,
            kind: "service".into(),
            unit_label: form.string("product_data[unit_label]").map(str::to_owned),
            updated: now,
            url: None,
        };
        tx.insert_product(&product)?;
        tx.emit("product.created", now, Snapshot::Product(&product))?;
        price.product = product.id;
    }
    set_lookup_key(tx, &mut price, key, transfer, now)?;
    price.seq = tx.insert_price(&price)?;
    tx.emit("price.created", now, Snapshot::Price(&price))?;
    Ok(price)
}

/// `POST /v1/prices/{id}`: `active`, `lookup_key`, `metadata`, `nickname`, `tax_behavior`
/// (its amount, currency and period never change); `price.updated` with what changed.
pub fn update_price(tx: &dyn Tx, price: &mut Price, form: &Form, now: i64) -> Result<(), ApiError> {
    form.check_known(PRICE_UPDATE_PARAMS)?;
    let before = price.render();
    if let Some(a) = form.bool("active")? {
        price.active = a;
    }
    if let Some(n) = form.update("nickname") {
        price.nickname = n;
    }
    if let Some(t) = form.string("tax_behavior") {
        if !matches!(t, "inclusive" | "exclusive" | "unspecified") {
            return Err(invalid(
                "tax_behavior",
                format!(
                    "Invalid tax_behavior: must be one of inclusive, exclusive or unspecified (got {t:?})."
                ),
            ));
        }
        let current = price.tax_behavior.as_deref().unwrap_or("unspecified");
        if current != "unspecified" && current != t {
            return Err(invalid(
                "tax_behavior",
                format!(
                    "The tax_behavior of a price can be set once, from unspecified; it is {current}."
                ),
            ));
        }
        price.tax_behavior = Some(t.to_owned());
    }
    form.merge_metadata(&mut price.metadata)?;
    if let Some(key) = form.update("lookup_key") {
        let transfer = form.bool("transfer_lookup_key")?.unwrap_or(false);
        set_lookup_key(tx, price, key, transfer, now)?;
    }
    if let Some(previous) = previous_attributes(&before, &price.render()) {
        tx.update_price(price)?;
        tx.emit_update(
            "price.updated",
            now,
            Snapshot::Price(price),
            Some(&previous.to_string()),
        )?;
    }
    Ok(())
}
