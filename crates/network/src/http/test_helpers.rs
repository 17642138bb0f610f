//! `/v1/test_helpers`: what a test needs that Stripe's test mode also offers (refunds'
//! bank details and expiry, a movable clock) and what only a simulator can show (a
//! terminal's journal chain, every webhook delivery).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::merchant::{self, MerchantRequest, Reply};
use crate::clock::Clock;
use crate::error::ApiError;
use crate::objects::RefundStatus;
use crate::{CLOCK_META_KEY, Network, payments, terminal};

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/test_helpers/refunds/{id}/expire", post(expire_refund))
        .route(
            "/v1/test_helpers/refunds/{id}/bank_details",
            post(refund_bank_details),
        )
        .route("/v1/test_helpers/clock", get(clock).post(move_clock))
        .route("/v1/test_helpers/terminals", post(register_terminal))
        .route("/v1/test_helpers/terminals/{id}/chain", get(terminal_chain))
        .route("/v1/test_helpers/deliveries", get(deliveries))
}

/// Register a terminal in the store (`id`, `secret`), or give it a new secret: every node
/// over the same database knows it (`konbini fleet` registers its registers so). A terminal
/// of the `--terminal` flags keeps its flag's secret.
async fn register_terminal(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    let registered = Arc::new(std::sync::Mutex::new(None));
    let seen = registered.clone();
    let answer = merchant::run(net.clone(), req, move |tx, cx| {
        cx.form.check_known(&["id", "secret"])?;
        let id = cx
            .form
            .string("id")
            .ok_or_else(|| ApiError::missing("id"))?;
        let secret = cx
            .form
            .string("secret")
            .ok_or_else(|| ApiError::missing("secret"))?;
        if id.is_empty()
            || id.len() > 64
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ApiError::invalid(
                "parameter_invalid_string",
                "id",
                "A terminal id is 1-64 characters of A-Z, a-z, 0-9, '-' and '_'.",
            ));
        }
        if !(16..=256).contains(&secret.len()) {
            return Err(ApiError::invalid(
                "parameter_invalid_string",
                "secret",
                "A terminal secret is 16-256 characters.",
            ));
        }
        tx.put_terminal(id, secret, cx.now)?;
        *seen.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((id.to_owned(), Arc::<str>::from(secret)));
        Ok(Reply::changed(
            json!({"object": "terminal", "id": id, "created": cx.now}),
            false,
        ))
    })
    .await;
    // Known at once on this node; the others read it from the store.
    if let Some((id, secret)) = registered.lock().unwrap_or_else(|e| e.into_inner()).take() {
        net.remember_terminal(&id, Some(secret));
    }
    answer
}

async fn expire_refund(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        cx.form.check_known(&["expand[]"])?;
        let mut r = tx
            .refund(&id)?
            .ok_or_else(|| ApiError::missing_resource("refund", &id, "refund"))?;
        if r.status != RefundStatus::RequiresAction {
            return Err(ApiError::invalid(
                "refund_unexpected_state",
                "",
                format!(
                    "Only a refund in requires_action can expire; this one is {}.",
                    r.status.as_str()
                ),
            )
            .executing());
        }
        payments::fail_refund(tx, &mut r, "expired_or_canceled_card", cx.now)?;
        Ok(Reply::changed(
            r.render(&cx.net.settings().public_url),
            false,
        ))
    })
    .await
}

async fn refund_bank_details(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        let form = cx.form;
        form.check_known(&["routing_number", "account_number", "account_holder_name"])?;
        let mut r = tx
            .refund(&id)?
            .ok_or_else(|| ApiError::missing_resource("refund", &id, "refund"))?;
        payments::submit_bank_details(
            tx,
            &mut r,
            form.string("routing_number").unwrap_or(""),
            form.string("account_number").unwrap_or(""),
            cx.now,
        )?;
        Ok(Reply::changed(
            r.render(&cx.net.settings().public_url),
            true,
        ))
    })
    .await
}

/// The test clock as answered: now on it, and its offset from the wall clock.
fn clock_json(now: i64, offset_ms: i64) -> Value {
    json!({"object": "test_clock", "now": now, "offset_ms": offset_ms})
}

async fn clock(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |_, cx| {
        Ok(Reply::ok(clock_json(
            cx.net.clock.unix(),
            cx.net.clock.offset_ms(),
        )))
    })
    .await
}

/// Move the clock. The new offset is worked out from the stored one and set inside the
/// write transaction, so two requests at once move it twice, in the order they commit.
async fn move_clock(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        let form = cx.form;
        form.check_known(&["advance_seconds", "now"])?;
        let clock = &cx.net.clock;
        let stored = tx
            .meta(CLOCK_META_KEY)?
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or_else(|| clock.offset_ms());
        let offset = match (form.int("advance_seconds")?, form.int("now")?) {
            (Some(secs), None) => Clock::offset_advanced(stored, secs),
            (None, Some(t)) => clock.offset_for_unix(t),
            _ => {
                return Err(ApiError::invalid(
                    "parameter_missing",
                    "advance_seconds",
                    "Give exactly one of advance_seconds and now.",
                ));
            }
        };
        // Where the offset would put the clock now: only between the bounds in which the
        // network can issue vouchers (a bill barcode's deadline year is 2000-2099).
        let target = clock.base().timestamp() + offset / 1000;
        if !(crate::clock::EARLIEST_UNIX..=crate::clock::LATEST_UNIX).contains(&target) {
            let param = if form.int("now")?.is_some() {
                "now"
            } else {
                "advance_seconds"
            };
            return Err(ApiError::invalid(
                "parameter_invalid_integer",
                param,
                format!(
                    "The clock can be moved to times between {} and {} (a bill barcode's deadline year is 2000-2099); this would put it at {target}.",
                    crate::clock::EARLIEST,
                    crate::clock::LATEST
                ),
            ));
        }
        tx.set_meta(CLOCK_META_KEY, &offset.to_string())?;
        clock.set_offset_ms(offset);
        Ok(Reply::changed(clock_json(clock.unix(), offset), true))
    })
    .await
}

async fn terminal_chain(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, _| {
        Ok(Reply::ok(
            terminal::chain_report(tx, &id).map_err(|e| ApiError::internal(e.message))?,
        ))
    })
    .await
}

async fn deliveries(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, _| {
        let rows: Vec<Value> = tx
            .delivery_report()?
            .into_iter()
            .map(|d| {
                json!({"event": d.event, "endpoint": d.endpoint, "delivered": d.delivered, "attempts": d.attempts, "last_status": d.last_status, "last_error": d.last_error})
            })
            .collect();
        Ok(Reply::ok(json!({"object": "list", "data": rows})))
    })
    .await
}
