//! `/v1/payment_links`: create, list, retrieve, update (`active`, `metadata`, ...), and a
//! link's line items; the rules are `checkout.rs`'s. A link's address (`/pay/{token}`) is
//! served by `checkout_pages.rs`. `expand[]` takes `line_items` (and
//! `line_items.data.price.product`) and the always-null
//! `application` and `on_behalf_of`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;

use super::merchant::{self, Cx, MerchantRequest, Reply, page_json, page_of};
use crate::Network;
use crate::checkout::{self, PaymentLink};
use crate::error::ApiError;
use crate::storage::Tx;

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/payment_links", post(create).get(list))
        .route("/v1/payment_links/{id}", get(retrieve).post(update))
        .route("/v1/payment_links/{id}/line_items", get(line_items))
}

/// The link `id`, or Stripe's `resource_missing` naming `param`.
fn find(tx: &dyn Tx, id: &str, param: &str) -> Result<PaymentLink, ApiError> {
    tx.link(id)?
        .ok_or_else(|| ApiError::missing_resource("payment_link", id, param))
}

fn cannot(path: &str, hint: &str) -> ApiError {
    ApiError {
        code: None,
        ..ApiError::invalid(
            "",
            "",
            format!("This property cannot be expanded ({path}).{hint}"),
        )
    }
}

/// Refuse a path a link (each of a list's `data`, when `list`) cannot expand.
fn check_expand(paths: &[&str], list: bool) -> Result<(), ApiError> {
    const FIELDS: &[&str] = &["line_items", "application", "on_behalf_of"];
    for full in paths {
        let path = if list {
            match full.strip_prefix("data.") {
                Some(p) => p,
                None => {
                    let hint = if FIELDS.contains(full) {
                        format!(" You may want to try expanding 'data.{full}' instead.")
                    } else {
                        String::new()
                    };
                    let first = full.split('.').next().unwrap_or(full);
                    return Err(cannot(first, &hint));
                }
            }
        } else {
            full
        };
        let line_path = path
            .strip_prefix("line_items.")
            .is_some_and(|r| super::checkout_sessions::LINE_PATHS.contains(&r));
        if !FIELDS.contains(&path) && !line_path {
            return Err(cannot(full, ""));
        }
    }
    Ok(())
}

fn line_items_url(link: &PaymentLink) -> String {
    format!("/v1/payment_links/{}/line_items", link.id)
}

/// A link's Stripe JSON, with `line_items` when asked for.
fn render(tx: &dyn Tx, cx: &Cx<'_>, link: &PaymentLink, paths: &[&str]) -> Result<Value, ApiError> {
    let mut v = link.render(&cx.net.settings().public_url);
    let below: Vec<&str> = paths
        .iter()
        .filter_map(|p| p.strip_prefix("line_items."))
        .collect();
    if paths.contains(&"line_items") || !below.is_empty() {
        let mut list = checkout::line_items_page(
            &line_items_url(link),
            &link.line_items,
            checkout::MAX_LINE_ITEMS,
            None,
            None,
        )?;
        super::checkout_sessions::expand_line_products(tx, &mut list, &below)?;
        v["line_items"] = list;
    }
    Ok(v)
}

async fn create(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        check_expand(&cx.expand, false)?;
        let link = checkout::create_link(tx, cx.form, cx.now)?;
        Ok(Reply::changed(render(tx, cx, &link, &cx.expand)?, false))
    })
    .await
}

async fn list(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        let form = cx.form;
        form.check_known(&[
            "limit",
            "starting_after",
            "ending_before",
            "expand[]",
            "active",
        ])?;
        check_expand(&cx.expand, true)?;
        let page = page_of(form, |id, param| find(tx, id, param).map(|l| l.seq))?;
        let items = tx.list_links(form.bool("active")?, page)?;
        let paths: Vec<&str> = cx
            .expand
            .iter()
            .filter_map(|p| p.strip_prefix("data."))
            .collect();
        let data = items
            .iter()
            .map(|l| render(tx, cx, l, &paths))
            .collect::<Result<_, _>>()?;
        Ok(Reply::ok(page_json("/v1/payment_links", data, page)))
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
        check_expand(&cx.expand, false)?;
        let link = find(tx, &id, "payment_link")?;
        Ok(Reply::ok(render(tx, cx, &link, &cx.expand)?))
    })
    .await
}

async fn update(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        check_expand(&cx.expand, false)?;
        let mut link = find(tx, &id, "payment_link")?;
        checkout::update_link(tx, &mut link, cx.form, cx.now)?;
        Ok(Reply::changed(render(tx, cx, &link, &cx.expand)?, false))
    })
    .await
}

async fn line_items(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        let form = cx.form;
        form.check_known(&["limit", "starting_after", "ending_before", "expand[]"])?;
        super::checkout_sessions::check_line_expand(&cx.expand)?;
        let link = find(tx, &id, "payment_link")?;
        let limit = merchant::limit_of(form)? as usize;
        let mut list = checkout::line_items_page(
            &line_items_url(&link),
            &link.line_items,
            limit,
            form.string("starting_after"),
            form.string("ending_before"),
        )?;
        super::checkout_sessions::expand_line_products(tx, &mut list, &cx.expand)?;
        Ok(Reply::ok(list))
    })
    .await
}
