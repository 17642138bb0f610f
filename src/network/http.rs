//! The network's HTTP surface (axum): `/health`, the Stripe-compatible merchant API under
//! `/v1`, the signed terminal API under `/terminal/v1`, and the customer pages
//! (`/vouchers/...`, `/refunds/...`).
//!
//! The merchant API goes through one dispatcher so that every request gets the same
//! treatment: a bearer key, a size-limited form body, Stripe-shaped errors (an unknown URL
//! included), and `Idempotency-Key` replay checked and saved in the same store transaction
//! as the work itself.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::{Value, json};

use super::error::{ApiError, TerminalError};
use super::form::Form;
use super::ids::{new_id, random_alnum};
use super::objects::WebhookEndpoint;
use super::payments;
use super::store::Tx;
use super::{MAX_MERCHANT_BODY_BYTES, MAX_TERMINAL_BODY_BYTES, Network, terminal, voucher};

pub(super) fn router(net: Arc<Network>) -> Router {
    Router::new()
        .route(
            "/health",
            get(|| async { axum::Json(json!({"status": "ok"})) }),
        )
        .route("/v1/{*rest}", any(v1))
        .route("/terminal/v1/lookup", get(terminal_lookup))
        .route("/terminal/v1/confirmations", post(terminal_confirmations))
        .route("/terminal/v1/chain", get(terminal_chain))
        .route("/vouchers/{token}", get(voucher_page))
        .route("/refunds/{token}", get(refund_page).post(refund_submit))
        .with_state(net)
}

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

/// The most an oversized body is read (and discarded) before the connection is dropped.
const DRAIN_LIMIT_BYTES: usize = 4 * 1024 * 1024;

fn check_key(net: &Network, headers: &HeaderMap) -> Result<(), ApiError> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let key = auth.strip_prefix("Bearer ").map(str::trim);
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Err(ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        ));
    };
    if key != net.settings.api_key {
        let tail: String = key
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(ApiError::unauthorized(format!(
            "Invalid API Key provided: sk_test_****{tail}"
        )));
    }
    Ok(())
}

/// What a merchant request produced.
struct Answer {
    status: StatusCode,
    body: Value,
    wake_scheduler: bool,
    wake_webhooks: bool,
}

impl Answer {
    fn ok(body: Value) -> Answer {
        Answer {
            status: StatusCode::OK,
            body,
            wake_scheduler: false,
            wake_webhooks: false,
        }
    }

    fn changed(body: Value, wake_scheduler: bool) -> Answer {
        Answer {
            status: StatusCode::OK,
            body,
            wake_scheduler,
            wake_webhooks: true,
        }
    }
}

fn json_response(status: StatusCode, body: String, replayed: bool) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert(
        "request-id",
        HeaderValue::from_str(&format!("req_{}", random_alnum(14))).expect("ascii"),
    );
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    r
}

async fn v1(
    State(net): State<Arc<Network>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match v1_inner(net, method, uri, headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn v1_inner(
    net: Arc<Network>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_key(&net, &headers)?;
    let bytes = read_body(&headers, body, MAX_MERCHANT_BODY_BYTES)
        .await
        .map_err(|m| {
            ApiError::invalid("request_too_large", "", m).with_status(StatusCode::PAYLOAD_TOO_LARGE)
        })?;
    let form = if method == Method::GET || method == Method::DELETE {
        Form::parse(uri.query().unwrap_or("").as_bytes())?
    } else {
        Form::parse(&bytes)?
    };
    let key = if method == Method::POST {
        headers
            .get("idempotency-key")
            .map(|v| {
                v.to_str()
                    .ok()
                    .filter(|k| !k.is_empty() && k.len() <= 255)
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "idempotency_key_invalid",
                            "",
                            "The Idempotency-Key header must be 1-255 visible ASCII characters.",
                        )
                    })
            })
            .transpose()?
    } else {
        None
    };
    let path = uri.path().to_owned();
    let fingerprint = format!("{method} {path}?{}", form.fingerprint());
    let n = net.clone();
    let answer = tokio::task::spawn_blocking(move || {
        let now = n.clock.unix();
        n.with_store(|store| -> Result<(StatusCode, String, bool, bool, bool), ApiError> {
            let tx = store.write()?;
            if let Some(k) = &key
                && let Some(saved) = tx.idempotent(k)?
            {
                if saved.fingerprint != fingerprint {
                    return Err(ApiError {
                        kind: "idempotency_error",
                        ..ApiError::invalid(
                            "idempotency_key_in_use",
                            "",
                            format!("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{k}' if you meant to execute a different request."),
                        )
                    });
                }
                let status = StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK);
                return Ok((status, saved.body, true, false, false));
            }
            let segs: Vec<&str> = path.trim_start_matches('/').split('/').skip(1).collect();
            match dispatch(&tx, &n, &method, &segs, &form, now) {
                Ok(a) => {
                    let body = a.body.to_string();
                    if let Some(k) = &key {
                        tx.save_idempotent(k, &fingerprint, a.status.as_u16(), &body, now)?;
                    }
                    tx.commit()?;
                    Ok((a.status, body, false, a.wake_scheduler, a.wake_webhooks))
                }
                Err(e) => {
                    drop(tx);
                    if e.executing
                        && let Some(k) = &key
                    {
                        let tx = store.write()?;
                        tx.save_idempotent(k, &fingerprint, e.status.as_u16(), &e.body().to_string(), now)?;
                        tx.commit()?;
                    }
                    Err(e)
                }
            }
        })
    })
    .await
    .map_err(|e| ApiError::internal(format!("the request's task failed: {e}")))??;
    let (status, body, replayed, wake_s, wake_w) = answer;
    net.wake(wake_s, wake_w);
    Ok(json_response(status, body, replayed))
}

