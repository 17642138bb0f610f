//! `/v1/payment_intents`: create, list, search, retrieve, update, confirm, cancel. Retrieve
//! and confirm also take the publishable key with the payment's `client_secret`
//! (`publishable.rs`), and then answer only what Stripe shows a publishable key. A caller on
//! API version 2026-09-30.endive or later (its `Stripe-Version` header) may no longer send
//! `payment_method_types` to create, update or confirm (`payments.rs`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
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

/// The request's `Stripe-Version` (both official libraries send their pinned version).
fn stripe_version(headers: &HeaderMap) -> Option<String> {
    headers
        .get("stripe-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn create(
    State(net): State<Arc<Network>>,
    headers: HeaderMap,
    req: MerchantRequest,
) -> Response {
    let version = stripe_version(&headers);
    merchant::run(net, req, move |tx, cx| {
        payments::check_payment_method_types_version(cx.form, version.as_deref())?;
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

/// `GET /v1/payment_intents/search`: Stripe's search query language (`search.rs`), newest
/// first, answered as a `search_result` with `next_page`.
async fn search(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        let s = super::search::parse(cx.form, &crate::search::PAYMENT_INTENTS, "pis")?;
        expand::check(&cx.expand, Kind::PaymentIntent, true)?;
        let items = tx.search_pis(&s.query, s.limit, s.after)?;
        let paths = expand::of_data(&cx.expand);
        Ok(Reply::ok(s.answer(
            "/v1/payment_intents/search",
            items,
            |p| p.seq,
            |p| expand::render_pi(tx, cx.net.settings(), cx.now, p, &paths),
        )?))
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
    headers: HeaderMap,
    req: MerchantRequest,
) -> Response {
    let version = stripe_version(&headers);
    merchant::run(net, req, move |tx, cx| {
        payments::check_payment_method_types_version(cx.form, version.as_deref())?;
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
    headers: HeaderMap,
    req: MerchantRequest,
) -> Response {
    let version = stripe_version(&headers);
    merchant::run(net, req, move |tx, cx| {
        payments::check_payment_method_types_version(cx.form, version.as_deref())?;
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
