//! The shapes the `/v1/customers`, `/v1/products`, `/v1/prices` and `/v1/payment_methods`
//! handlers share: create, list, search, retrieve, update, delete of one kind of object,
//! each run by [`merchant::run`].

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::Value;

use super::expand::{self, Kind};
use super::merchant::{self, CREATED_PARAMS, MerchantRequest, Reply, page_json, page_of};
use crate::error::ApiError;
use crate::form::Form;
use crate::objects::{Customer, PaymentMethod, Price, Product};
use crate::search::{Fields, Query};
use crate::storage::{Page, StorageError, Tx};
use crate::{Network, catalog, customers};

/// An object kept by the network and answered with its expandable fields.
pub(super) trait Resource: Sized {
    /// Its kind, for `expand[]`.
    const KIND: Kind;
    /// Its number (the order of lists and searches).
    fn seq(&self) -> i64;
    /// The object `id`, or a `resource_missing` error naming `param`.
    fn find(tx: &dyn Tx, id: &str, param: &str) -> Result<Self, ApiError>;
    /// Its JSON, with `paths` expanded.
    fn render(&self, tx: &dyn Tx, paths: &[&str]) -> Result<Value, ApiError>;
}

impl Resource for Customer {
    const KIND: Kind = Kind::Customer;
    fn seq(&self) -> i64 {
        self.seq
    }
    fn find(tx: &dyn Tx, id: &str, param: &str) -> Result<Self, ApiError> {
        customers::find_customer(tx, id, param)
    }
    fn render(&self, tx: &dyn Tx, paths: &[&str]) -> Result<Value, ApiError> {
        expand::render_customer(tx, self, paths)
    }
}

impl Resource for PaymentMethod {
    const KIND: Kind = Kind::PaymentMethod;
    fn seq(&self) -> i64 {
        self.seq
    }
    fn find(tx: &dyn Tx, id: &str, param: &str) -> Result<Self, ApiError> {
        customers::find_pm(tx, id, param)
    }
    fn render(&self, tx: &dyn Tx, paths: &[&str]) -> Result<Value, ApiError> {
        expand::render_pm(tx, self, paths)
    }
}

impl Resource for Product {
    const KIND: Kind = Kind::Product;
    fn seq(&self) -> i64 {
        self.seq
    }
    fn find(tx: &dyn Tx, id: &str, param: &str) -> Result<Self, ApiError> {
        catalog::find_product(tx, id, param)
    }
    fn render(&self, tx: &dyn Tx, paths: &[&str]) -> Result<Value, ApiError> {
        expand::render_product(tx, self, paths)
    }
}

impl Resource for Price {
    const KIND: Kind = Kind::Price;
    fn seq(&self) -> i64 {
        self.seq
    }
    fn find(tx: &dyn Tx, id: &str, param: &str) -> Result<Self, ApiError> {
        catalog::find_price(tx, id, param)
    }
    fn render(&self, tx: &dyn Tx, paths: &[&str]) -> Result<Value, ApiError> {
        expand::render_price(tx, self, paths)
    }
}

/// `POST` of a new object, made by `make` from the parameters.
pub(super) async fn create<R: Resource>(
    net: Arc<Network>,
    req: MerchantRequest,
    make: impl Fn(&dyn Tx, &Form, i64) -> Result<R, ApiError> + Send + 'static,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        expand::check(&cx.expand, R::KIND, false)?;
        let r = make(tx, cx.form, cx.now)?;
        Ok(Reply::changed(r.render(tx, &cx.expand)?, false))
    })
    .await
}

/// A page of objects at `url`: the cursors, `limit`, `expand[]`, the `created` filters and
/// `params` are known; `filter` reads the list's filters, `fetch` reads the page.
pub(super) async fn list<R: Resource, F>(
    net: Arc<Network>,
    req: MerchantRequest,
    url: &'static str,
    params: &'static [&'static str],
    filter: impl Fn(&Form) -> Result<F, ApiError> + Send + 'static,
    fetch: impl Fn(&dyn Tx, &F, Page) -> Result<Vec<R>, StorageError> + Send + 'static,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        let form = cx.form;
        form.check_known(&[params, CREATED_PARAMS].concat())?;
        expand::check(&cx.expand, R::KIND, true)?;
        let page = page_of(form, |id, param| R::find(tx, id, param).map(|r| r.seq()))?;
        let filter = filter(form)?;
        let paths = expand::of_data(&cx.expand);
        let data = fetch(tx, &filter, page)?
            .iter()
            .map(|r| r.render(tx, &paths))
            .collect::<Result<_, _>>()?;
        Ok(Reply::ok(page_json(url, data, page)))
    })
    .await
}

/// A `search_result` at `url` of the objects with these `fields` (`tag` marks the page
/// tokens), read by `fetch`.
pub(super) async fn search<R: Resource>(
    net: Arc<Network>,
    req: MerchantRequest,
    url: &'static str,
    fields: &'static Fields,
    tag: &'static str,
    fetch: impl Fn(&dyn Tx, &Query, i64, Option<i64>) -> Result<Vec<R>, StorageError> + Send + 'static,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        let s = super::search::parse(cx.form, fields, tag)?;
        expand::check(&cx.expand, R::KIND, true)?;
        let items = fetch(tx, &s.query, s.limit, s.after)?;
        let paths = expand::of_data(&cx.expand);
        Ok(Reply::ok(
            s.answer(url, items, R::seq, |r| r.render(tx, &paths))?,
        ))
    })
    .await
}

/// `GET` of the object `id` (only `expand[]` is known): a handler of its own.
pub(super) async fn retrieve<R: Resource>(
    State(net): State<Arc<Network>>,
    Path(id): Path<String>,
    req: MerchantRequest,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        cx.form.check_known(&["expand[]"])?;
        expand::check(&cx.expand, R::KIND, false)?;
        let r = R::find(tx, &id, "id")?;
        Ok(Reply::ok(r.render(tx, &cx.expand)?))
    })
    .await
}

/// `POST` to the object `id` (an update, an attach, a detach), changed by `change` (which
/// checks the parameters).
pub(super) async fn update<R: Resource>(
    net: Arc<Network>,
    req: MerchantRequest,
    id: String,
    change: impl Fn(&dyn Tx, &mut R, &Form, i64) -> Result<(), ApiError> + Send + 'static,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        expand::check(&cx.expand, R::KIND, false)?;
        let mut r = R::find(tx, &id, "id")?;
        change(tx, &mut r, cx.form, cx.now)?;
        Ok(Reply::changed(r.render(tx, &cx.expand)?, false))
    })
    .await
}

/// `DELETE` of the object `id` (no parameter is known), answered by `remove`.
pub(super) async fn delete<R: Resource>(
    net: Arc<Network>,
    req: MerchantRequest,
    id: String,
    remove: impl Fn(&dyn Tx, &mut R, i64) -> Result<Value, ApiError> + Send + 'static,
) -> Response {
    merchant::run(net, req, move |tx, cx| {
        cx.form.check_known(&[])?;
        let mut r = R::find(tx, &id, "id")?;
        Ok(Reply::changed(remove(tx, &mut r, cx.now)?, false))
    })
    .await
}
