//! The network's HTTP surface (axum): `/health`; the Stripe-compatible merchant API under
//! `/v1`, one module per resource (`payment_intents`, `charges`, `refunds`, `customers`,
//! `payment_methods`, `products`, `prices`, `checkout_sessions`, `payment_links`,
//! `webhook_endpoints`, `events`, `test_helpers`), all through `merchant`, which gives every
//! request the same treatment (and `search` for every `/search`); the signed terminal API
//! under `/terminal/v1` (`terminal`); the customer pages `/vouchers/...` and `/refunds/...`
//! (`pages`), `/checkout/...` and `/pay/...` (`checkout_pages`). A merchant's page loads the
//! Stripe.js stand-in from `/js/v3/stripe.js` (`stripe_js`) and calls the API with the
//! publishable key (`publishable`), across origins (`cors`).

mod charges;
mod checkout_pages;
mod checkout_sessions;
mod cors;
mod customers;
mod events;
mod expand;
mod merchant;
mod pages;
mod payment_intents;
mod payment_links;
mod payment_methods;
mod prices;
mod products;
mod publishable;
mod refunds;
mod resource;
mod search;
pub(crate) mod server;
mod stripe_js;
mod terminal;
mod test_helpers;
mod webhook_endpoints;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::json;

use crate::Network;
pub(crate) use terminal::Uploads;

pub(crate) fn router(net: Arc<Network>) -> Router {
    let merchant_api = Router::new()
        .merge(payment_intents::routes())
        .merge(charges::routes())
        .merge(customers::routes())
        .merge(payment_methods::routes())
        .merge(products::routes())
        .merge(prices::routes())
        .merge(refunds::routes())
        .merge(webhook_endpoints::routes())
        .merge(events::routes())
        .merge(test_helpers::routes())
        .merge(checkout_sessions::routes())
        .merge(payment_links::routes())
        // A known URL with another method is an unknown request to Stripe, not a 405.
        .method_not_allowed_fallback(merchant::unknown_url);
    Router::new()
        .route(
            "/health",
            get(|net: axum::extract::State<Arc<Network>>| async move {
                // This node's own counts (several nodes share one store, not these).
                axum::Json(json!({
                    "status": "ok",
                    "confirmations": net
                        .confirmations_seen
                        .load(std::sync::atomic::Ordering::Relaxed),
                    // Terminal uploads whose bodies are being read now.
                    "uploads": net.uploads.in_progress(),
                }))
            }),
        )
        .merge(merchant_api)
        .merge(terminal::routes())
        .merge(pages::routes())
        .merge(checkout_pages::routes())
        .merge(stripe_js::routes())
        .fallback(merchant::unknown_url)
        .layer(axum::middleware::from_fn(cors::layer))
        .with_state(net)
}

/// The most an oversized body is read (and discarded) before the connection is dropped.
const DRAIN_LIMIT_BYTES: usize = 4 * 1024 * 1024;

/// Why a body was not read: its status (413 too large, 408 too slow, 400 unreadable) and a
/// sentence.
pub(crate) struct BodyError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

/// Read a body up to `limit` bytes within `timeout`; more is refused, not buffered. An
/// oversized body is read and thrown away (up to [`DRAIN_LIMIT_BYTES`]) so the client, still
/// sending, gets the 413 answer rather than a reset connection. A body that has not arrived
/// whole within `timeout` (a client that stalls, or trickles) is a 408.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    use http_body_util::BodyExt;
    let too_big = || BodyError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "request_too_large",
        message: format!("The request body is larger than {limit} bytes."),
    };
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT_BYTES) {
        // Known too big before a byte is read: refused at once, and the connection closed.
        return Err(too_big());
    }
    let mut body = body;
    let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    let mut seen = 0usize;
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError {
                status: StatusCode::BAD_REQUEST,
                code: "invalid_request",
                message: format!("The request body could not be read: {e}."),
            })?;
            if let Ok(data) = frame.into_data() {
                seen += data.len();
                if seen > DRAIN_LIMIT_BYTES {
                    return Err(too_big());
                }
                if seen <= limit {
                    buf.extend_from_slice(&data);
                }
            }
        }
        Ok(())
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(r) => r?,
        Err(_) => {
            return Err(BodyError {
                status: StatusCode::REQUEST_TIMEOUT,
                code: "request_timeout",
                message: format!(
                    "The request body did not arrive within {} s.",
                    timeout.as_secs()
                ),
            });
        }
    }
    if seen > limit {
        return Err(too_big());
    }
    Ok(Bytes::from(buf))
}
