//! The network's HTTP surface (axum): `/health`; the Stripe-compatible merchant API under
//! `/v1`, one module per resource (`payment_intents`, `charges`, `refunds`,
//! `webhook_endpoints`, `events`, `test_helpers`), all through `merchant`, which gives every
//! request the same treatment; the signed terminal API under `/terminal/v1` (`terminal`);
//! and the customer pages `/vouchers/...` and `/refunds/...` (`pages`).

mod charges;
mod events;
mod merchant;
mod pages;
mod payment_intents;
mod refunds;
mod terminal;
mod test_helpers;
mod webhook_endpoints;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::json;

use crate::Network;

pub(crate) fn router(net: Arc<Network>) -> Router {
    let merchant_api = Router::new()
        .merge(payment_intents::routes())
        .merge(charges::routes())
        .merge(refunds::routes())
        .merge(webhook_endpoints::routes())
        .merge(events::routes())
        .merge(test_helpers::routes())
        // A known URL with another method is an unknown request to Stripe, not a 405.
        .method_not_allowed_fallback(merchant::unknown_url);
    Router::new()
        .route(
            "/health",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .merge(merchant_api)
        .merge(terminal::routes())
        .merge(pages::routes())
        .fallback(merchant::unknown_url)
        .with_state(net)
}

/// The most an oversized body is read (and discarded) before the connection is dropped.
const DRAIN_LIMIT_BYTES: usize = 4 * 1024 * 1024;

/// Read a body up to `limit` bytes; more is refused, not buffered. An oversized body is
/// read and thrown away (up to [`DRAIN_LIMIT_BYTES`]) so the client, still sending, gets the
/// 413 answer rather than a reset connection.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, String> {
    use http_body_util::BodyExt;
    let too_big = || format!("The request body is larger than {limit} bytes.");
    let mut body = body;
    let mut buf = Vec::new();
    let mut seen = 0usize;
    let declared = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT_BYTES) {
        return Err(too_big());
    }
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| format!("The request body could not be read: {e}."))?;
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
    if seen > limit {
        return Err(too_big());
    }
    Ok(Bytes::from(buf))
}
