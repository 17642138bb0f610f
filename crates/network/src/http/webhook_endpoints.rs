//! `/v1/webhook_endpoints`: create (the answer carries the `whsec_` secret), list, retrieve,
//! update (Stripe's `url`, `enabled_events`, `description`, `metadata` and `disabled`),
//! delete. Where an endpoint may point is `webhooks/targets.rs`'s to say; delivery is
//! `webhooks.rs`'s.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

use super::merchant::{self, MerchantRequest, Reply, limit_of, list_json};
use crate::Network;
use crate::error::ApiError;
use crate::form::Form;
use crate::ids::{new_id, random_alnum};
use crate::objects::WebhookEndpoint;
use crate::storage::EndpointHealth;
use crate::webhooks::targets::{self, WebhookTargets};

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/webhook_endpoints", post(create).get(list))
        .route(
            "/v1/webhook_endpoints/{id}",
            get(retrieve).post(update).delete(delete),
        )
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
        let url = checked_url(url, cx.net.settings().webhook_targets)?;
        let events = enabled_events(form).ok_or_else(|| ApiError::missing("enabled_events"))?;
        let ep = WebhookEndpoint {
            id: new_id("we"),
            created: cx.now,
            url,
            enabled_events: events,
            secret: format!("whsec_{}", random_alnum(32)),
            description: form.string("description").map(str::to_owned),
            metadata: form.metadata()?,
            disabled: false,
        };
        tx.insert_endpoint(&ep)?;
        // Changed: the delivery supervisor starts the endpoint's worker at once.
        Ok(Reply::changed(ep.render(true), false))
    })
    .await
}

/// `url` if `targets` allows it, else Stripe's 400 on `url`.
fn checked_url(url: &str, targets: WebhookTargets) -> Result<String, ApiError> {
    targets::check_url(url, targets)
        .map(|_| url.to_owned())
        .map_err(|e| ApiError::invalid("url_invalid", "url", e.to_string()))
}

/// `enabled_events[]`, if sent and not empty.
fn enabled_events(form: &Form) -> Option<Vec<String>> {
    let events: Vec<String> = form
        .array("enabled_events")
        .iter()
        .map(|e| e.to_string())
        .collect();
    (!events.is_empty()).then_some(events)
}

/// Stripe's update: what is sent changes, the rest stays. `disabled=true` stops deliveries
/// (new events are not queued for it, as Stripe sends none created while an endpoint is
/// disabled); `disabled=false` re-enables it, clears its failure streak and makes its
/// pending deliveries due at once (Stripe goes on retrying events of an endpoint
/// re-enabled in time).
async fn update(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        let form = cx.form;
        form.check_known(&[
            "url",
            "enabled_events[]",
            "description",
            "metadata",
            "metadata[*]",
            "disabled",
            "expand[]",
        ])?;
        let disabled = form.bool("disabled")?;
        let url = match form.string("url") {
            Some(u) => Some(checked_url(u, cx.net.settings().webhook_targets)?),
            None => None,
        };
        let mut ep = tx
            .endpoint(&id)?
            .ok_or_else(|| ApiError::missing_resource("webhook endpoint", &id, "id"))?;
        if let Some(u) = url {
            ep.url = u;
        }
        if form.has("enabled_events") {
            ep.enabled_events =
                enabled_events(form).ok_or_else(|| ApiError::missing("enabled_events"))?;
        }
        if form.has("description") {
            ep.description = form.string("description").map(str::to_owned);
        }
        form.merge_metadata(&mut ep.metadata)?;
        tx.update_endpoint(&ep)?;
        if let Some(disabled) = disabled {
            let health = tx.endpoint_health(&id)?.unwrap_or_default();
            if disabled && !health.disabled {
                tx.set_endpoint_health(
                    &id,
                    &EndpointHealth {
                        disabled: true,
                        ..health
                    },
                )?;
            } else if !disabled && health.disabled {
                tx.set_endpoint_health(&id, &EndpointHealth::default())?;
                tx.resume_deliveries(&id, cx.now)?;
            }
            ep.disabled = disabled;
        }
        Ok(Reply::changed(ep.render(false), false))
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
        Ok(Reply::changed(
            json!({"id": id, "object": "webhook_endpoint", "deleted": true}),
            false,
        ))
    })
    .await
}
