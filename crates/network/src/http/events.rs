//! `/v1/events`: list and retrieve.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;

use super::merchant::{self, MerchantRequest, Reply, limit_of, list_json};
use crate::Network;
use crate::error::ApiError;

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/events", get(list))
        .route("/v1/events/{id}", get(retrieve))
}

async fn list(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        let form = cx.form;
        form.check_known(&["limit", "starting_after", "type", "expand[]"])?;
        let limit = limit_of(form)?;
        let items = tx
            .list_events(limit, form.string("starting_after"), form.string("type"))?
            .iter()
            .map(|e| e.render(&cx.net.settings().public_url))
            .collect();
        Ok(Reply::ok(list_json("/v1/events", items, limit as usize)))
    })
    .await
}

async fn retrieve(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        let e = tx
            .event(&id)?
            .ok_or_else(|| ApiError::missing_resource("event", &id, "id"))?;
        Ok(Reply::ok(e.render(&cx.net.settings().public_url)))
    })
    .await
}
