//! `/v1/payment_intents`: create, list, retrieve, update, confirm, cancel. Retrieve and
//! confirm also take the publishable key with the payment's `client_secret`
//! (`publishable.rs`), and then answer only what Stripe shows a publishable key.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};

use super::expand::{self, Kind};
use super::merchant::{
    self, CREATED_PARAMS, Cx, MerchantRequest, Reply, created_of, page_json, page_of,
};
use super::publishable;
use crate::Network;
use crate::error::ApiError;
use crate::objects::PaymentIntent;
use crate::payments;
use crate::storage::Tx;

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/payment_intents", post(create).get(list))
        .route("/v1/payment_intents/search", get(search))
        .route("/v1/payment_intents/{id}", get(retrieve).post(update))
        .route("/v1/payment_intents/{id}/confirm", post(confirm))
        .route("/v1/payment_intents/{id}/cancel", post(cancel))
}

/// The PaymentIntent `id`, or Stripe's `resource_missing` naming `param`.
fn find(tx: &dyn Tx, id: &str, param: &str) -> Result<PaymentIntent, ApiError> {
    tx.pi(id)?
        .ok_or_else(|| ApiError::missing_resource("payment_intent", id, param))
}

/// The PaymentIntent as answered, with what `expand[]` asks for.
fn render(tx: &dyn Tx, cx: &Cx<'_>, pi: &PaymentIntent) -> Result<serde_json::Value, ApiError> {
    expand::render_pi(tx, cx.net.settings(), cx.now, pi, &cx.expand)
}

/// A call that may come with the publishable key: the `client_secret` checked (also when a
/// secret-key call sends one), and the answer cut to what a publishable key is shown.
fn for_key(
    cx: &Cx<'_>,
    pi: &PaymentIntent,
) -> Result<fn(serde_json::Value) -> serde_json::Value, ApiError> {
    if cx.publishable || cx.form.has("client_secret") {
        publishable::check_client_secret(cx.form, pi)?;
    }
    Ok(if cx.publishable {
        publishable::subset
    } else {
        std::convert::identity
    })
}

/// Refuse an `expand[]` a PaymentIntent cannot take, before the work runs.
fn check_expand(cx: &Cx<'_>) -> Result<(), ApiError> {
    expand::check(&cx.expand, Kind::PaymentIntent, false)
}

async fn create(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        check_expand(cx)?;
        let (pi, wake) = payments::create(tx, cx.net.settings(), cx.form, cx.now)?;
        Ok(Reply::changed(render(tx, cx, &pi)?, wake))
    })
    .await
}

async fn list(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        let form = cx.form;
        form.check_known(
            &[
                &[
                    "limit",
                    "starting_after",
                    "ending_before",
                    "expand[]",
                    "customer",
                ],
                CREATED_PARAMS,
            ]
            .concat(),
        )?;
        expand::check(&cx.expand, Kind::PaymentIntent, true)?;
        let page = page_of(form, |id, param| find(tx, id, param).map(|p| p.seq))?;
        let created = created_of(form)?;
        let items = tx.list_pis(form.string("customer"), created, page)?;
        let paths = expand::of_data(&cx.expand);
        let data = items
            .iter()
            .map(|p| expand::render_pi(tx, cx.net.settings(), cx.now, p, &paths))
            .collect::<Result<_, _>>()?;
        Ok(Reply::ok(page_json("/v1/payment_intents", data, page)))
    })
    .await
}

/// A search's `page` token: the last answered payment's number, tied to the query by a
/// hash of its text so that a token is not replayed against another query.
fn page_token(query: &str, seq: i64) -> String {
    format!("pis_{seq:x}_{:016x}", fnv1a(query))
}

/// The payment number a `page` token of `query` resumes after.
fn page_after(query: &str, token: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::invalid(
            "parameter_invalid_string",
            "page",
            "The page token is not one this search returned for this query: send the same query with the next_page of its last answer.",
        )
    };
    let rest = token.strip_prefix("pis_").ok_or_else(bad)?;
    let (seq, hash) = rest.split_once('_').ok_or_else(bad)?;
    if hash != format!("{:016x}", fnv1a(query)) {
        return Err(bad());
    }
    i64::from_str_radix(seq, 16).map_err(|_| bad())
}

/// FNV-1a, 64 bits: stable across builds and nodes.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `GET /v1/payment_intents/search`: Stripe's search query language (`search.rs`), newest
/// first, answered as a `search_result` with `next_page`.
async fn search(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        let form = cx.form;
        form.check_known(&["query", "limit", "page", "expand[]"])?;
        expand::check(&cx.expand, Kind::PaymentIntent, true)?;
        let text = form
            .string("query")
            .ok_or_else(|| ApiError::missing("query"))?;
        let query = crate::search::parse(text).map_err(|message| ApiError {
            code: None,
            ..ApiError::invalid("", "query", message)
        })?;
        let limit = merchant::limit_of(form)?;
        let after = form
            .string("page")
            .map(|t| page_after(text, t))
            .transpose()?;
        let mut items = tx.search_pis(&query, limit, after)?;
        let has_more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_page = match items.last() {
            Some(last) if has_more => serde_json::Value::from(page_token(text, last.seq)),
            _ => serde_json::Value::Null,
        };
        let paths = expand::of_data(&cx.expand);
        let data = items
            .iter()
            .map(|p| expand::render_pi(tx, cx.net.settings(), cx.now, p, &paths))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Reply::ok(serde_json::json!({
            "object": "search_result",
            "url": "/v1/payment_intents/search",
            "has_more": has_more,
            "next_page": next_page,
            "data": data,
        })))
    })
    .await
}

async fn retrieve(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        cx.form.check_known(&["expand[]", "client_secret"])?;
        check_expand(cx)?;
        let pi = find(tx, &id, "intent")?;
        let shown = for_key(cx, &pi)?;
        Ok(Reply::ok(shown(render(tx, cx, &pi)?)))
    })
    .await
}

async fn update(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        check_expand(cx)?;
        let mut pi = find(tx, &id, "intent")?;
        let public_url = &cx.net.settings().public_url;
        let wake = payments::update(tx, cx.net.settings(), &mut pi, cx.form, cx.now, &|p| {
            p.render(public_url)
        })?;
        Ok(Reply::changed(render(tx, cx, &pi)?, wake))
    })
    .await
}

async fn confirm(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        check_expand(cx)?;
        let mut pi = find(tx, &id, "intent")?;
        let shown = for_key(cx, &pi)?;
        let wake = payments::confirm(tx, cx.net.settings(), &mut pi, cx.form, cx.now)?;
        Ok(Reply::changed(shown(render(tx, cx, &pi)?), wake))
    })
    .await
}

async fn cancel(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        check_expand(cx)?;
        let mut pi = find(tx, &id, "intent")?;
        payments::cancel(tx, &mut pi, cx.form, cx.now)?;
        Ok(Reply::changed(render(tx, cx, &pi)?, false))
    })
    .await
}
