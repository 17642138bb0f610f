//! `/v1/prices`: create, list, search, retrieve, update (`catalog.rs` has the rules; Stripe
//! never deletes a price, it archives it with `active=false`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};

use super::merchant::{MerchantRequest, created_of};
use super::resource;
use crate::Network;
use crate::catalog;
use crate::objects::Price;
use crate::storage::PriceFilter;

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/prices", post(create).get(list))
        .route("/v1/prices/search", get(search))
        .route(
            "/v1/prices/{id}",
            get(resource::retrieve::<Price>).post(update),
        )
}

async fn create(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    resource::create(net, req, catalog::create_price).await
}

/// Stripe's price list filters: `active`, `created`, `currency`, `lookup_keys[]`, `product`,
/// `recurring[interval|usage_type]`, `type`.
async fn list(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    resource::list(
        net,
        req,
        "/v1/prices",
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
        |form| {
            Ok(PriceFilter {
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
            })
        },
        |tx, filter, page| tx.list_prices(filter, page),
    )
    .await
}

/// `GET /v1/prices/search`: `active`, `currency`, `lookup_key`, `metadata['k']`, `product`,
/// `type`.
async fn search(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    resource::search(
        net,
        req,
        "/v1/prices/search",
        &crate::search::PRICES,
        "prices",
        |tx, query, limit, after| tx.search_prices(query, limit, after),
    )
    .await
}

async fn update(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    resource::update(net, req, id, catalog::update_price).await
}
