//! What every merchant API request goes through, whichever resource it is for: a bearer
//! key, a size-limited form body (the query for GET and DELETE), Stripe-shaped errors (an
//! unknown URL included), and `Idempotency-Key` replay checked and saved in the same
//! storage transaction as the work itself.
//!
//! A publishable key (`pk_test_...`) is taken only where Stripe takes one
//! (`publishable.rs`); anywhere else it is Stripe's 401 `secret_key_required`.
//!
//! A resource's handler takes a [`MerchantRequest`] (the extractor that does the checks)
//! and hands [`run`] its work: a closure over the transaction and the request's [`Cx`],
//! answering a [`Reply`] or an `ApiError`.

use std::sync::Arc;

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::form::Form;
use crate::ids::random_alnum;
use crate::storage::{Created, Cursor, Page, StorageError, Tx};
use crate::{MAX_MERCHANT_BODY_BYTES, Network};

/// A merchant request whose key, body and `Idempotency-Key` header have been checked.
pub(super) struct MerchantRequest {
    form: Form,
    key: Option<String>,
    /// Made with the publishable key: the handler checks the `client_secret` and answers
    /// only what Stripe shows a publishable key.
    publishable: bool,
    /// What a request reusing the key must repeat: method, path and parameters.
    fingerprint: String,
}

impl FromRequest<Arc<Network>> for MerchantRequest {
    type Rejection = Response;

    async fn from_request(req: Request, net: &Arc<Network>) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let checked = async {
            let publishable = check_key(net, &parts.headers)? == KeyKind::Publishable;
            if publishable && !super::publishable::may_call(&parts.method, parts.uri.path()) {
                return Err(super::publishable::secret_key_required());
            }
            let bytes = super::read_body(
                &parts.headers,
                body,
                MAX_MERCHANT_BODY_BYTES,
                net.settings().limits.body_timeout,
            )
            .await
            .map_err(|e| ApiError::invalid(e.code, "", e.message).with_status(e.status))?;
            let form = if parts.method == Method::GET || parts.method == Method::DELETE {
                Form::parse(parts.uri.query().unwrap_or("").as_bytes())?
            } else {
                Form::parse(&bytes)?
            };
            let key = if parts.method == Method::POST {
                idempotency_key(&parts.headers)?
            } else {
                None
            };
            // A publishable key's requests are told apart, so that no answer made for the
            // secret key is ever replayed to it.
            let fingerprint = format!(
                "{}{} {}?{}",
                if publishable { "pk " } else { "" },
                parts.method,
                parts.uri.path(),
                form.fingerprint()
            );
            Ok::<_, ApiError>(MerchantRequest {
                form,
                key,
                publishable,
                fingerprint,
            })
        };
        checked.await.map_err(IntoResponse::into_response)
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= 255)
                .map(str::to_owned)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "idempotency_key_invalid",
                        "",
                        "The Idempotency-Key header must be 1-255 visible ASCII characters.",
                    )
                })
        })
        .transpose()
}

/// Which of the merchant's keys a request was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Secret,
    Publishable,
}

/// Whether `key` is `expected`, in a time that does not depend on where a guess first
/// differs.
pub(super) fn same_key(key: &str, expected: &str) -> bool {
    key.len() == expected.len()
        && key
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn check_key(net: &Network, headers: &HeaderMap) -> Result<KeyKind, ApiError> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let key = match auth.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => {
            Some(rest.trim().to_owned())
        }
        // Stripe takes the key as HTTP Basic's user name too, with no password (its API
        // reference, "Authentication": `curl ... -u sk_test_...:`).
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("basic") => basic_user(rest.trim()),
        _ => None,
    };
    let Some(key) = key.as_deref().filter(|k| !k.is_empty()) else {
        return Err(ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        ));
    };
    let settings = net.settings();
    if same_key(key, &settings.api_key) {
        return Ok(KeyKind::Secret);
    }
    if same_key(key, &settings.publishable_key) {
        return Ok(KeyKind::Publishable);
    }
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    // A wrong publishable key is named as one (Stripe masks all but the last four).
    let kind = if key.starts_with("pk_") { "pk" } else { "sk" };
    Err(ApiError::unauthorized(format!(
        "Invalid API Key provided: {kind}_test_****{tail}"
    )))
}

/// The user name of an HTTP Basic credential (`base64(user:password)`), if it decodes.
fn basic_user(credential: &str) -> Option<String> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(credential)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let user = text.split_once(':').map_or(text.as_str(), |(u, _)| u);
    Some(user.trim().to_owned())
}

