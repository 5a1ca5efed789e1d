//! The one place an error becomes an HTTP answer: 4xx for the caller's faults (429 with `Retry-After` for one who
//! must wait), 503 with `Retry-After` for a passing fault of ours, 500 for the rest; always a JSON body
//! `{"error": "..."}`.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tracing::{error, warn};
use utoipa::{IntoResponses, ToSchema};

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

    /// The parts, for the console, which shows the same fault as a page.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    /// On a 409 for a ticket that moved on: what the caller missed.
    pub fn missed(&self) -> Option<&[super::views::EventView]> {
        self.missed.as_deref()
    }
}

/// The body of every error answer; one type, so the description cannot say otherwise.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in a sentence for a person.
    pub error: String,
    /// On a 409 for a ticket that moved on: the events the caller missed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missed: Option<Vec<super::views::EventView>>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(ErrorBody { error: self.message, missed: self.missed });
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
                let message = service::Error::Missed(missed.clone()).to_string();
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

// The error answers as the API's description lists them: groups that many routes share. A route's own tuples come
// after these in its `responses(...)` and so replace a group's wording for the same status where the route says more.

/// What every route behind a bearer token may answer besides its own: a missing or unknown token, and the faults of
/// the server itself (the token is looked up in the store).
#[derive(IntoResponses)]
pub enum Authenticated {
    /// No bearer token, or one the server does not know (or no longer: tokens end).
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// A fault of the server's; its log says more.
    #[response(status = 500)]
    Internal(ErrorBody),
    /// A passing fault of the server's (its store is full or busy): try again after `Retry-After` seconds.
    #[response(status = 503, headers(("Retry-After" = u64, description = "Seconds to wait before trying again")))]
    Unavailable(ErrorBody),
}

/// A parameter in the path or the query that the route cannot take.
#[derive(IntoResponses)]
#[response(status = 400)]
pub struct BadRequest(pub ErrorBody);

/// What a route that reads a JSON body may answer for the body itself.
#[derive(IntoResponses)]
pub enum JsonBody {
    /// Not JSON, or a value the route refuses before reading on.
    #[response(status = 400)]
    Malformed(ErrorBody),
    /// Larger than the route takes.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// Not sent as `application/json`.
    #[response(status = 415)]
    NotJson(ErrorBody),
    /// JSON, but not of the route's schema (a field missing, unknown or of the wrong type), or refused by a rule.
    #[response(status = 422)]
    Unprocessable(ErrorBody),
}

/// The caller's role may not do this.
#[derive(IntoResponses)]
#[response(status = 403)]
pub struct Forbidden(pub ErrorBody);

/// What the path names does not exist.
#[derive(IntoResponses)]
#[response(status = 404)]
pub struct NotFound(pub ErrorBody);

/// The request is refused by a rule of the help desk: the message says which.
#[derive(IntoResponses)]
#[response(status = 422)]
pub struct Refused(pub ErrorBody);
