//! `/v1/charges/{id}` and `/v1/balance_transactions/{id}`: what a paid PaymentIntent left.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;

use super::expand::{self, Kind};
use super::merchant::{self, MerchantRequest, Reply};
use crate::Network;
use crate::error::ApiError;

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/charges/{id}", get(charge))
        .route("/v1/balance_transactions/{id}", get(balance_transaction))
}

async fn charge(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        cx.form.check_known(&["expand[]"])?;
        expand::check(&cx.expand, Kind::Charge, false)?;
        let c = tx
            .charge(&id)?
            .ok_or_else(|| ApiError::missing_resource("charge", &id, "id"))?;
        Ok(Reply::ok(expand::render_charge(
            tx,
            cx.net.settings(),
            cx.now,
            &c,
            &cx.expand,
        )?))
    })
    .await
}

async fn balance_transaction(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        cx.form.check_known(&["expand[]"])?;
        let c = tx
            .charge_by_txn(&id)?
            .ok_or_else(|| ApiError::missing_resource("balance transaction", &id, "id"))?;
        Ok(Reply::ok(c.render_balance_transaction(cx.now)))
    })
    .await
}
