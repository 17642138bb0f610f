//! The customer's pages: `/vouchers/{token}` (the payment's voucher, `?lang=en` for
//! English) and `/refunds/{token}` (where a refund's bank account is given). HTML, errors
//! included.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::form::Form;
use crate::objects::Refund;
use crate::storage::StorageError;
use crate::{MAX_MERCHANT_BODY_BYTES, Network, payments, voucher};

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route("/vouchers/{token}", get(voucher_page))
        .route("/refunds/{token}", get(refund_page).post(refund_submit))
}

fn html(status: StatusCode, body: String) -> Response {
    (status, Html(body)).into_response()
}

fn failed() -> Response {
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        "<!DOCTYPE html><p>error</p>".into(),
    )
}

async fn voucher_page(
    State(net): State<Arc<Network>>,
    Path(token): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let en = q.get("lang").is_some_and(|l| l == "en");
    let t = token.clone();
    let now = net.now_synced().await;
    match net
        .storage()
        .run_read(move |tx| {
            let pi = tx.pi_by_voucher(&t)?;
            // A Checkout Session's payment links on to the session's success_url.
            let session = match &pi {
                Some(pi) => tx.session_by_pi(pi.seq)?,
                None => None,
            };
            Ok::<_, StorageError>(pi.map(|pi| (pi, session)))
        })
        .await
    {
        Ok(Some((pi, session))) => {
            let page = voucher::voucher_page(&pi, &net.settings().merchant_name, &token, en, now);
            let page = match &session {
                Some(s) => super::checkout_pages::with_success_link(page, s, en),
                None => page,
            };
            html(StatusCode::OK, page)
        }
        Ok(None) => super::checkout_pages::missing_page(
            en,
            "この払込票は見つかりません。お店から届いたアドレスをご確認ください。",
            "This payment voucher does not exist. Check the address the shop gave you.",
        ),
        Err(StorageError::Failed(_) | StorageError::Closed | StorageError::Unavailable(_)) => {
            failed()
        }
    }
}

async fn refund_page(State(net): State<Arc<Network>>, Path(token): Path<String>) -> Response {
    let t = token.clone();
    match net
        .storage()
        .run_read(move |tx| tx.refund_by_token(&t))
        .await
    {
        Ok(found) => refund_answer(found.as_ref(), None, &token),
        Err(_) => failed(),
    }
}

/// The customer's refund page, with a message, or 404.
fn refund_answer(found: Option<&Refund>, message: Option<&str>, token: &str) -> Response {
    match found {
        Some(r) => html(StatusCode::OK, voucher::refund_page(r, token, message)),
        None => super::checkout_pages::missing_page(
            false,
            "この返金のページは見つかりません。お店から届いたアドレスをご確認ください。 / This refund page does not exist.",
            "This refund page does not exist.",
        ),
    }
}

/// Why bank details were not taken: the page shows the refund as it was, with the reason.
enum Refused {
    Details(Box<Refund>, String),
    /// The storage failed: the page says only that (the network's log has the cause).
    Storage,
}

impl From<StorageError> for Refused {
    fn from(e: StorageError) -> Refused {
        eprintln!("konbini network: refund page: {e}");
        Refused::Storage
    }
}

async fn refund_submit(
    State(net): State<Arc<Network>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let bytes = match super::read_body(
        &headers,
        body,
        MAX_MERCHANT_BODY_BYTES,
        net.settings().limits.body_timeout,
    )
    .await
    {
        Ok(b) => b,
        Err(e) => {
            return html(
                e.status,
                format!("<!DOCTYPE html><p>{}</p>", voucher::esc(&e.message)),
            );
        }
    };
    let form = match Form::parse(&bytes) {
        Ok(f) => f,
        Err(e) => return html(StatusCode::BAD_REQUEST, voucher::esc(&e.message)),
    };
    let now = net.now_synced().await;
    let t = token.clone();
    let out = net
        .storage()
        .run_write(move |tx| -> Result<Option<Refund>, Refused> {
            let Some(mut r) = tx.refund_by_token(&t)? else {
                return Ok(None);
            };
            let before = r.clone();
            match payments::submit_bank_details(
                tx,
                &mut r,
                form.string("routing_number").unwrap_or(""),
                form.string("account_number").unwrap_or(""),
                now,
            ) {
                Ok(()) => Ok(Some(r)),
                // Rolled back: the page shows the refund as it was.
                Err(e) => Err(Refused::Details(Box::new(before), e.message)),
            }
        })
        .await;
    net.wake(true, true);
    match out {
        Ok(found) => refund_answer(found.as_ref(), Some("受け付けました / Received"), &token),
        Err(Refused::Details(r, message)) => refund_answer(Some(&r), Some(&message), &token),
        Err(Refused::Storage) => failed(),
    }
}
