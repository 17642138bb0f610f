//! Errors as Stripe shapes them: `{"error": {"type", "code", "message", "param"}}` with
//! Stripe's HTTP statuses, and the terminal API's `{"error": {"code", ...}}`.
//!
//! An error also says whether it arose while the request was executing: Stripe saves those
//! under the request's `Idempotency-Key` and replays them, but not validation failures.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::storage::StorageError;

/// An error answer of the merchant API.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Stripe's `type`: `invalid_request_error`, `api_error`, `idempotency_error`.
    pub kind: &'static str,
    /// Stripe's `code`, when it has one.
    pub code: Option<&'static str>,
    /// A sentence for a developer.
    pub message: String,
    /// The offending parameter, in bracket notation.
    pub param: Option<String>,
    /// Raised while executing (saved under an idempotency key), not while validating.
    pub executing: bool,
    /// The PaymentIntent the error is about, as Stripe adds it to a
    /// `payment_intent_unexpected_state` on update.
    pub payment_intent: Option<Box<Value>>,
}

impl ApiError {
    /// A 400 `invalid_request_error`.
    pub fn invalid(code: &'static str, param: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            code: Some(code),
            message: message.into(),
            param: (!param.is_empty()).then(|| param.to_owned()),
            executing: false,
            payment_intent: None,
        }
    }

    /// Stripe's `parameter_missing`.
    pub fn missing(param: &str) -> ApiError {
        ApiError::invalid(
            "parameter_missing",
            param,
            format!("Missing required param: {param}."),
        )
    }

    /// Stripe's `parameter_invalid_integer`.
    pub fn not_integer(param: &str, value: &str) -> ApiError {
        ApiError::invalid(
            "parameter_invalid_integer",
            param,
            format!("Invalid integer: {value}"),
        )
    }

    /// 404 `resource_missing`.
    pub fn missing_resource(kind: &str, id: &str, param: &str) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            kind: "invalid_request_error",
            code: Some("resource_missing"),
            message: format!("No such {kind}: '{id}'"),
            param: (!param.is_empty()).then(|| param.to_owned()),
            executing: false,
            payment_intent: None,
        }
    }

    /// 401 for a missing or wrong secret key.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            kind: "invalid_request_error",
            code: None,
            message: message.into(),
            param: None,
            executing: false,
            payment_intent: None,
        }
    }

    /// A 500 `api_error`: the simulator failed (its database, say). The message names it.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "api_error",
            code: None,
            message: message.into(),
            param: None,
            executing: true,
            payment_intent: None,
        }
    }

    /// Mark as raised during execution: saved under the idempotency key.
    pub fn executing(mut self) -> ApiError {
        self.executing = true;
        self
    }

    /// With another status.
    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        let mut err = json!({"type": self.kind, "message": self.message});
        if let Some(code) = self.code {
            err["code"] = json!(code);
        }
        if let Some(param) = &self.param {
            err["param"] = json!(param);
        }
        if let Some(pi) = &self.payment_intent {
            err["payment_intent"] = (**pi).clone();
        }
        json!({ "error": err })
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        match e {
            StorageError::Closed | StorageError::Unavailable(_) => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                ..ApiError::internal(e.to_string())
            },
            StorageError::Failed(_) => ApiError::internal(e.to_string()),
        }
    }
}

/// Seconds a `503` asks the client to wait before it tries again: the work was not done,
/// and the database (or the node) may be back by then.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// `Retry-After` on a `503`, nothing on other statuses.
fn with_retry_after(status: StatusCode, mut response: Response) -> Response {
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(RETRY_AFTER_SECONDS),
        );
    }
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        with_retry_after(status, (status, axum::Json(self.body())).into_response())
    }
}

/// An error answer of the terminal API.
#[derive(Debug, Clone, PartialEq)]
pub struct TerminalError {
    /// The HTTP status.
    pub status: StatusCode,
    /// `unauthorized`, `unknown_payment`, `not_payable`, `invalid_request`, `internal`.
    pub code: &'static str,
    /// A sentence for the register's log.
    pub message: String,
    /// For `not_payable`: the payment's state (`succeeded`, `canceled`, `expired`).
    pub payment_status: Option<&'static str>,
}

impl TerminalError {
    /// A 400 `invalid_request`.
    pub fn invalid(message: impl Into<String>) -> TerminalError {
        TerminalError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            message: message.into(),
            payment_status: None,
        }
    }

    /// A 401: the request is not signed by a known terminal.
    pub fn unauthorized(message: impl Into<String>) -> TerminalError {
        TerminalError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: message.into(),
            payment_status: None,
        }
    }
}

impl From<StorageError> for TerminalError {
    fn from(e: StorageError) -> TerminalError {
        let (status, code) = match e {
            StorageError::Closed | StorageError::Unavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            StorageError::Failed(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        TerminalError {
            status,
            code,
            message: e.to_string(),
            payment_status: None,
        }
    }
}

impl IntoResponse for TerminalError {
    fn into_response(self) -> Response {
        let body = konbini_protocol::ErrorAnswer {
            error: konbini_protocol::ErrorBody {
                code: self.code.to_owned(),
                message: self.message,
                status: self.payment_status.map(str::to_owned),
            },
        };
        with_retry_after(self.status, (self.status, axum::Json(body)).into_response())
    }
}
