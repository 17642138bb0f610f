//! `/terminal/v1`: what registers call (`docs/terminal-api.md`). Every request is signed
//! by its terminal; the body is checked against the signature as received, and no body is
//! read past [`MAX_BODY_BYTES`](konbini_protocol::MAX_BODY_BYTES).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use konbini_protocol::{BatchAnswer, CHAIN_PATH, CONFIRMATIONS_PATH, LOOKUP_PATH, LookupQuery};

use crate::Network;
use crate::error::TerminalError;
use crate::terminal;

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route(LOOKUP_PATH, get(lookup))
        .route(CONFIRMATIONS_PATH, post(confirmations))
        .route(CHAIN_PATH, get(chain))
}

/// The terminal headers, checked against the body as received; the terminal's id.
fn authenticate(
    net: &Network,
    method: &str,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, TerminalError> {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let pq = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    terminal::authenticate(
        net.settings(),
        h(konbini_protocol::TERMINAL_HEADER),
        h(konbini_protocol::SIGNATURE_HEADER),
        method,
        pq,
        body,
        // Transport freshness is judged on the wall clock: registers sign with their own
        // clocks and cannot know how far a test has moved the simulated one.
        chrono::Utc::now().timestamp(),
    )
}

async fn lookup(
    State(net): State<Arc<Network>>,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, TerminalError> {
    authenticate(&net, "GET", &uri, &headers, b"")?;
    let field = |k: &str| {
        query
            .get(k)
            .cloned()
            .ok_or_else(|| TerminalError::invalid(format!("the query needs {k}")))
    };
    let q = LookupQuery {
        chain: field("chain")?,
        payment_code: field("payment_code")?,
        confirmation_number: field("confirmation_number")?,
    };
    let now = net.clock.unix();
    let n = net.clone();
    let found = net
        .storage()
        .run_read(move |tx| terminal::lookup(tx, n.settings(), &q, now))
        .await?;
    Ok(axum::Json(found).into_response())
}

async fn confirmations(
    State(net): State<Arc<Network>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, TerminalError> {
    let bytes = super::read_body(&headers, body, konbini_protocol::MAX_BODY_BYTES)
        .await
        .map_err(|m| TerminalError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..TerminalError::invalid(m)
        })?;
    let terminal = authenticate(&net, "POST", &uri, &headers, &bytes)?;
    let items = terminal::parse_batch(&bytes)?;
    let now = net.clock.unix();
    let n = net.clone();
    // A grouped write: the storage may commit it with other terminals' batches.
    let (results, accepted) = net
        .storage()
        .run_grouped(move |tx| terminal::apply_batch(tx, n.settings(), &terminal, &items, now))
        .await?;
    if accepted {
        net.wake(false, true);
    }
    Ok(axum::Json(BatchAnswer { results }).into_response())
}

async fn chain(
    State(net): State<Arc<Network>>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, TerminalError> {
    let terminal = authenticate(&net, "GET", &uri, &headers, b"")?;
    let report = net
        .storage()
        .run_read(move |tx| terminal::chain_report(tx, &terminal))
        .await?;
    Ok(axum::Json(report).into_response())
}
