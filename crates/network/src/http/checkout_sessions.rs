//! `/v1/checkout/sessions`: create, list, retrieve, update (metadata), expire, and a
//! session's line items; the rules are `checkout.rs`'s. `expand[]` takes `line_items` (and
//! `line_items.data.price.product`),
//! `payment_intent` (and below it what a PaymentIntent expands), `payment_link`,
//! `customer` (and below it what a Customer expands), and the always-null `invoice`, `setup_intent`, `subscription`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::Value;

use super::expand::{self, Kind};
use super::merchant::{
    self, CREATED_PARAMS, Cx, MerchantRequest, Reply, created_of, page_json, page_of,
};
use crate::Network;
use crate::checkout::{self, Session};
use crate::error::ApiError;
use crate::storage::{SessionFilter, Tx};

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/v1/checkout/sessions", post(create).get(list))
        .route("/v1/checkout/sessions/{id}", get(retrieve).post(update))
        .route("/v1/checkout/sessions/{id}/expire", post(expire))
        .route("/v1/checkout/sessions/{id}/line_items", get(line_items))
}

/// The session `id`, or Stripe's `resource_missing` naming `param`.
fn find(tx: &dyn Tx, id: &str, param: &str) -> Result<Session, ApiError> {
    tx.session(id)?
        .ok_or_else(|| ApiError::missing_resource("checkout.session", id, param))
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

/// Refuse, as Stripe does, a path a session (each of a list's `data`, when `list`) cannot
/// expand (see `expand.rs`).
pub(super) fn check_expand(paths: &[&str], list: bool) -> Result<(), ApiError> {
    for full in paths {
        let path = if list {
            match full.strip_prefix("data.") {
                Some(p) => p,
                None => {
                    let hint = if check_expand(&[*full], false).is_ok() {
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
        if path.split('.').count() > 4 {
            return Err(cannot(full, ""));
        }
        let (field, rest) = match path.split_once('.') {
            Some((f, r)) => (f, Some(r)),
            None => (path, None),
        };
        let ok = match (field, rest) {
            (
                "line_items" | "payment_link" | "customer" | "invoice" | "setup_intent"
                | "subscription",
                None,
            ) => true,
            ("customer", Some(r)) => expand::check(&[r], Kind::Customer, false).is_ok(),
            ("line_items", Some(r)) => LINE_PATHS.contains(&r),
            ("payment_intent", None) => true,
            ("payment_intent", Some(r)) => expand::check(&[r], Kind::PaymentIntent, false).is_ok(),
            _ => false,
        };
        if !ok {
            return Err(cannot(full, ""));
        }
    }
    Ok(())
}

/// What a list of line items expands below it: each line's price is whole already, and its
/// product is expandable.
pub(super) const LINE_PATHS: &[&str] = &["data.price", "data.price.product"];

/// Expand each line's `price.product` in a list of line items (`list`, as rendered), when
/// `paths` (below the list) ask for it; a product no longer kept stays its id.
pub(super) fn expand_line_products(
    tx: &dyn Tx,
    list: &mut Value,
    paths: &[&str],
) -> Result<(), ApiError> {
    if !paths.contains(&"data.price.product") {
        return Ok(());
    }
    if let Some(lines) = list["data"].as_array_mut() {
        for line in lines {
            let id = line["price"]["product"].as_str().unwrap_or("").to_owned();
            if let Some(product) = tx.product(&id)? {
                line["price"]["product"] = expand::render_product(tx, &product, &[])?;
            }
        }
    }
    Ok(())
}

/// Refuse an `expand[]` of a line items list (`GET .../line_items`).
pub(super) fn check_line_expand(paths: &[&str]) -> Result<(), ApiError> {
    match paths.iter().find(|p| !LINE_PATHS.contains(p)) {
        Some(p) => Err(cannot(p, "")),
        None => Ok(()),
    }
}

/// The paths below `field`, if `field` is asked for.
fn below<'a>(paths: &[&'a str], field: &str) -> Option<Vec<&'a str>> {
    let mut asked = false;
    let mut rest = Vec::new();
    for p in paths {
        if *p == field {
            asked = true;
        } else if let Some(r) = p.strip_prefix(field).and_then(|r| r.strip_prefix('.')) {
            asked = true;
            rest.push(r);
        }
    }
    asked.then_some(rest)
}

fn line_items_url(session: &Session) -> String {
    format!("/v1/checkout/sessions/{}/line_items", session.id)
}

/// A session's Stripe JSON with `paths` expanded (checked by [`check_expand`]).
fn render(tx: &dyn Tx, cx: &Cx<'_>, session: &Session, paths: &[&str]) -> Result<Value, ApiError> {
    let settings = cx.net.settings();
    let mut v = session.render(&settings.public_url);
    if let Some(rest) = below(paths, "line_items") {
        let mut list = checkout::line_items_page(
            &line_items_url(session),
            &session.line_items,
            checkout::MAX_LINE_ITEMS,
            None,
            None,
        )?;
        expand_line_products(tx, &mut list, &rest)?;
        v["line_items"] = list;
    }
    if let Some(rest) = below(paths, "payment_intent")
        && let Some(id) = &session.payment_intent
        && let Some(pi) = tx.pi(id)?
    {
        v["payment_intent"] = expand::render_pi(tx, settings, cx.now, &pi, &rest)?;
    }
    if let Some(rest) = below(paths, "customer")
        && let Some(id) = &session.customer
        && let Some(c) = tx.customer(id)?
    {
        v["customer"] = expand::render_customer(tx, &c, &rest)?;
    }
    if below(paths, "payment_link").is_some()
        && let Some(id) = &session.payment_link
        && let Some(link) = tx.link(id)?
    {
        v["payment_link"] = link.render(&settings.public_url);
    }
    Ok(v)
}

async fn create(
    State(net): State<Arc<Network>>,
    headers: HeaderMap,
    req: MerchantRequest,
) -> Response {
    let version = headers
        .get("stripe-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    merchant::run(net, req, move |tx, cx| {
        checkout::check_types_version(cx.form, version.as_deref())?;
        check_expand(&cx.expand, false)?;
        let session = checkout::create_session(tx, cx.form, cx.now)?;
        Ok(Reply::changed(render(tx, cx, &session, &cx.expand)?, true))
    })
    .await
}

async fn list(State(net): State<Arc<Network>>, req: MerchantRequest) -> Response {
    merchant::run(net, req, |tx, cx| {
        let form = cx.form;
        form.check_known(
            &[
                &[
                    "limit",
                    "starting_after",
                    "ending_before",
                    "expand[]",
                    "customer",
                    "customer_details[email]",
                    "payment_intent",
                    "payment_link",
                    "status",
                ],
                CREATED_PARAMS,
            ]
            .concat(),
        )?;
        check_expand(&cx.expand, true)?;
        if let Some(s) = form.string("status")
            && !["open", "complete", "expired"].contains(&s)
        {
            return Err(ApiError::invalid(
                "parameter_invalid_string",
                "status",
                format!("Invalid status: must be one of open, complete or expired (got {s:?})."),
            ));
        }
        let page = page_of(form, |id, param| find(tx, id, param).map(|s| s.seq))?;
        let pi_seq = match form.string("payment_intent") {
            // A payment no session made lists nothing.
            Some(id) => Some(tx.pi(id)?.map_or(0, |p| p.seq)),
            None => None,
        };
        let filter = SessionFilter {
            created: created_of(form)?,
            customer: form.string("customer").map(str::to_owned),
            email: form.string("customer_details[email]").map(str::to_owned),
            pi_seq,
            payment_link: form.string("payment_link").map(str::to_owned),
            status: form.string("status").map(str::to_owned),
        };
        let items = tx.list_sessions(&filter, page)?;
        let paths = expand::of_data(&cx.expand);
        let data = items
            .iter()
            .map(|s| render(tx, cx, s, &paths))
            .collect::<Result<_, _>>()?;
        Ok(Reply::ok(page_json("/v1/checkout/sessions", data, page)))
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
        let session = find(tx, &id, "session")?;
        Ok(Reply::ok(render(tx, cx, &session, &cx.expand)?))
    })
    .await
}

/// `POST /v1/checkout/sessions/{id}`: the merchant's metadata.
async fn update(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        cx.form
            .check_known(&["expand[]", "metadata", "metadata[*]"])?;
        check_expand(&cx.expand, false)?;
        let mut session = find(tx, &id, "session")?;
        cx.form.merge_metadata(&mut session.metadata)?;
        tx.update_session(&session)?;
        Ok(Reply::ok(render(tx, cx, &session, &cx.expand)?))
    })
    .await
}

async fn expire(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        cx.form.check_known(&["expand[]"])?;
        check_expand(&cx.expand, false)?;
        let mut session = find(tx, &id, "session")?;
        checkout::expire_session(tx, &mut session, cx.now)?;
        Ok(Reply::changed(render(tx, cx, &session, &cx.expand)?, false))
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
        check_line_expand(&cx.expand)?;
        let session = find(tx, &id, "session")?;
        let limit = merchant::limit_of(form)? as usize;
        let mut list = checkout::line_items_page(
            &line_items_url(&session),
            &session.line_items,
            limit,
            form.string("starting_after"),
            form.string("ending_before"),
        )?;
        expand_line_products(tx, &mut list, &cx.expand)?;
        Ok(Reply::ok(list))
    })
    .await
}
