//! `/v1/customers`: create, list, search, retrieve, update, delete, and a customer's
//! payment methods (`customers.rs` at the crate's root has the rules).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};

use super::expand::{self, Kind};
use super::merchant::{self, MerchantRequest, Reply, created_of};
use super::resource;
use crate::Network;
use crate::customers;
use crate::error::ApiError;
use crate::objects::Customer;
use crate::storage::CustomerFilter;

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/customers", post(create).get(list))
        .route("/v1/customers/search", get(search))
        // A deleted customer is answered as its stub, as Stripe answers it.
        .route(
            "/v1/customers/{id}",
            get(resource::retrieve::<Customer>)
                .post(update)
                .delete(delete),
        )
        .route("/v1/customers/{id}/payment_methods", get(payment_methods))
        .route(
            "/v1/customers/{id}/payment_methods/{pm}",
            get(payment_method),
        )
}

async fn create(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    resource::create(net, req, customers::create_customer).await
}

/// Stripe's customer list filters: `email` (exact, case-sensitive), `created`.
async fn list(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    resource::list(
        net,
        req,
        "/v1/customers",
        &[
            "email",
            "ending_before",
            "expand[]",
            "limit",
            "starting_after",
        ],
        |form| {
            Ok(CustomerFilter {
                email: form.string("email").map(str::to_owned),
                created: created_of(form)?,
            })
        },
        |tx, filter, page| tx.list_customers(filter, page),
    )
    .await
}

/// `GET /v1/customers/search`: `created`, `email~`, `metadata['k']`, `name~`, `phone~`.
async fn search(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    resource::search(
        net,
        req,
        "/v1/customers/search",
        &crate::search::CUSTOMERS,
        "cus",
        |tx, query, limit, after| tx.search_customers(query, limit, after),
    )
    .await
}

async fn update(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    resource::update(net, req, id, customers::update_customer).await
}

async fn delete(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    resource::delete(net, req, id, customers::delete_customer).await
}

/// `GET /v1/customers/{id}/payment_methods`: the customer's, newest first (`type`,
/// `allow_redisplay` filters).
async fn payment_methods(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        let form = cx.form;
        form.check_known(&[
            "allow_redisplay",
            "ending_before",
            "expand[]",
            "limit",
            "starting_after",
            "type",
        ])?;
        expand::check(&cx.expand, Kind::PaymentMethod, true)?;
        let c = customers::live_customer(tx, &id, "customer")?;
        super::payment_methods::list_of(
            tx,
            cx,
            Some(c.id),
            &format!("/v1/customers/{id}/payment_methods"),
        )
    })
    .await
}

/// `GET /v1/customers/{id}/payment_methods/{pm}`: one of the customer's.
async fn payment_method(
    State(net): State<Arc<Network>>,
    Path((id, pm)): Path<(String, String)>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        cx.form.check_known(&["expand[]"])?;
        expand::check(&cx.expand, Kind::PaymentMethod, false)?;
        let c = customers::live_customer(tx, &id, "customer")?;
        let found = customers::find_pm(tx, &pm, "payment_method")?;
        if found.customer.as_deref() != Some(c.id.as_str()) {
            return Err(ApiError::missing_resource(
                "payment_method",
                &pm,
                "payment_method",
            ));
        }
        Ok(Reply::ok(expand::render_pm(tx, &found, &cx.expand)?))
    })
    .await
}