/// What a request's work sees besides the transaction.
pub(super) struct Cx<'a> {
    /// The network (settings, clock).
    pub net: &'a Network,
    /// The parameters.
    pub form: &'a Form,
    /// The network's clock when the request came.
    pub now: i64,
    /// `expand[]`.
    pub expand: Vec<&'a str>,
    /// Made with the publishable key (only where `publishable::may_call` lets it).
    pub publishable: bool,
}

/// What a merchant request produced.
pub(super) struct Reply {
    status: StatusCode,
    body: Value,
    wake_scheduler: bool,
    wake_webhooks: bool,
}

impl Reply {
    /// An answer that changed nothing.
    pub fn ok(body: Value) -> Reply {
        Reply {
            status: StatusCode::OK,
            body,
            wake_scheduler: false,
            wake_webhooks: false,
        }
    }

    /// An answer that changed something: events to deliver, and maybe a new deadline for
    /// the scheduler.
    pub fn changed(body: Value, wake_scheduler: bool) -> Reply {
        Reply {
            wake_scheduler,
            wake_webhooks: true,
            ..Reply::ok(body)
        }
    }
}

/// What a request's transaction produced, to be committed.
enum Done {
    /// The work's answer, and its body as sent (and saved under the key).
    Answered(Reply, String),
    /// The work failed while executing: its changes are undone, the error is saved under
    /// the idempotency key.
    Failed(ApiError),
}

/// Why a request's transaction keeps nothing.
enum Nothing {
    /// The answer saved under the key, replayed.
    Replayed { status: StatusCode, body: String },
    /// Refused (and not saved under the key).
    Refused(ApiError),
}

impl From<ApiError> for Nothing {
    fn from(e: ApiError) -> Nothing {
        Nothing::Refused(e)
    }
}

impl From<StorageError> for Nothing {
    fn from(e: StorageError) -> Nothing {
        Nothing::Refused(e.into())
    }
}

/// Run a merchant request's `work` in one write transaction, with its idempotency key
/// checked and saved in the same transaction. An error raised while executing is saved
/// under the key too, in that same transaction, with the work's changes undone (Stripe
/// replays it); an error raised while validating is not saved.
pub(super) async fn run(
    net: Arc<Network>,
    req: MerchantRequest,
    mut work: impl FnMut(&dyn Tx, &Cx<'_>) -> Result<Reply, ApiError> + Send + 'static,
) -> Response {
    let MerchantRequest {
        form,
        key,
        publishable,
        fingerprint,
    } = req;
    let n = net.clone();
    let done = net
        .storage()
        .run_write(move |tx| -> Result<Done, Nothing> {
            // Read where the unit is, not before it: with several nodes, the stored offset.
            let now = n.now_in(tx)?;
            if let Some(k) = &key
                && let Some(saved) = tx.idempotent(k)?
            {
                if saved.fingerprint != fingerprint {
                    return Err(Nothing::Refused(ApiError {
                        kind: "idempotency_error",
                        ..ApiError::invalid(
                            "idempotency_key_in_use",
                            "",
                            format!("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{k}' if you meant to execute a different request."),
                        )
                    }));
                }
                return Err(Nothing::Replayed {
                    status: StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK),
                    body: saved.body,
                });
            }
            let cx = Cx {
                net: &n,
                form: &form,
                now,
                expand: form.array("expand"),
                publishable,
            };
            // With a key, the work runs in a savepoint, so that an error raised while
            // executing can be saved under the key with the work undone; without one, a
            // failure simply rolls the whole transaction back.
            let outcome = if key.is_some() {
                let mut outcome = None;
                tx.savepoint(&mut |tx| {
                    let r = work(tx, &cx);
                    let ok = r.is_ok();
                    outcome = Some(r);
                    ok
                })?;
                outcome.expect("the savepoint ran the work")
            } else {
                work(tx, &cx)
            };
            let (status, body, done) = match outcome {
                Ok(reply) => {
                    let body = reply.body.to_string();
                    (reply.status, body.clone(), Done::Answered(reply, body))
                }
                Err(e) if e.executing && key.is_some() => {
                    (e.status, e.body().to_string(), Done::Failed(e))
                }
                Err(e) => return Err(Nothing::Refused(e)),
            };
            if let Some(k) = &key {
                tx.save_idempotent(k, &fingerprint, status.as_u16(), &body, now)?;
            }
            Ok(done)
        })
        .await;
    match done {
        Ok(Done::Answered(reply, body)) => {
            net.wake(reply.wake_scheduler, reply.wake_webhooks);
            json_response(reply.status, body, false)
        }
        Ok(Done::Failed(e)) | Err(Nothing::Refused(e)) => e.into_response(),
        Err(Nothing::Replayed { status, body }) => json_response(status, body, true),
    }
}

