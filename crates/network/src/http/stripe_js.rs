//! `GET /js/v3/stripe.js`: the Stripe.js stand-in a merchant's page loads from the network
//! instead of `https://js.stripe.com/v3/` (`stripe.js` beside this file): `Stripe(pk)`,
//! `confirmKonbiniPayment` and `retrievePaymentIntent` as Stripe.js defines them, calling
//! the merchant API with the publishable key. The script is part of the binary; this module
//! only serves it and never reads a file at run time.

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::Network;

/// The script, as built into the binary.
pub(super) const SCRIPT: &str = include_str!("stripe.js");

/// Where a page loads it from (the network's base address first).
pub(super) const PATH: &str = "/js/v3/stripe.js";

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new().route(PATH, get(script))
}

async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            // Short, as js.stripe.com's: a page picks up a new network's script within minutes.
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // Any merchant's page may load it, also as a module or with integrity checks.
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        SCRIPT,
    )
}
