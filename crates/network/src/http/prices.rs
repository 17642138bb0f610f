//! `/v1/prices`: create, list, search, retrieve, update (`catalog.rs` has the rules; Stripe
//! never deletes a price, it archives it with `active=false`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};

use super::expand::{self, Kind};
use super::merchant::{
    self, CREATED_PARAMS, MerchantRequest, Reply, created_of, page_json, page_of,
};
use crate::Network;
use crate::catalog;
use crate::storage::PriceFilter;

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/prices", post(create).get(list))
        .route("/v1/prices/search", get(search))
        .route("/v1/prices/{id}", get(retrieve).post(update))
}

async fn create(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        expand::check(&cx.expand, Kind::Price, false)?;
        let p = catalog::create_price(tx, cx.form, cx.now)?;
        Ok(Reply::changed(
            expand::render_price(tx, &p, &cx.expand)?,
            false,
        ))
    })
    .await
}

/// Stripe's price list filters: `active`, `created`, `currency`, `lookup_keys[]`, `product`,
/// `recurring[interval|usage_type]`, `type`.
async fn list(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        let form = cx.form;
        form.check_known(
            &[
                &[
                    "active",
                    "currency",
                    "ending_before",
                    "expand[]",
                    "limit",
                    "lookup_keys[]",
                    "product",
                    "recurring[interval]",
                    "recurring[usage_type]",
                    "starting_after",
                    "type",
                ],
                CREATED_PARAMS,
            ]
            .concat(),
        )?;
        expand::check(&cx.expand, Kind::Price, true)?;
        let page = page_of(form, |id, param| {
            catalog::find_price(tx, id, param).map(|p| p.seq)
        })?;
        let filter = PriceFilter {
            active: form.bool("active")?,
            product: form.string("product").map(str::to_owned),
            kind: form.string("type").map(str::to_owned),
            currency: form.string("currency").map(str::to_ascii_lowercase),
            lookup_keys: form
                .array("lookup_keys")
                .into_iter()
                .map(str::to_owned)
                .collect(),
            interval: form.string("recurring[interval]").map(str::to_owned),
            usage_type: form.string("recurring[usage_type]").map(str::to_owned),
            created: created_of(form)?,
        };
        let paths = expand::of_data(&cx.expand);
        let data = tx
            .list_prices(&filter, page)?
            .iter()
            .map(|p| expand::render_price(tx, p, &paths))
            .collect::<Result<_, _>>()?;
        Ok(Reply::ok(page_json("/v1/prices", data, page)))
    })
    .await
}

/// `GET /v1/prices/search`: `active`, `currency`, `lookup_key`, `metadata['k']`, `product`,
/// `type`.
async fn search(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        let s = super::search::parse(cx.form, &crate::search::PRICES, "prices")?;
        expand::check(&cx.expand, Kind::Price, true)?;
        let items = tx.search_prices(&s.query, s.limit, s.after)?;
        let paths = expand::of_data(&cx.expand);
        Ok(Reply::ok(s.answer(
            "/v1/prices/search",
            items,
            |p| p.seq,
            |p| expand::render_price(tx, p, &paths),
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
        cx.form.check_known(&["expand[]"])?;
        expand::check(&cx.expand, Kind::Price, false)?;
        let p = catalog::find_price(tx, &id, "id")?;
        Ok(Reply::ok(expand::render_price(tx, &p, &cx.expand)?))
    })
    .await
}

async fn update(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        expand::check(&cx.expand, Kind::Price, false)?;
        let mut p = catalog::find_price(tx, &id, "id")?;
        catalog::update_price(tx, &mut p, cx.form, cx.now)?;
        Ok(Reply::changed(
            expand::render_price(tx, &p, &cx.expand)?,
            false,
        ))
    })
    .await
}