fn list_json(url: &str, mut items: Vec<Value>, limit: usize) -> Value {
    let has_more = items.len() > limit;
    items.truncate(limit);
    json!({"object": "list", "url": url, "has_more": has_more, "data": items})
}

fn limit_of(form: &Form) -> Result<i64, ApiError> {
    let limit = form.int("limit")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "parameter_invalid_integer",
            "limit",
            "limit must be between 1 and 100.",
        ));
    }
    Ok(limit)
}

fn not_found(method: &Method, segs: &[&str]) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        ..ApiError::invalid(
            "resource_missing",
            "",
            format!(
                "Unrecognized request URL ({method}: /v1/{}).",
                segs.join("/")
            ),
        )
    }
}

/// The merchant API's routes, inside one store transaction.
fn dispatch(
    tx: &Tx<'_>,
    net: &Network,
    method: &Method,
    segs: &[&str],
    form: &Form,
    now: i64,
) -> Result<Answer, ApiError> {
    let s = &net.settings;
    let expand = form.array("expand");
    let get_pi = |id: &str| {
        tx.pi(id)?
            .ok_or_else(|| ApiError::missing_resource("payment_intent", id, "intent"))
    };
    match (method.as_str(), segs) {
        ("POST", ["payment_intents"]) => {
            let (pi, wake) = payments::create(tx, s, form, now)?;
            Ok(Answer::changed(
                payments::render_pi(tx, s, &pi, &expand, now)?,
                wake,
            ))
        }
        ("GET", ["payment_intents"]) => {
            form.check_known(&["limit", "starting_after", "ending_before", "expand[]"])?;
            let limit = limit_of(form)?;
            let seq_of = |param: &str| -> Result<Option<i64>, ApiError> {
                form.string(param)
                    .map(|id| {
                        tx.pi(id)?
                            .map(|p| p.seq)
                            .ok_or_else(|| ApiError::missing_resource("payment_intent", id, param))
                    })
                    .transpose()
            };
            let items = tx.list_pis(limit, seq_of("starting_after")?, seq_of("ending_before")?)?;
            let data = items.iter().map(|p| p.render(&s.public_url)).collect();
            Ok(Answer::ok(list_json(
                "/v1/payment_intents",
                data,
                limit as usize,
            )))
        }
        ("GET", ["payment_intents", id]) => {
            form.check_known(&["expand[]", "client_secret"])?;
            let pi = get_pi(id)?;
            Ok(Answer::ok(payments::render_pi(tx, s, &pi, &expand, now)?))
        }
        ("POST", ["payment_intents", id, "confirm"]) => {
            let mut pi = get_pi(id)?;
            let wake = payments::confirm(tx, s, &mut pi, form, now)?;
            Ok(Answer::changed(
                payments::render_pi(tx, s, &pi, &expand, now)?,
                wake,
            ))
        }
        ("POST", ["payment_intents", id, "cancel"]) => {
            let mut pi = get_pi(id)?;
            payments::cancel(tx, &mut pi, form, now)?;
            Ok(Answer::changed(
                payments::render_pi(tx, s, &pi, &expand, now)?,
                false,
            ))
        }
        ("GET", ["charges", id]) => {
            form.check_known(&["expand[]"])?;
            let c = tx
                .charge(id)?
                .ok_or_else(|| ApiError::missing_resource("charge", id, "id"))?;
            let mut v = c.render();
            if expand.contains(&"balance_transaction") {
                v["balance_transaction"] = c.render_balance_transaction(now);
            }
            Ok(Answer::ok(v))
        }
        ("GET", ["balance_transactions", id]) => {
            form.check_known(&["expand[]"])?;
            let c = tx
                .charge_by_txn(id)?
                .ok_or_else(|| ApiError::missing_resource("balance transaction", id, "id"))?;
            Ok(Answer::ok(c.render_balance_transaction(now)))
        }
        ("POST", ["refunds"]) => {
            let r = payments::create_refund(tx, form, now)?;
            Ok(Answer::changed(r.render(&s.public_url), true))
        }
        ("GET", ["refunds", id]) => {
            form.check_known(&["expand[]"])?;
            let r = tx
                .refund(id)?
                .ok_or_else(|| ApiError::missing_resource("refund", id, "id"))?;
            Ok(Answer::ok(r.render(&s.public_url)))
        }
        ("POST", ["test_helpers", "refunds", id, "expire"]) => {
            form.check_known(&["expand[]"])?;
            let mut r = tx
                .refund(id)?
                .ok_or_else(|| ApiError::missing_resource("refund", id, "refund"))?;
            if r.status != super::objects::RefundStatus::RequiresAction {
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
            payments::fail_refund(tx, &mut r, "expired_or_canceled_card", now)?;
            Ok(Answer::changed(r.render(&s.public_url), false))
        }
        ("POST", ["test_helpers", "refunds", id, "bank_details"]) => {
            form.check_known(&["routing_number", "account_number", "account_holder_name"])?;
            let mut r = tx
                .refund(id)?
                .ok_or_else(|| ApiError::missing_resource("refund", id, "refund"))?;
            payments::submit_bank_details(
                tx,
                &mut r,
                form.string("routing_number").unwrap_or(""),
                form.string("account_number").unwrap_or(""),
                now,
            )?;
            Ok(Answer::changed(r.render(&s.public_url), true))
        }
        ("POST", ["webhook_endpoints"]) => {
            form.check_known(&[
                "url",
                "enabled_events[]",
                "description",
                "metadata[*]",
                "api_version",
                "connect",
            ])?;
            let url = form.string("url").ok_or_else(|| ApiError::missing("url"))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ApiError::invalid(
                    "url_invalid",
                    "url",
                    format!("Invalid URL: {url}: it must start with http:// or https://"),
                ));
            }
            let events: Vec<String> = form
                .array("enabled_events")
                .iter()
                .map(|e| e.to_string())
                .collect();
            if events.is_empty() {
                return Err(ApiError::missing("enabled_events"));
            }
            let ep = WebhookEndpoint {
                id: new_id("we"),
                created: now,
                url: url.to_owned(),
                enabled_events: events,
                secret: format!("whsec_{}", random_alnum(32)),
                description: form.string("description").map(str::to_owned),
                metadata: form
                    .map("metadata")
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            };
            tx.insert_endpoint(&ep)?;
            Ok(Answer::ok(ep.render(true)))
        }
        ("GET", ["webhook_endpoints"]) => {
            form.check_known(&["limit", "starting_after", "expand[]"])?;
            let limit = limit_of(form)?;
            let data = tx.endpoints()?.iter().map(|e| e.render(false)).collect();
            Ok(Answer::ok(list_json(
                "/v1/webhook_endpoints",
                data,
                limit as usize,
            )))
        }
        ("GET", ["webhook_endpoints", id]) => {
            let ep = tx
                .endpoint(id)?
                .ok_or_else(|| ApiError::missing_resource("webhook endpoint", id, "id"))?;
            Ok(Answer::ok(ep.render(false)))
        }
        ("DELETE", ["webhook_endpoints", id]) => {
            if !tx.delete_endpoint(id)? {
                return Err(ApiError::missing_resource("webhook endpoint", id, "id"));
            }
            Ok(Answer::ok(
                json!({"id": id, "object": "webhook_endpoint", "deleted": true}),
            ))
        }
        ("GET", ["events"]) => {
            form.check_known(&["limit", "starting_after", "type", "expand[]"])?;
            let limit = limit_of(form)?;
            let items = tx
                .list_events(limit, form.string("starting_after"), form.string("type"))?
                .iter()
                .map(|e| e.render(&s.public_url))
                .collect();
            Ok(Answer::ok(list_json("/v1/events", items, limit as usize)))
        }
        ("GET", ["events", id]) => {
            let e = tx
                .event(id)?
                .ok_or_else(|| ApiError::missing_resource("event", id, "id"))?;
            Ok(Answer::ok(e.render(&s.public_url)))
        }
        ("GET", ["test_helpers", "clock"]) => Ok(Answer::ok(clock_json(net))),
        ("POST", ["test_helpers", "clock"]) => {
            form.check_known(&["advance_seconds", "now"])?;
            match (form.int("advance_seconds")?, form.int("now")?) {
                (Some(secs), None) => {
                    net.clock.advance(secs);
                }
                (None, Some(t)) => {
                    net.clock.set_unix(t);
                }
                _ => {
                    return Err(ApiError::invalid(
                        "parameter_missing",
                        "advance_seconds",
                        "Give exactly one of advance_seconds and now.",
                    ));
                }
            }
            tx.set_meta("clock_offset_ms", &net.clock.offset_ms().to_string())?;
            Ok(Answer::changed(clock_json(net), true))
        }
        ("GET", ["test_helpers", "terminals", id, "chain"]) => Ok(Answer::ok(
            terminal::chain_report(tx, id).map_err(|e| ApiError::internal(e.message))?,
        )),
        ("GET", ["test_helpers", "deliveries"]) => {
            let rows: Vec<Value> = tx
                .delivery_report()?
                .into_iter()
                .map(|(ev, ep, delivered, attempts)| {
                    json!({"event": ev, "endpoint": ep, "delivered": delivered, "attempts": attempts})
                })
                .collect();
            Ok(Answer::ok(json!({"object": "list", "data": rows})))
        }
        _ => Err(not_found(method, segs)),
    }
}

