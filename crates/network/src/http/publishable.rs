//! What the merchant's publishable key (`pk_test_...`) may do: what Stripe lets a browser
//! do with it, no more. A page holding a PaymentIntent's `client_secret` may retrieve and
//! confirm that PaymentIntent, and is answered only the fields Stripe shows a publishable
//! key; every other call is Stripe's 401 `secret_key_required`.
//!
//! This module must never widen what a publishable key reaches: a new route is secret-only
//! unless it is listed in [`may_call`].

use axum::http::{Method, StatusCode};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::form::Form;
use crate::objects::PaymentIntent;

/// Whether a publishable key may make this call (design brief 7.3, from Stripe.js's own
/// calls): retrieve a PaymentIntent (with its `client_secret`), confirm it (likewise), and
/// create a PaymentMethod (where the network has that route).
pub(super) fn may_call(method: &Method, path: &str) -> bool {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match (method, segs.as_slice()) {
        (&Method::GET, ["", "v1", "payment_intents", id]) => *id != "search",
        (&Method::POST, ["", "v1", "payment_intents", _, "confirm"]) => true,
        (&Method::POST, ["", "v1", "payment_methods"]) => true,
        _ => false,
    }
}

/// Stripe's answer to a publishable key where only a secret key may go: 401, code
/// `secret_key_required` (the text as Stripe sends it; stripe-python raises it as an
/// `AuthenticationError`).
pub(super) fn secret_key_required() -> ApiError {
    ApiError {
        status: StatusCode::UNAUTHORIZED,
        code: Some("secret_key_required"),
        ..ApiError::unauthorized(
            "This API call cannot be made with a publishable API key. Please use a secret API key. You can find a list of your API keys at https://dashboard.stripe.com/account/apikeys.",
        )
    }
}

/// A publishable key's call on a PaymentIntent must carry its `client_secret`: missing is
/// `parameter_missing`, another payment's (or a made-up one) is the 400 Stripe sends (its
/// text; the code as hyperswitch's Stripe layer answers it).
pub(super) fn check_client_secret(form: &Form, pi: &PaymentIntent) -> Result<(), ApiError> {
    let given = form
        .string("client_secret")
        .ok_or_else(|| ApiError::missing("client_secret"))?;
    if !super::merchant::same_key(given, &pi.client_secret) {
        return Err(ApiError::invalid(
            "payment_intent_invalid_parameter",
            "client_secret",
            "The client_secret provided does not match the client_secret associated with the PaymentIntent.",
        ));
    }
    Ok(())
}

/// The PaymentIntent fields a publishable key is shown: Stripe.js's client-side
/// PaymentIntent type (stripe-js `types/api/payment-intents.d.ts`) and the fields Stripe's
/// API reference marks "retrievable with publishable key" (`automatic_payment_methods`,
/// `processing`). Not `customer`, `metadata`, `latest_charge`, `payment_method_options`,
/// `amount_received`, ...
pub(super) const PUBLISHABLE_FIELDS: &[&str] = &[
    "id",
    "object",
    "amount",
    "automatic_payment_methods",
    "canceled_at",
    "cancellation_reason",
    "capture_method",
    "client_secret",
    "confirmation_method",
    "created",
    "currency",
    "description",
    "last_payment_error",
    "livemode",
    "next_action",
    "payment_method",
    "payment_method_types",
    "processing",
    "receipt_email",
    "setup_future_usage",
    "shipping",
    "status",
];

/// A rendered PaymentIntent cut to [`PUBLISHABLE_FIELDS`].
pub(super) fn subset(full: Value) -> Value {
    let Value::Object(mut all) = full else {
        return full;
    };
    let mut out = Map::new();
    for field in PUBLISHABLE_FIELDS {
        if let Some(v) = all.remove(*field) {
            out.insert((*field).to_owned(), v);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publishable_key_reaches_only_a_payment_intent_and_new_payment_methods() {
        assert!(may_call(&Method::GET, "/v1/payment_intents/pi_123"));
        assert!(may_call(
            &Method::POST,
            "/v1/payment_intents/pi_123/confirm"
        ));
        assert!(may_call(&Method::POST, "/v1/payment_methods"));
        for (m, p) in [
            (Method::GET, "/v1/payment_intents"),
            (Method::POST, "/v1/payment_intents"),
            (Method::GET, "/v1/payment_intents/search"),
            (Method::POST, "/v1/payment_intents/pi_123"),
            (Method::POST, "/v1/payment_intents/pi_123/cancel"),
            (Method::GET, "/v1/customers"),
            (Method::GET, "/v1/events"),
            (Method::POST, "/v1/refunds"),
            (Method::POST, "/v1/webhook_endpoints"),
            (Method::POST, "/v1/test_helpers/clock"),
            (Method::GET, "/v1/payment_intents/pi_123/confirm"),
            (Method::DELETE, "/v1/payment_intents/pi_123"),
        ] {
            assert!(!may_call(&m, p), "{m} {p}");
        }
    }

    #[test]
    fn the_subset_keeps_only_what_stripe_shows_a_publishable_key() {
        let full = serde_json::json!({
            "id": "pi_1", "object": "payment_intent", "amount": 1200, "status": "requires_action",
            "client_secret": "pi_1_secret_x", "metadata": {"order": "42"}, "customer": "cus_1",
            "latest_charge": null, "payment_method_options": {}, "amount_received": 0,
        });
        let cut = subset(full);
        let mut keys: Vec<&str> = cut
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["amount", "client_secret", "id", "object", "status"],
            "{cut}"
        );
    }
}
