//! `/terminal/v1`: what registers call (`docs/terminal-api.md`). Every request is signed
//! by its terminal; the body is checked against the signature as received, and no body is
//! read past [`MAX_BODY_BYTES`](konbini_protocol::MAX_BODY_BYTES).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use konbini_protocol::{BatchAnswer, CHAIN_PATH, CONFIRMATIONS_PATH, LOOKUP_PATH, LookupQuery};

use crate::Network;
use crate::error::TerminalError;
use crate::terminal::{self, Caller};

pub(super) fn routes() -> Router<Arc<Network>> {
    Router::new()
        .route(LOOKUP_PATH, get(lookup))
        .route(CONFIRMATIONS_PATH, post(confirmations))
        .route(CHAIN_PATH, get(chain))
}

/// The terminal headers, checked before any body is read (the wall clock judges freshness:
/// registers sign with their own clocks and cannot know how far a test has moved the
/// simulated one), and the terminal looked up: from the flags, else the store.
async fn caller<'a>(net: &Network, headers: &'a HeaderMap) -> Result<Caller<'a>, TerminalError> {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (id, signed) = terminal::parse_headers(
        h(konbini_protocol::TERMINAL_HEADER),
        h(konbini_protocol::SIGNATURE_HEADER),
        chrono::Utc::now().timestamp(),
    )?;
    let secret = net
        .terminal_secret(id)
        .await?
        .ok_or_else(|| TerminalError::unauthorized(terminal::UNAUTHENTICATED))?;
    Ok(Caller::new(id, secret, signed))
}

/// The caller's MAC checked; on a failure, checked once more with the store's secret when
/// the cached one may be stale (`Network::terminal_secret_again`): a terminal given a new
/// secret at another node is taken with it at once here, not after the cache's minute.
async fn verified(
    net: &Network,
    mut caller: terminal::Caller<'_>,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<String, TerminalError> {
    let first = caller.verify(method, path, body);
    if first.is_ok() {
        return first;
    }
    match net.terminal_secret_again(caller.terminal).await {
        Some(secret) if !caller.has_secret(&secret) => {
            caller.set_secret(secret);
            caller.verify(method, path, body)
        }
        _ => first,
    }
}

/// A GET's terminal, its signature checked (the body is empty).
async fn signed_get(
    net: &Network,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<String, TerminalError> {
    let caller = caller(net, headers).await?;
    verified(net, caller, "GET", signed_path(uri), b"").await
}

/// The request's path and query, as signed.
fn signed_path(uri: &Uri) -> &str {
    uri.path_and_query().map_or(uri.path(), |p| p.as_str())
}

/// Bodies being read per terminal, before their signature can be checked. A stranger who
/// knows a terminal's id (not a secret) can hold at most this many of its uploads open, for
/// at most the body timeout, so unauthenticated uploads cost at most this many bodies (of
/// at most 1 MiB) per known terminal. A register's sync task has three batches on the wire
/// at most; this leaves room for its retries.
pub(crate) const UPLOADS_PER_TERMINAL: u32 = 8;

/// Uploads in progress, per terminal.
#[derive(Default)]
pub(crate) struct Uploads(Mutex<HashMap<String, u32>>);

/// One terminal's upload in progress; freed when dropped.
struct Upload<'a> {
    uploads: &'a Uploads,
    terminal: String,
}

impl Uploads {
    fn start(&self, terminal: &str) -> Option<Upload<'_>> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(terminal.to_owned()).or_insert(0);
        if *n >= UPLOADS_PER_TERMINAL {
            return None;
        }
        *n += 1;
        Some(Upload {
            uploads: self,
            terminal: terminal.to_owned(),
        })
    }

    /// Uploads being read now, all terminals together.
    pub(crate) fn in_progress(&self) -> u32 {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.values().sum()
    }
}

impl Drop for Upload<'_> {
    fn drop(&mut self) {
        let mut map = self.uploads.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.terminal) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.terminal);
            }
        }
    }
}

async fn lookup(
    State(net): State<Arc<Network>>,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, TerminalError> {
    signed_get(&net, &uri, &headers).await?;
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
    let n = net.clone();
    let found = net
        .storage()
        .run_read(move |tx| {
            let now = n.now_in(tx)?;
            terminal::lookup(tx, n.settings(), &q, now)
        })
        .await?;
    Ok(axum::Json(found).into_response())
}

async fn confirmations(
    State(net): State<Arc<Network>>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, TerminalError> {
    let caller = caller(&net, &headers).await?;
    let Some(_upload) = net.uploads.start(caller.terminal) else {
        return Err(TerminalError {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: "too_many_uploads",
            message: format!(
                "terminal {} already has {UPLOADS_PER_TERMINAL} requests being uploaded; retry when they are answered",
                caller.terminal
            ),
            payment_status: None,
        });
    };
    let bytes = super::read_body(
        &headers,
        body,
        konbini_protocol::MAX_BODY_BYTES,
        net.settings().limits.body_timeout,
    )
    .await
    .map_err(|e| TerminalError {
        status: e.status,
        code: e.code,
        message: e.message,
        payment_status: None,
    })?;
    let terminal = verified(&net, caller, "POST", signed_path(&uri), &bytes).await?;
    let items = terminal::parse_batch(&bytes)?;
    net.confirmations_seen
        .fetch_add(items.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let n = net.clone();
    // A grouped write: the storage may commit it with other terminals' batches. The clock's
    // offset is read with the batch's facts (no read of its own, as `now_synced` makes).
    let (results, accepted) = net
        .storage()
        .run_grouped(move |tx| {
            let now = |stored: Option<i64>| n.now_from(stored);
            terminal::apply_batch(tx, n.settings(), &terminal, &items, now)
        })
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
    let terminal = signed_get(&net, &uri, &headers).await?;
    let report = net
        .storage()
        .run_read(move |tx| terminal::chain_report(tx, &terminal))
        .await?;
    Ok(axum::Json(report).into_response())
}
