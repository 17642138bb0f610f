//! `/v1/payment_methods`: create, list, retrieve, update, attach, detach, of type konbini
//! (`customers.rs` at the crate's root has the rules).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};

use super::expand::{self, Kind};
use super::merchant::{self, Cx, MerchantRequest, Reply, page_json, page_of};
use super::resource;
use crate::Network;
use crate::customers;
use crate::error::ApiError;
use crate::objects::PaymentMethod;
use crate::storage::{PaymentMethodFilter, Tx};

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/payment_methods", post(create).get(list))
        .route(
            "/v1/payment_methods/{id}",
            get(resource::retrieve::<PaymentMethod>).post(update),
        )
        .route("/v1/payment_methods/{id}/attach", post(attach))
        .route("/v1/payment_methods/{id}/detach", post(detach))
}

async fn create(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    resource::create(net, req, customers::create_pm).await
}

/// A page of payment methods (of `customer`, if given; `type` filters), as a list at `url`.
pub(super) fn list_of(
    tx: &dyn Tx,
    cx: &Cx<'_>,
    customer: Option<String>,
    url: &str,
) -> Result<Reply, ApiError> {
    let form = cx.form;
    if let Some(t) = form.string("type")
        && t != "konbini"
    {
        // Another type is valid at Stripe; none is kept here, so the list is empty.
        return Ok(Reply::ok(page_json(
            url,
            Vec::new(),
            page_of(form, |_, _| Ok(0))?,
        )));
    }
    let page = page_of(form, |id, param| {
        customers::find_pm(tx, id, param).map(|p| p.seq)
    })?;
    let filter = PaymentMethodFilter {
        customer,
        kind: form.string("type").map(str::to_owned),
    };
    let paths = expand::of_data(&cx.expand);
    let data = tx
        .list_pms(&filter, page)?
        .iter()
        .filter(|pm| {
            form.string("allow_redisplay")
                .is_none_or(|a| a == pm.allow_redisplay)
        })
        .map(|pm| expand::render_pm(tx, pm, &paths))
        .collect::<Result<_, _>>()?;
    Ok(Reply::ok(page_json(url, data, page)))
}

/// `GET /v1/payment_methods`: every one, or a customer's (`customer=`), newest first.
async fn list(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        cx.form.check_known(&[
            "allow_redisplay",
            "customer",
            "ending_before",
            "expand[]",
            "limit",
            "starting_after",
            "type",
        ])?;
        expand::check(&cx.expand, Kind::PaymentMethod, true)?;
        let customer = cx
            .form
            .string("customer")
            .map(|id| customers::live_customer(tx, id, "customer").map(|c| c.id))
            .transpose()?;
        list_of(tx, cx, customer, "/v1/payment_methods")
    })
    .await
}

async fn update(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    resource::update(net, req, id, customers::update_pm).await
}

async fn attach(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    resource::update(net, req, id, customers::attach_request).await
}

async fn detach(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    resource::update(net, req, id, customers::detach).await
}
