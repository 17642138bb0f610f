//! `/v1/events`: list and retrieve.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;

use super::merchant::{
    self, CREATED_PARAMS, MerchantRequest, Reply, created_of, page_json, page_of,
};
use crate::Network;
use crate::error::ApiError;
use crate::storage::EventFilter;

/// Stripe's limit on `types[]`.
const MAX_TYPES: usize = 20;

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/events", get(list))
        .route("/v1/events/{id}", get(retrieve))
}

/// Stripe's event list filters: `type` (one name, or a group ending in `.*`), `types[]`
/// (up to 20 names, not with `type`), `created`.
async fn list(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        let form = cx.form;
        form.check_known(
            &[
                &[
                    "limit",
                    "starting_after",
                    "ending_before",
                    "type",
                    "types[]",
                    "expand[]",
                ],
                CREATED_PARAMS,
            ]
            .concat(),
        )?;
        let page = page_of(form, |id, param| {
            tx.event(id)?
                .map(|e| e.seq)
                .ok_or_else(|| ApiError::missing_resource("event", id, param))
        })?;
        let mut filter = EventFilter {
            types: form.array("types").into_iter().map(str::to_owned).collect(),
            created: created_of(form)?,
            ..EventFilter::default()
        };
        if filter.types.len() > MAX_TYPES {
            return Err(ApiError::invalid(
                "parameter_invalid_array",
                "types",
                format!("types may hold at most {MAX_TYPES} event types."),
            ));
        }
        if let Some(t) = form.string("type") {
            if !filter.types.is_empty() {
                return Err(ApiError::invalid(
                    "parameter_invalid_string",
                    "types",
                    "You may only specify one of these parameters: type, types.",
                ));
            }
            match t.strip_suffix('*') {
                Some(prefix) => filter.type_prefix = Some(prefix.to_owned()),
                None => filter.types.push(t.to_owned()),
            }
        }
        let items = tx
            .list_events(&filter, page)?
            .iter()
            .map(|e| e.render(&cx.net.settings().public_url))
            .collect();
        Ok(Reply::ok(page_json("/v1/events", items, page)))
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
