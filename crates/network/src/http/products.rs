//! `/v1/products`: create, list, search, retrieve, update, delete (`catalog.rs` has the
//! rules).

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
use crate::storage::ProductFilter;

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/products", post(create).get(list))
        .route("/v1/products/search", get(search))
        .route(
            "/v1/products/{id}",
            get(retrieve).post(update).delete(delete),
        )
}

async fn create(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        expand::check(&cx.expand, Kind::Product, false)?;
        let p = catalog::create_product(tx, cx.form, cx.now)?;
        Ok(Reply::changed(
            expand::render_product(tx, &p, &cx.expand)?,
            false,
        ))
    })
    .await
}

/// Stripe's product list filters: `active`, `created`, `ids[]`, `shippable`, `type`, `url`.
async fn list(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        let form = cx.form;
        form.check_known(
            &[
                &[
                    "active",
                    "ending_before",
                    "expand[]",
                    "ids[]",
                    "limit",
                    "shippable",
                    "starting_after",
                    "type",
                    "url",
                ],
                CREATED_PARAMS,
            ]
            .concat(),
        )?;
        expand::check(&cx.expand, Kind::Product, true)?;
        let page = page_of(form, |id, param| {
            catalog::find_product(tx, id, param).map(|p| p.seq)
        })?;
        let filter = ProductFilter {
            active: form.bool("active")?,
            ids: form.array("ids").into_iter().map(str::to_owned).collect(),
            shippable: form.bool("shippable")?,
            kind: form.string("type").map(str::to_owned),
            url: form.string("url").map(str::to_owned),
            created: created_of(form)?,
        };
        let paths = expand::of_data(&cx.expand);
        let data = tx
            .list_products(&filter, page)?
            .iter()
            .map(|p| expand::render_product(tx, p, &paths))
            .collect::<Result<_, _>>()?;
        Ok(Reply::ok(page_json("/v1/products", data, page)))
    })
    .await
}

/// `GET /v1/products/search`: `active`, `description~`, `metadata['k']`, `name~`,
/// `shippable`, `url`.
async fn search(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        let s = super::search::parse(cx.form, &crate::search::PRODUCTS, "prods")?;
        expand::check(&cx.expand, Kind::Product, true)?;
        let items = tx.search_products(&s.query, s.limit, s.after)?;
        let paths = expand::of_data(&cx.expand);
        Ok(Reply::ok(s.answer(
            "/v1/products/search",
            items,
            |p| p.seq,
            |p| expand::render_product(tx, p, &paths),
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
        expand::check(&cx.expand, Kind::Product, false)?;
        let p = catalog::find_product(tx, &id, "id")?;
        Ok(Reply::ok(expand::render_product(tx, &p, &cx.expand)?))
    })
    .await
}

async fn update(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        expand::check(&cx.expand, Kind::Product, false)?;
        let mut p = catalog::find_product(tx, &id, "id")?;
        catalog::update_product(tx, &mut p, cx.form, cx.now)?;
        Ok(Reply::changed(
            expand::render_product(tx, &p, &cx.expand)?,
            false,
        ))
    })
    .await
}

async fn delete(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        cx.form.check_known(&[])?;
        let p = catalog::find_product(tx, &id, "id")?;
        Ok(Reply::changed(
            catalog::delete_product(tx, &p, cx.now)?,
            false,
        ))
    })
    .await
}
