//! The one place an error becomes an HTTP answer: 4xx for the caller's faults (429 with `Retry-After` for one who
//! must wait), 503 with `Retry-After` for a passing fault of ours, 500 for the rest; always a JSON body
//! `{"error": "..."}`.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tracing::{error, warn};

use crate::desk::access::Denied;
use crate::service;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// Seconds to tell the client to wait before trying again, if it should.
    retry_after: Option<u64>,
    /// Events the caller missed, on a 409 for a ticket that moved on: what to read before trying again.
    missed: Option<Vec<super::views::EventView>>,
}

/// What a client is asked to wait before it tries again after a 503: long enough for an admin to free space or a
/// busy writer to let go, short enough that a script's retry loop notices recovery soon.
pub const RETRY_AFTER_SECS: u64 = 5;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        let retry_after = (status == StatusCode::SERVICE_UNAVAILABLE).then_some(RETRY_AFTER_SECS);
        ApiError { status, message: message.into(), retry_after, missed: None }
    }

    /// 429: the caller must wait `secs` before trying again.
    pub fn too_many_requests(secs: u64, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: message.into(),
            retry_after: Some(secs),
            missed: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.missed {
            Some(missed) => Json(json!({ "error": self.message, "missed": missed })),
            None => Json(json!({ "error": self.message })),
        };
        match self.retry_after {
            Some(secs) => (self.status, [(header::RETRY_AFTER, secs.to_string())], body).into_response(),
            None => (self.status, body).into_response(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        let status = match &e {
            StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            StoreError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            StoreError::Conflict(_) => StatusCode::CONFLICT,
            // Logged by the store once per burst.
            StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            StoreError::Internal(_) | StoreError::Corrupt(_) => {
                error!(error = %e, "store error behind an API request");
                return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server error; see the server log");
            }
        };
        ApiError::new(status, e.to_string())
    }
}

impl From<Denied> for ApiError {
    fn from(e: Denied) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, e.0)
    }
}

impl From<service::Error> for ApiError {
    fn from(e: service::Error) -> ApiError {
        match e {
            service::Error::Denied(e) => e.into(),
            service::Error::Store(e) => e.into(),
            service::Error::Missed(missed) => {
                let message = service::Error::Missed(Vec::new()).to_string();
                let mut e = ApiError::new(StatusCode::CONFLICT, message);
                e.missed = Some(missed.into_iter().map(super::views::EventView::from).collect());
                e
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> ApiError {
        warn!(error = %e.body_text(), "rejected API request body");
        // axum's own status says which fault it was: 400 bad JSON, 413 too large, 415 not declared as JSON.
        ApiError::new(e.status(), format!("request body: {}", e.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> ApiError {
        ApiError::bad_request(format!("query: {}", e.body_text()))
    }
}
