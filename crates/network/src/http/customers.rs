//! `/v1/customers`: create, list, search, retrieve, update, delete, and a customer's
//! payment methods (`customers.rs` at the crate's root has the rules).

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
use crate::customers;
use crate::error::ApiError;
use crate::storage::CustomerFilter;

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/customers", post(create).get(list))
        .route("/v1/customers/search", get(search))
        .route(
            "/v1/customers/{id}",
            get(retrieve).post(update).delete(delete),
        )
        .route("/v1/customers/{id}/payment_methods", get(payment_methods))
        .route(
            "/v1/customers/{id}/payment_methods/{pm}",
            get(payment_method),
        )
}

async fn create(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        expand::check(&cx.expand, Kind::Customer, false)?;
        let c = customers::create_customer(tx, cx.form, cx.now)?;
        Ok(Reply::changed(
            expand::render_customer(tx, &c, &cx.expand)?,
            false,
        ))
    })
    .await
}

/// Stripe's customer list filters: `email` (exact, case-sensitive), `created`.
async fn list(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        let form = cx.form;
        form.check_known(
            &[
                &[
                    "email",
                    "ending_before",
                    "expand[]",
                    "limit",
                    "starting_after",
                ],
                CREATED_PARAMS,
            ]
            .concat(),
        )?;
        expand::check(&cx.expand, Kind::Customer, true)?;
        let page = page_of(form, |id, param| {
            customers::find_customer(tx, id, param).map(|c| c.seq)
        })?;
        let filter = CustomerFilter {
            email: form.string("email").map(str::to_owned),
            created: created_of(form)?,
        };
        let paths = expand::of_data(&cx.expand);
        let data = tx
            .list_customers(&filter, page)?
            .iter()
            .map(|c| expand::render_customer(tx, c, &paths))
            .collect::<Result<_, _>>()?;
        Ok(Reply::ok(page_json("/v1/customers", data, page)))
    })
    .await
}

/// `GET /v1/customers/search`: `created`, `email~`, `metadata['k']`, `name~`, `phone~`.
async fn search(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        let s = super::search::parse(cx.form, &crate::search::CUSTOMERS, "cus")?;
        expand::check(&cx.expand, Kind::Customer, true)?;
        let items = tx.search_customers(&s.query, s.limit, s.after)?;
        let paths = expand::of_data(&cx.expand);
        Ok(Reply::ok(s.answer(
            "/v1/customers/search",
            items,
            |c| c.seq,
            |c| expand::render_customer(tx, c, &paths),
        )?))
    })
    .await
}

/// A deleted customer is answered as its stub, as Stripe answers it.
async fn retrieve(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        cx.form.check_known(&["expand[]"])?;
        expand::check(&cx.expand, Kind::Customer, false)?;
        let c = customers::find_customer(tx, &id, "id")?;
        Ok(Reply::ok(expand::render_customer(tx, &c, &cx.expand)?))
    })
    .await
}

async fn update(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        expand::check(&cx.expand, Kind::Customer, false)?;
        let mut c = customers::find_customer(tx, &id, "id")?;
        customers::update_customer(tx, &mut c, cx.form, cx.now)?;
        Ok(Reply::changed(
            expand::render_customer(tx, &c, &cx.expand)?,
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
        let mut c = customers::find_customer(tx, &id, "id")?;
        Ok(Reply::changed(
            customers::delete_customer(tx, &mut c, cx.now)?,
            false,
        ))
    })
    .await
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
