//! `/v1/webhook_endpoints`: create (the answer carries the `whsec_` secret), list, retrieve,
//! delete.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

use super::merchant::{self, MerchantRequest, Reply, limit_of, list_json};
use crate::Network;
use crate::error::ApiError;
use crate::ids::{new_id, random_alnum};
use crate::objects::WebhookEndpoint;

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/webhook_endpoints", post(create).get(list))
        .route("/v1/webhook_endpoints/{id}", get(retrieve).delete(delete))
}

async fn create(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        let form = cx.form;
        form.check_known(&[
            "url",
            "enabled_events[]",
            "description",
            "metadata[*]",
            "api_version",
            "connect",
        ])?;
        let url = form.string("url").ok_or_else(|| ApiError::missing("url"))?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ApiError::invalid(
                "url_invalid",
                "url",
                format!("Invalid URL: {url}: it must start with http:// or https://"),
            ));
        }
        let events: Vec<String> = form
            .array("enabled_events")
            .iter()
            .map(|e| e.to_string())
            .collect();
        if events.is_empty() {
            return Err(ApiError::missing("enabled_events"));
        }
        let ep = WebhookEndpoint {
            id: new_id("we"),
            created: cx.now,
            url: url.to_owned(),
            enabled_events: events,
            secret: format!("whsec_{}", random_alnum(32)),
            description: form.string("description").map(str::to_owned),
            metadata: form
                .map("metadata")
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        };
        tx.insert_endpoint(&ep)?;
        Ok(Reply::ok(ep.render(true)))
    })
    .await
}

async fn list(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        cx.form
            .check_known(&["limit", "starting_after", "expand[]"])?;
        let limit = limit_of(cx.form)?;
        let data = tx.endpoints()?.iter().map(|e| e.render(false)).collect();
        Ok(Reply::ok(list_json(
            "/v1/webhook_endpoints",
            data,
            limit as usize,
        )))
    })
    .await
}

async fn retrieve(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, _| {
        let ep = tx
            .endpoint(&id)?
            .ok_or_else(|| ApiError::missing_resource("webhook endpoint", &id, "id"))?;
        Ok(Reply::ok(ep.render(false)))
    })
    .await
}

async fn delete(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, _| {
        if !tx.delete_endpoint(&id)? {
            return Err(ApiError::missing_resource("webhook endpoint", &id, "id"));
        }
        Ok(Reply::ok(
            json!({"id": id, "object": "webhook_endpoint", "deleted": true}),
        ))
    })
    .await
}
