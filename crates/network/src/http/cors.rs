//! Cross-origin access to the merchant API, as Stripe's API allows it: a merchant's page on
//! its own origin calls the network through Stripe.js with the publishable key. Every
//! answer under `/v1` says `Access-Control-Allow-Origin: *` and exposes `Request-Id`, and a
//! browser's preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered 204
//! with the methods and headers the API takes (Stripe answers the same; its secret keys
//! are never meant for a browser, and no cookie is ever read, so no credentials are
//! allowed). Nothing else is changed: what a key may do is `merchant.rs`'s and
//! `publishable.rs`'s to decide.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The methods the merchant API takes.
const METHODS: &str = "GET, POST, DELETE";
/// The request headers the merchant API reads.
const HEADERS: &str =
    "Authorization, Content-Type, Idempotency-Key, Stripe-Version, Stripe-Account";
/// How long a browser may keep a preflight's answer (Stripe's: 300 s).
const MAX_AGE_SECONDS: &str = "300";

fn is_api(path: &str) -> bool {
    path == "/v1" || path.starts_with("/v1/")
}

/// The middleware: preflights answered here, other `/v1` answers marked.
pub(super) async fn layer(req: Request, next: Next) -> Response {
    if !is_api(req.uri().path()) {
        return next.run(req).await;
    }
    if req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
    {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(HEADERS),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(MAX_AGE_SECONDS),
        );
        return r;
    }
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Request-Id, Idempotent-Replayed"),
    );
    r
}
