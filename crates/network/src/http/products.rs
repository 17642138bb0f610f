//! `/v1/products`: create, list, search, retrieve, update, delete (`catalog.rs` has the
//! rules).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};

use super::merchant::{MerchantRequest, created_of};
use super::resource;
use crate::Network;
use crate::catalog;
use crate::objects::Product;
use crate::storage::ProductFilter;

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/products", post(create).get(list))
        .route("/v1/products/search", get(search))
        .route(
            "/v1/products/{id}",
            get(resource::retrieve::<Product>)
                .post(update)
                .delete(delete),
        )
}

async fn create(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    resource::create(net, req, catalog::create_product).await
}

/// Stripe's product list filters: `active`, `created`, `ids[]`, `shippable`, `type`, `url`.
async fn list(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    resource::list(
        net,
        req,
        "/v1/products",
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
        |form| {
            Ok(ProductFilter {
                active: form.bool("active")?,
                ids: form.array("ids").into_iter().map(str::to_owned).collect(),
                shippable: form.bool("shippable")?,
                kind: form.string("type").map(str::to_owned),
                url: form.string("url").map(str::to_owned),
                created: created_of(form)?,
            })
        },
        |tx, filter, page| tx.list_products(filter, page),
    )
    .await
}

/// `GET /v1/products/search`: `active`, `description~`, `metadata['k']`, `name~`,
/// `shippable`, `url`.
async fn search(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    resource::search(
        net,
        req,
        "/v1/products/search",
        &crate::search::PRODUCTS,
        "prods",
        |tx, query, limit, after| tx.search_products(query, limit, after),
    )
    .await
}

async fn update(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    resource::update(net, req, id, catalog::update_product).await
}

async fn delete(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    resource::delete(net, req, id, |tx, p: &mut Product, now| {
        catalog::delete_product(tx, p, now)
    })
    .await
}