fn json_response(status: StatusCode, body: String, replayed: bool) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    h.insert(
        "request-id",
        HeaderValue::from_str(&format!("req_{}", random_alnum(14))).expect("ascii"),
    );
    if replayed {
        h.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    r
}

/// An unknown merchant API URL (or a known one with another method) is Stripe's 404, after
/// the same checks as any request (key, body, idempotency key: a reused key with other
/// parameters is still an idempotency error); other unknown paths are a plain 404.
pub(super) async fn unknown_url(
    axum::extract::State(net): axum::extract::State<Arc<Network>>,
    req: Request,
) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    if path != "/v1" && !path.starts_with("/v1/") {
        // Not the merchant API (no key is asked for), but still an error in its shape.
        return ApiError {
            status: StatusCode::NOT_FOUND,
            ..ApiError::invalid(
                "resource_missing",
                "",
                format!("Unrecognized request URL ({method}: {path})."),
            )
        }
        .into_response();
    }
    let req = match MerchantRequest::from_request(req, &net).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    run(net, req, move |_, _| {
        Err(ApiError {
            status: StatusCode::NOT_FOUND,
            ..ApiError::invalid(
                "resource_missing",
                "",
                format!("Unrecognized request URL ({method}: {path})."),
            )
        })
    })
    .await
}

/// A Stripe list object: at most `limit` of `items` (which may hold one more, to tell
/// `has_more`), newest first.
pub(super) fn list_json(url: &str, mut items: Vec<Value>, limit: usize) -> Value {
    let has_more = items.len() > limit;
    items.truncate(limit);
    json!({"object": "list", "url": url, "has_more": has_more, "data": items})
}

/// A Stripe list object of a page the storage answered (see `Tx`'s note on lists): a page
/// before a cursor comes nearest first, so its extra object (the farthest, newest) is cut
/// before it is turned newest first, as the libraries' backward auto-paging expects.
pub(super) fn page_json(url: &str, mut items: Vec<Value>, page: Page) -> Value {
    if let Cursor::Before(_) = page.cursor {
        let has_more = items.len() > page.limit as usize;
        items.truncate(page.limit as usize);
        items.reverse();
        return json!({"object": "list", "url": url, "has_more": has_more, "data": items});
    }
    list_json(url, items, page.limit as usize)
}

/// `limit`, `starting_after` and `ending_before` (not both), the cursors turned into
/// numbers by `seq_of` (which names the parameter in its error).
pub(super) fn page_of(
    form: &Form,
    seq_of: impl Fn(&str, &str) -> Result<i64, ApiError>,
) -> Result<Page, ApiError> {
    let limit = limit_of(form)?;
    let cursor = match (form.string("starting_after"), form.string("ending_before")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "parameter_invalid_string",
                "ending_before",
                "You may only specify one of these parameters: ending_before, starting_after.",
            ));
        }
        (Some(id), None) => Cursor::After(seq_of(id, "starting_after")?),
        (None, Some(id)) => Cursor::Before(seq_of(id, "ending_before")?),
        (None, None) => Cursor::First,
    };
    Ok(Page { limit, cursor })
}

/// The parameters [`created_of`] reads.
pub(super) const CREATED_PARAMS: &[&str] = &[
    "created",
    "created[gt]",
    "created[gte]",
    "created[lt]",
    "created[lte]",
];

/// Stripe's `created` filter: `created=N` (exactly), or `created[gt|gte|lt|lte]=N`.
pub(super) fn created_of(form: &Form) -> Result<Created, ApiError> {
    let exact = form.int("created")?;
    Ok(Created {
        gt: form.int("created[gt]")?,
        gte: form.int("created[gte]")?.or(exact),
        lt: form.int("created[lt]")?,
        lte: form.int("created[lte]")?.or(exact),
    })
}

/// `limit`, 1 to 100, default 10.
pub(super) fn limit_of(form: &Form) -> Result<i64, ApiError> {
    let limit = form.int("limit")?.unwrap_or(10);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "parameter_invalid_integer",
            "limit",
            "limit must be between 1 and 100.",
        ));
    }
    Ok(limit)
}
