//! `/v1/refunds`: create and retrieve. (Their test helpers are in `test_helpers`.)

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};

use super::merchant::{self, MerchantRequest, Reply};
use crate::Network;
use crate::error::ApiError;
use crate::payments;

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/refunds", post(create))
        .route("/v1/refunds/{id}", get(retrieve))
}

async fn create(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        let r = payments::create_refund(tx, cx.form, cx.now)?;
        Ok(Reply::changed(
            r.render(&cx.net.settings().public_url),
            true,
        ))
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
        let r = tx
            .refund(&id)?
            .ok_or_else(|| ApiError::missing_resource("refund", &id, "id"))?;
        Ok(Reply::ok(r.render(&cx.net.settings().public_url)))
    })
    .await
}