fn clock_json(net: &Network) -> Value {
    json!({"object": "test_clock", "now": net.clock.unix(), "offset_ms": net.clock.offset_ms()})
}

/// The terminal headers, checked against the body as received.
async fn terminal_auth(
    net: &Network,
    method: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, TerminalError> {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let pq = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    terminal::authenticate(
        &net.settings,
        h("konbini-terminal"),
        h("konbini-signature"),
        method,
        pq,
        body,
        // Transport freshness is judged on the wall clock: registers sign with their own
        // clocks and cannot know how far a test has moved the simulated one.
        chrono::Utc::now().timestamp(),
    )
}

async fn terminal_lookup(
    State(net): State<Arc<Network>>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Result<Response, TerminalError> {
    terminal_auth(&net, "GET", &uri, &headers, b"").await?;
    let field = |k: &str| {
        q.get(k)
            .cloned()
            .ok_or_else(|| TerminalError::invalid(format!("the query needs {k}")))
    };
    let (chain, code, number) = (
        field("chain")?,
        field("payment_code")?,
        field("confirmation_number")?,
    );
    let n = net.clone();
    let v = tokio::task::spawn_blocking(move || {
        let now = n.clock.unix();
        n.with_store(|s| {
            let tx = s.read()?;
            terminal::lookup(&tx, &n.settings, &chain, &code, &number, now)
        })
    })
    .await
    .map_err(|e| TerminalError::invalid(format!("the lookup failed: {e}")))??;
    Ok(axum::Json(v).into_response())
}

async fn terminal_confirmations(
    State(net): State<Arc<Network>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, TerminalError> {
    let bytes = read_body(&headers, body, MAX_TERMINAL_BODY_BYTES)
        .await
        .map_err(|m| TerminalError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..TerminalError::invalid(m)
        })?;
    let terminal = terminal_auth(&net, "POST", &uri, &headers, &bytes).await?;
    let items = terminal::parse_batch(&bytes)?;
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = super::ConfirmJob {
        terminal,
        items,
        reply,
    };
    let unavailable = || TerminalError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        code: "unavailable",
        message: "the network is shutting down; retry".into(),
        payment_status: None,
    };
    // Straight onto the queue; only a full queue waits, on the blocking pool rather than
    // stalling an async worker.
    match net.confirm_tx.try_send(job) {
        Ok(()) => {}
        Err(std::sync::mpsc::TrySendError::Full(job)) => {
            let sender = net.confirm_tx.clone();
            tokio::task::spawn_blocking(move || sender.send(job))
                .await
                .map_err(|_| unavailable())?
                .map_err(|_| unavailable())?;
        }
        Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return Err(unavailable()),
    }
    let outcomes = answer.await.map_err(|_| unavailable())??;
    Ok(axum::Json(terminal::Results { results: &outcomes }).into_response())
}

async fn terminal_chain(
    State(net): State<Arc<Network>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, TerminalError> {
    let terminal = terminal_auth(&net, "GET", &uri, &headers, b"").await?;
    let n = net.clone();
    let v = tokio::task::spawn_blocking(move || {
        n.with_store(|s| {
            let tx = s.read()?;
            terminal::chain_report(&tx, &terminal)
        })
    })
    .await
    .map_err(|e| TerminalError::invalid(format!("the report failed: {e}")))??;
    Ok(axum::Json(v).into_response())
}

fn html(status: StatusCode, body: String) -> Response {
    (status, Html(body)).into_response()
}

async fn voucher_page(
    State(net): State<Arc<Network>>,
    Path(token): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let en = q.get("lang").is_some_and(|l| l == "en");
    let n = net.clone();
    let t = token.clone();
    let pi =
        tokio::task::spawn_blocking(move || n.with_store(|s| s.read()?.pi_by_voucher(&t))).await;
    match pi {
        Ok(Ok(Some(pi))) => html(
            StatusCode::OK,
            voucher::voucher_page(&pi, &net.settings.merchant_name, &token, en),
        ),
        Ok(Ok(None)) => html(StatusCode::NOT_FOUND, "<!DOCTYPE html><title>Not found</title><p>この払込票は見つかりません / No such voucher</p>".into()),
        _ => html(StatusCode::INTERNAL_SERVER_ERROR, "<!DOCTYPE html><p>error</p>".into()),
    }
}

async fn refund_page(State(net): State<Arc<Network>>, Path(token): Path<String>) -> Response {
    let n = net.clone();
    let t = token.clone();
    match tokio::task::spawn_blocking(move || n.with_store(|s| s.read()?.refund_by_token(&t))).await
    {
        Ok(Ok(found)) => refund_answer(found.map(|r| (r, None)), &token),
        _ => refund_answer_failed(),
    }
}

/// The customer's refund page, with a message, or 404.
fn refund_answer(found: Option<(super::objects::Refund, Option<String>)>, token: &str) -> Response {
    match found {
        Some((r, msg)) => html(
            StatusCode::OK,
            voucher::refund_page(&r, token, msg.as_deref()),
        ),
        None => html(
            StatusCode::NOT_FOUND,
            "<!DOCTYPE html><p>No such refund</p>".into(),
        ),
    }
}

fn refund_answer_failed() -> Response {
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        "<!DOCTYPE html><p>error</p>".into(),
    )
}

async fn refund_submit(
    State(net): State<Arc<Network>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(bytes) = read_body(&headers, body, MAX_MERCHANT_BODY_BYTES).await else {
        return html(
            StatusCode::PAYLOAD_TOO_LARGE,
            "<!DOCTYPE html><p>too large</p>".into(),
        );
    };
    let form = match Form::parse(&bytes) {
        Ok(f) => f,
        Err(e) => return html(StatusCode::BAD_REQUEST, voucher::esc(&e.message)),
    };
    let n = net.clone();
    let t = token.clone();
    let out = tokio::task::spawn_blocking(move || {
        let now = n.clock.unix();
        n.with_store(
            |s| -> Result<Option<(super::objects::Refund, Option<String>)>, ApiError> {
                let tx = s.write()?;
                let Some(mut r) = tx.refund_by_token(&t)? else {
                    return Ok(None);
                };
                let res = payments::submit_bank_details(
                    &tx,
                    &mut r,
                    form.string("routing_number").unwrap_or(""),
                    form.string("account_number").unwrap_or(""),
                    now,
                );
                match res {
                    Ok(()) => {
                        tx.commit()?;
                        Ok(Some((r, Some("受け付けました / Received".to_owned()))))
                    }
                    Err(e) => Ok(Some((r, Some(e.message)))),
                }
            },
        )
    })
    .await;
    net.wake(true, true);
    match out {
        Ok(Ok(found)) => refund_answer(found, &token),
        _ => refund_answer_failed(),
    }
}
