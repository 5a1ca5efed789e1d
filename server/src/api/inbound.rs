//! Mail piped in by a mail server: one raw RFC 5322 message per request, with a token of the `mailer` role.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::StatusCode;

use super::AppState;
use super::auth::Tech;
use super::error::{ApiError, Authenticated, Forbidden, Refused};
use crate::service::mail::{self, Receipt};

/// The largest message taken: the parser's own limit, which a 30 MiB attachment in base64 fits under.
pub const MAX_MAIL_BODY: usize = lifeline_shared::mail::MAX_MESSAGE;

/// Takes one message: it threads into its ticket or opens one, or is recorded and left alone (an automatic reply,
/// our own mail, a sender over the hourly limit). 202 with what became of it; 422 for a message that is not mail.
#[utoipa::path(
    post,
    path = "/api/inbound/email",
    tag = "mail",
    operation_id = "deliver_mail",
    request_body(content = String, content_type = "message/rfc822", description = "The raw message"),
    responses(
        (status = 202, description = "What became of the message", body = Receipt),
        Authenticated,
        Forbidden,
        Refused,
    )
)]
pub async fn email(
    AxumState(state): AxumState<AppState>,
    Tech(user): Tech,
    body: Bytes,
) -> Result<(StatusCode, Json<Receipt>), ApiError> {
    let (receipt, effects) = mail::deliver(&state.store, &state.config.desk, &user, body.to_vec()).await?;
    effects.carry_out(&state).await;
    Ok((StatusCode::ACCEPTED, Json(receipt)))
}
